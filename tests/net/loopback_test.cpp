// tests/net/loopback_test.cpp: real sockets on 127.0.0.1: the UDP transport (recvmmsg/sendmmsg)
// and the TCP transport (framed stream) carry a full handshake and messages both ways, and a client
// whose UDP gets no answer falls back to TCP with the same token. Bounded by a wall-clock guard;
// nothing asserts timing.
#include <gtest/gtest.h>

#include <utility>  // before Asio (Boost 1.74 + GCC 12 + C++20)

#include <boost/asio.hpp>
#include <chrono>

#include "net/client.h"
#include "net/server.h"
#include "net/transport.h"
#include "tests/net/connection_harness.h"
#include "tests/net/loopback_harness.h"

namespace strata::net {
namespace {

using test::message_bytes;

constexpr uint64_t protocol_id = test::loopback_protocol_id;
using test::Deadline;
using test::mint;

ServerConfig server_config(const Key& key, const Address& address) {
  ServerConfig config = default_server_config();
  config.protocol_id = protocol_id;
  config.public_address = address;
  config.private_key = key;
  return config;
}

// Sends `count` reliable messages (and one 100 kB message) each way and checks order and content.
struct Exchange {
  uint32_t count = 2000;
  uint32_t up_sent = 0, up_received = 0, down_sent = 0, down_received = 0;
  bool big_up = false, big_down = false;

  void pump(Server& server, ClientId id, Client& client) {
    while (up_sent < count && client.send(Channel::reliable_ordered, message_bytes(up_sent, 64)) == SendResult::ok)
      ++up_sent;
    while (down_sent < count &&
           server.send(id, Channel::reliable_ordered, message_bytes(down_sent, 64)) == SendResult::ok)
      ++down_sent;
    if (up_sent == count && !big_up)
      big_up = client.send(Channel::reliable_ordered, message_bytes(count, 100'000)) == SendResult::ok;
    if (down_sent == count && !big_down)
      big_down = server.send(id, Channel::reliable_ordered, message_bytes(count, 100'000)) == SendResult::ok;
    Message m;
    while (server.pop_message(id, m)) {
      ASSERT_EQ(m.data, message_bytes(up_received, up_received < count ? 64 : 100'000));
      ++up_received;
    }
    while (client.pop_message(m)) {
      ASSERT_EQ(m.data, message_bytes(down_received, down_received < count ? 64 : 100'000));
      ++down_received;
    }
  }
  [[nodiscard]] bool done() const { return up_received == count + 1 && down_received == count + 1; }
};

TEST(net_loopback, udp_handshake_and_messages_both_ways) {
  boost::asio::io_context io;
  std::string error;
  auto server_socket = UdpSocket::open(io, default_udp_config(), error);
  ASSERT_TRUE(server_socket) << error;
  auto client_socket = UdpSocket::open(io, default_udp_config(), error);
  ASSERT_TRUE(client_socket) << error;
  const Key key = random_key();
  const Address server_address = server_socket->local_address();
  Server server(server_config(key, server_address), os_random());
  Client client(default_client_config());
  ASSERT_TRUE(client.connect(mint(key, server_address, ClientId{9}), system_now_us()));
  Exchange exchange;
  Deadline deadline;
  while (!deadline.passed() && !exchange.done()) {
    const uint64_t now = system_now_us();
    server_socket->wait_readable(500);
    server_socket->receive([&](const Address& from, std::span<const uint8_t> d) {
      server.receive(TransportKind::datagram, from, d, now, *server_socket);
    });
    client_socket->receive([&](const Address& from, std::span<const uint8_t> d) { client.receive(from, d, now); });
    server.update(now);
    client.update(now);
    if (client.state() == ClientState::connected) {
      ASSERT_NO_FATAL_FAILURE(exchange.pump(server, ClientId{9}, client));
    }
    server.send_packets(now, *server_socket);
    client.send_packets(now, *client_socket);
    server_socket->flush();
    client_socket->flush();
  }
  EXPECT_TRUE(exchange.done()) << exchange.up_received << " " << exchange.down_received;
  EXPECT_EQ(server.total_drops()[DropReason::bad_mac], 0u);
  EXPECT_GT(server_socket->stats().datagrams_received, 100u);
  EXPECT_GT(server_socket->stats().datagrams_received, server_socket->stats().receive_calls / 64);
  // Garbage from a third socket is dropped; the connection is unaffected.
  auto attacker = UdpSocket::open(io, default_udp_config(), error);
  const std::vector<uint8_t> junk(500, 0x04);
  attacker->send_datagram(TransportKind::datagram, server_address, junk);
  attacker->flush();
  server_socket->wait_readable(100'000);
  server_socket->receive([&](const Address& from, std::span<const uint8_t> d) {
    server.receive(TransportKind::datagram, from, d, system_now_us(), *server_socket);
  });
  EXPECT_EQ(server.endpoint_drops()[DropReason::unknown_connection], 1u);
  EXPECT_EQ(server.connected_count(), 1u);
}

struct TcpWorld {
  boost::asio::io_context io;
  Key key = random_key();
  std::unique_ptr<Server> server;
  std::unique_ptr<TcpServer> listener;
  std::unique_ptr<UdpSocket> udp;  // its address is the token's
  Address address;
  Address tcp_address;  // the listener's: the UDP port, or one of its own (as strata-server has)
  uint64_t now = 0;

  void open(bool tcp_on_own_port = false) {
    std::string error;
    udp = UdpSocket::open(io, default_udp_config(), error);
    ASSERT_TRUE(udp) << error;
    address = udp->local_address();
    listener = TcpServer::open(
        io, tcp_on_own_port ? make_ipv4(127, 0, 0, 1, 0) : address,
        [this](const Address& from, std::span<const uint8_t> frame) {
          server->receive(TransportKind::stream, from, frame, now, *listener);
        },
        [this](const Address& peer) { server->transport_closed(TransportKind::stream, peer); }, error);
    ASSERT_TRUE(listener) << error;
    tcp_address = listener->local_address();
    server = std::make_unique<Server>(server_config(key, address), os_random());
  }

  // Runs the server and a stream client until it is connected or the deadline passes.
  void connect_over(TcpClient& stream, Client& client, const Deadline& deadline) {
    while (!deadline.passed() && client.state() != ClientState::connected) {
      now = system_now_us();
      io.run_for(std::chrono::microseconds(500));
      server->update(now);
      client.update(now);
      server->send_packets(now, *listener);
      client.send_packets(now, stream);
    }
  }
};

TEST(net_loopback, tcp_handshake_and_messages_both_ways) {
  TcpWorld w;
  ASSERT_NO_FATAL_FAILURE(w.open());
  ClientConfig config = default_client_config();
  config.transport = TransportKind::stream;
  Client client(config);
  auto stream = std::make_unique<TcpClient>(
      w.io, [&](const Address& from, std::span<const uint8_t> frame) { client.receive(from, frame, w.now); }, [] {});
  stream->connect(w.tcp_address);
  ASSERT_TRUE(client.connect_stream(mint(w.key, w.address, ClientId{10}), w.tcp_address, system_now_us()));
  Exchange exchange;
  Deadline deadline;
  while (!deadline.passed() && !exchange.done()) {
    w.now = system_now_us();
    w.io.run_for(std::chrono::microseconds(200));
    w.server->update(w.now);
    client.update(w.now);
    if (client.state() == ClientState::connected) {
      ASSERT_NO_FATAL_FAILURE(exchange.pump(*w.server, ClientId{10}, client));
    }
    w.server->send_packets(w.now, *w.listener);
    client.send_packets(w.now, *stream);
  }
  EXPECT_TRUE(exchange.done()) << exchange.up_received << " " << exchange.down_received;
  const ConnectionStats* stats = w.server->client_stats(ClientId{10});
  ASSERT_NE(stats, nullptr);
  EXPECT_EQ(stats->reliable_resends, 0u);  // a stream never loses: nothing is resent
  // Closing the stream ends the connection on the server (at its next update: the transport
  // reports closes from the io_context, and the server removes the client at a safe point).
  stream.reset();
  for (int i = 0; i < 100 && w.server->connected_count() > 0; ++i) {
    w.io.run_for(std::chrono::milliseconds(5));
    w.server->update(system_now_us());
  }
  EXPECT_EQ(w.server->connected_count(), 0u);
}

TEST(net_loopback, tcp_malformed_frame_closes_only_that_stream) {
  TcpWorld w;
  ASSERT_NO_FATAL_FAILURE(w.open());
  bool closed = false;
  TcpClient bad(
      w.io, [](const Address&, std::span<const uint8_t>) {}, [&] { closed = true; });
  bad.connect(w.address);
  const std::vector<uint8_t> garbage(300, 0xee);
  bad.send_datagram(TransportKind::stream, w.address, garbage);  // framed garbage: dropped by the server endpoint
  for (int i = 0; i < 50; ++i) w.io.run_for(std::chrono::milliseconds(2));
  EXPECT_EQ(w.server->endpoint_drops()[DropReason::bad_header], 1u);
  EXPECT_FALSE(closed);
  EXPECT_EQ(w.listener->stream_count(), 1u);
  EXPECT_EQ(w.listener->stats().frames_malformed, 0u);
  // A zero-length frame is malformed: that stream (only) is closed.
  boost::asio::ip::tcp::socket raw(w.io);
  raw.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), w.address.port));
  const uint8_t zero_frame[2] = {0, 0};
  boost::asio::write(raw, boost::asio::buffer(zero_frame));
  for (int i = 0; i < 50 && w.listener->stats().frames_malformed == 0; ++i) w.io.run_for(std::chrono::milliseconds(2));
  EXPECT_EQ(w.listener->stats().frames_malformed, 1u);
  EXPECT_EQ(w.listener->stream_count(), 1u);
  EXPECT_FALSE(closed);
  // So is a length above tcp_frame_body_max: nothing that large is ever buffered.
  boost::asio::ip::tcp::socket raw2(w.io);
  raw2.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), w.address.port));
  const uint8_t huge_frame[2] = {0xff, 0xff};
  boost::asio::write(raw2, boost::asio::buffer(huge_frame));
  for (int i = 0; i < 50 && w.listener->stats().frames_malformed < 2; ++i) w.io.run_for(std::chrono::milliseconds(2));
  EXPECT_EQ(w.listener->stats().frames_malformed, 2u);
  EXPECT_EQ(w.listener->stream_count(), 1u);
  EXPECT_FALSE(closed);
}

TEST(net_loopback, silent_tcp_streams_are_closed) {
  TcpWorld w;
  ASSERT_NO_FATAL_FAILURE(w.open());
  boost::asio::ip::tcp::socket raw(w.io);
  raw.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), w.address.port));
  for (int i = 0; i < 50 && w.listener->stream_count() == 0; ++i) w.io.run_for(std::chrono::milliseconds(2));
  ASSERT_EQ(w.listener->stream_count(), 1u);
  EXPECT_EQ(w.listener->close_silent_streams(), 0u);  // just accepted: spared once
  EXPECT_EQ(w.listener->close_silent_streams(), 1u);  // still nothing received
  EXPECT_EQ(w.listener->stream_count(), 0u);
  EXPECT_EQ(w.listener->stats().streams_silent, 1u);
}

TEST(net_loopback, client_falls_back_from_udp_to_tcp) {
  TcpWorld w;
  ASSERT_NO_FATAL_FAILURE(w.open(true));  // TCP on a port of its own, as strata-server listens
  ASSERT_NE(w.tcp_address, w.address);
  const ConnectToken token = mint(w.key, w.address, ClientId{11});
  // UDP is "blocked": the server never reads its UDP socket.
  std::string error;
  auto client_udp = UdpSocket::open(w.io, default_udp_config(), error);
  ClientConfig udp_config = default_client_config();
  udp_config.handshake_timeout_us = 300'000;
  Client udp_client(udp_config);
  ASSERT_TRUE(udp_client.connect(token, system_now_us()));
  Deadline deadline;
  while (!deadline.passed() && udp_client.state() != ClientState::failed) {
    const uint64_t now = system_now_us();
    udp_client.update(now);
    udp_client.send_packets(now, *client_udp);
    client_udp->flush();
    w.io.run_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(udp_client.failure(), ClientFailure::handshake_timeout);
  EXPECT_FALSE(udp_client.heard_from_server());  // blocked, not busy: fall back
  // Same token over TCP: it was never used (the server never saw the UDP requests).
  ClientConfig tcp_config = default_client_config();
  tcp_config.transport = TransportKind::stream;
  Client client(tcp_config);
  TcpClient stream(
      w.io, [&](const Address& from, std::span<const uint8_t> frame) { client.receive(from, frame, w.now); }, [] {});
  stream.connect(w.tcp_address);
  ASSERT_TRUE(client.connect_stream(token, w.tcp_address, system_now_us()));
  w.connect_over(stream, client, deadline);
  EXPECT_EQ(client.state(), ClientState::connected);
  EXPECT_TRUE(client.heard_from_server());
  EXPECT_EQ(w.server->connected_count(), 1u);
  EXPECT_EQ(client.peer_address(), w.tcp_address);  // where its frames really came from
  EXPECT_EQ(client.server_address(), w.address);    // the token's
  EXPECT_EQ(client.endpoint_drops()[DropReason::unknown_connection], 0u);
}

TEST(net_loopback, stream_client_accepts_frames_only_from_its_stream_peer) {
  TcpWorld w;
  ASSERT_NO_FATAL_FAILURE(w.open(true));
  ClientConfig config = default_client_config();
  config.transport = TransportKind::stream;
  const ConnectToken token = mint(w.key, w.address, ClientId{12});
  // Over a stream the peer must be named: connect() would expect packets from the token's UDP address.
  Client wrong(config);
  EXPECT_FALSE(wrong.connect(token, system_now_us()));
  EXPECT_EQ(wrong.failure(), ClientFailure::wrong_transport);
  Client datagram(default_client_config());
  EXPECT_FALSE(datagram.connect_stream(token, w.tcp_address, system_now_us()));
  EXPECT_EQ(datagram.failure(), ClientFailure::wrong_transport);

  Client client(config);
  std::vector<std::vector<uint8_t>> frames;  // what the server sent, kept to replay them
  TcpClient stream(
      w.io,
      [&](const Address& from, std::span<const uint8_t> frame) {
        EXPECT_EQ(from, w.tcp_address);
        frames.emplace_back(frame.begin(), frame.end());
        client.receive(from, frame, w.now);
      },
      [] {});
  stream.connect(w.tcp_address);
  ASSERT_TRUE(client.connect_stream(token, w.tcp_address, system_now_us()));
  Deadline deadline;
  w.connect_over(stream, client, deadline);
  ASSERT_EQ(client.state(), ClientState::connected);
  ASSERT_FALSE(frames.empty());
  // The same bytes said to come from anywhere else, the token's UDP address included, are dropped.
  client.receive(w.address, frames.back(), w.now);
  EXPECT_EQ(client.endpoint_drops()[DropReason::unknown_connection], 1u);
  EXPECT_EQ(client.state(), ClientState::connected);
}

}  // namespace
}  // namespace strata::net
