// tests/net/tcp_edge_test.cpp: the TCP transport on real loopback sockets against peers that
// misbehave (issue 13): a client that stops reading while the server writes to it (its stream is
// closed from inside the server's send path: nothing may be freed under the server's feet).
// Bounded by a wall-clock guard; nothing asserts timing.
#include <gtest/gtest.h>

#include <utility>  // before Asio (Boost 1.74 + GCC 12 + C++20)

#include <sys/resource.h>
#include <unistd.h>
#include <boost/asio.hpp>

#include <chrono>
#include <cstdio>

#include "net/client.h"
#include "net/server.h"
#include "net/transport.h"
#include "tests/net/loopback_harness.h"

namespace strata::net {
namespace {

constexpr uint64_t protocol_id = test::loopback_protocol_id;
using test::Deadline;
using test::mint;

// A server endpoint behind a TcpServer on 127.0.0.1 (the token names the listener's address).
struct TcpServerWorld {
  boost::asio::io_context io;
  Key key = random_key();
  std::unique_ptr<Server> server;
  std::unique_ptr<TcpServer> listener;
  Address address;
  uint64_t now = 0;

  // The handshake deadline asks the endpoint which streams carry a connected client.
  void open(TcpConfig tcp_config = default_tcp_config()) {
    std::string error;
    tcp_config.authenticated = [this](const Address& peer) {
      return server && server->connected_at(TransportKind::stream, peer);
    };
    listener = TcpServer::open(
        io, tcp_config,
        [this](const Address& from, std::span<const uint8_t> frame) {
          server->receive(TransportKind::stream, from, frame, now, *listener);
        },
        [this](const Address& peer) { server->transport_closed(TransportKind::stream, peer); }, error);
    ASSERT_TRUE(listener) << error;
    address = listener->local_address();
    ServerConfig config = default_server_config();
    config.protocol_id = protocol_id;
    config.public_address = address;
    config.private_key = key;
    server = std::make_unique<Server>(config, os_random());
  }
  void turn() {
    now = system_now_us();
    io.poll();
    server->update(now);
    server->send_packets(now, *listener);
    io.poll();
  }
};

// A netchannel client over its own TcpClient and io_context (so the test can stop reading it).
struct StreamPeer {
  boost::asio::io_context io;
  Client client;
  TcpClient stream;
  StreamPeer()
      : client([] {
          ClientConfig c = default_client_config();
          c.transport = TransportKind::stream;
          return c;
        }()),
        stream(
            io,
            [this](const Address& from, std::span<const uint8_t> frame) {
              client.receive(from, frame, system_now_us());
            },
            [] {}) {}
  void turn() {
    const uint64_t now = system_now_us();
    io.poll();
    client.update(now);
    client.send_packets(now, stream);
    io.poll();
  }
};

TEST(net_tcp_edge, client_that_stops_reading_is_dropped_without_use_after_free) {
  TcpServerWorld w;
  ASSERT_NO_FATAL_FAILURE(w.open());
  StreamPeer peer;
  peer.stream.connect(w.address);
  ASSERT_TRUE(peer.client.connect_stream(mint(w.key, w.address, ClientId{5}), w.address, system_now_us()));
  Deadline deadline;
  while (!deadline.passed() && (peer.client.state() != ClientState::connected || w.server->connected_count() == 0)) {
    w.turn();
    peer.turn();
  }
  ASSERT_EQ(w.server->connected_count(), 1u);
  ServerEvent event;
  while (w.server->pop_event(event)) {
  }
  // The peer stops reading (its io_context no longer runs): the kernel buffers fill, then the
  // stream's send queue passes its bound inside send_packets.
  const std::vector<uint8_t> chunk(1000, 0x5a);
  bool dropped = false;
  while (!deadline.passed() && !dropped) {
    for (int i = 0; i < 256; ++i) (void)w.server->send(ClientId{5}, Channel::unreliable_sequenced, chunk);
    w.turn();
    while (w.server->pop_event(event)) {
      if (event.kind == ServerEvent::Kind::disconnected) {
        dropped = true;
        EXPECT_EQ(event.reason, DisconnectReason::transport_error);
      }
    }
  }
  EXPECT_TRUE(dropped);
  EXPECT_EQ(w.server->connected_count(), 0u);
  EXPECT_GE(w.listener->stats().send_dropped, 1u);
  for (int i = 0; i < 10; ++i) w.turn();
  EXPECT_EQ(w.listener->stream_count(), 0u);
}

using boost::asio::ip::tcp;

// A raw TCP connection from `local_ip` (any 127.x.y.z works on loopback) that never speaks.
std::unique_ptr<tcp::socket> idle_connection(boost::asio::io_context& io, const Address& server,
                                             const char* local_ip = "127.0.0.1") {
  auto socket = std::make_unique<tcp::socket>(io);
  boost::system::error_code ec;
  socket->open(tcp::v4(), ec);
  if (!ec) socket->bind(tcp::endpoint(boost::asio::ip::make_address(local_ip), 0), ec);
  if (!ec) socket->connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), server.port), ec);
  if (ec) return nullptr;
  return socket;
}

// Runs the server side until `done` or the deadline.
template <typename Done>
void run_until(TcpServerWorld& w, const Deadline& deadline, Done done) {
  while (!deadline.passed() && !done()) {
    w.now = system_now_us();  // frames read by run_for are stamped with it
    w.io.run_for(std::chrono::milliseconds(2));
    w.turn();
  }
}

TEST(net_tcp_edge, streams_without_a_handshake_are_closed_after_the_deadline) {
  TcpServerWorld w;
  TcpConfig config = default_tcp_config();
  config.handshake_timeout_us = 200'000;
  ASSERT_NO_FATAL_FAILURE(w.open(config));
  auto idle = idle_connection(w.io, w.address);
  ASSERT_TRUE(idle);
  StreamPeer peer;
  peer.stream.connect(w.address);
  ASSERT_TRUE(peer.client.connect_stream(mint(w.key, w.address, ClientId{5}), w.address, system_now_us()));
  Deadline deadline;
  run_until(w, deadline, [&] {
    peer.turn();
    return w.listener->stats().closed(StreamClose::handshake_timeout) > 0;
  });
  EXPECT_EQ(w.listener->stats().closed(StreamClose::handshake_timeout), 1u);
  ASSERT_EQ(peer.client.state(), ClientState::connected);
  // The connected client's stream outlives the deadline many times over.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(800);
  while (std::chrono::steady_clock::now() < until) {
    w.now = system_now_us();
    w.io.run_for(std::chrono::milliseconds(2));
    w.turn();
    peer.turn();
  }
  EXPECT_EQ(w.listener->stats().closed(StreamClose::handshake_timeout), 1u);
  EXPECT_EQ(w.listener->stream_count(), 1u);
  EXPECT_EQ(peer.client.state(), ClientState::connected);
  EXPECT_EQ(w.server->connected_count(), 1u);
}

TEST(net_tcp_edge, one_address_holds_at_most_its_pending_streams) {
  TcpServerWorld w;
  TcpConfig config = default_tcp_config();
  config.pending_streams_per_address_max = 4;
  ASSERT_NO_FATAL_FAILURE(w.open(config));
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < 10; ++i) {
    idle.push_back(idle_connection(w.io, w.address, "127.0.0.7"));
    ASSERT_TRUE(idle.back());
  }
  Deadline deadline;
  run_until(w, deadline,
            [&] { return w.listener->stats().streams_accepted + w.listener->stats().streams_refused >= 10; });
  EXPECT_EQ(w.listener->stats().streams_accepted, 4u);
  EXPECT_EQ(w.listener->stats().refused(StreamRefusal::address_pending_max), 6u);
  EXPECT_EQ(w.listener->streams_from(make_ipv4(127, 0, 0, 7, 0)), 4u);
  // Another host is not affected, and its client connects.
  StreamPeer peer;
  peer.stream.connect(w.address, make_ipv4(127, 0, 0, 8, 0));
  ASSERT_TRUE(peer.client.connect_stream(mint(w.key, w.address, ClientId{6}), w.address, system_now_us()));
  run_until(w, deadline, [&] {
    peer.turn();
    return peer.client.state() == ClientState::connected;
  });
  EXPECT_EQ(peer.client.state(), ClientState::connected);
  EXPECT_EQ(w.listener->streams_from(make_ipv4(127, 0, 0, 8, 0)), 1u);
}

TEST(net_tcp_edge, thousands_of_idle_connections_from_one_host_do_not_disturb_a_player) {
  size_t before = 0;
  const size_t limit = raise_open_file_limit(before);
  const size_t idle_count = std::min<size_t>(2000, limit > 300 ? limit - 200 : 0);
  ASSERT_GE(idle_count, 500u) << "descriptor limit " << limit;
  TcpServerWorld w;
  ASSERT_NO_FATAL_FAILURE(w.open());
  StreamPeer peer;
  peer.stream.connect(w.address);
  ASSERT_TRUE(peer.client.connect_stream(mint(w.key, w.address, ClientId{7}), w.address, system_now_us()));
  Deadline deadline(30);
  run_until(w, deadline, [&] {
    peer.turn();
    return peer.client.state() == ClientState::connected;
  });
  ASSERT_EQ(peer.client.state(), ClientState::connected);
  // The attack: idle connections from one host, opened while the player exchanges messages.
  std::vector<std::unique_ptr<tcp::socket>> idle;
  uint32_t up = 0, down = 0, up_received = 0, down_received = 0;
  Message m;
  auto next_send = std::chrono::steady_clock::now();
  const auto exchange = [&] {
    while (w.server->pop_message(ClientId{7}, m)) ++up_received;
    while (peer.client.pop_message(m)) ++down_received;
    if (std::chrono::steady_clock::now() < next_send) return;  // a 20 Hz game client
    next_send += std::chrono::milliseconds(50);
    if (peer.client.send(Channel::reliable_ordered, std::vector<uint8_t>(32, 1)) == SendResult::ok) ++up;
    if (w.server->send(ClientId{7}, Channel::reliable_ordered, std::vector<uint8_t>(32, 2)) == SendResult::ok) ++down;
  };
  while (idle.size() < idle_count && !deadline.passed()) {
    for (int i = 0; i < 50 && idle.size() < idle_count; ++i) {
      auto socket = idle_connection(peer.io, w.address, "127.0.0.9");
      if (socket) idle.push_back(std::move(socket));
    }
    w.now = system_now_us();
    w.io.run_for(std::chrono::milliseconds(1));
    w.turn();
    peer.turn();
    exchange();
  }
  ASSERT_EQ(idle.size(), idle_count);
  run_until(w, deadline, [&] {
    peer.turn();
    exchange();
    // Twenty more messages each way while the attack's connections are held.
    return w.listener->stats().streams_accepted + w.listener->stats().streams_refused >= idle_count + 1 && up >= 20 &&
           up_received == up && down_received == down;
  });
  const TransportStats& stats = w.listener->stats();
  EXPECT_EQ(stats.streams_accepted, 1u + tcp_pending_streams_per_address_default);
  EXPECT_EQ(stats.refused(StreamRefusal::address_pending_max), idle_count - tcp_pending_streams_per_address_default);
  EXPECT_EQ(peer.client.state(), ClientState::connected);
  EXPECT_EQ(w.server->connected_count(), 1u);
  EXPECT_EQ(up_received, up);
  EXPECT_EQ(down_received, down);
  EXPECT_GE(up, 20u);
  std::printf("idle connections: %zu opened, %llu refused, %llu accepted; player exchanged %u/%u messages\n",
              idle.size(), static_cast<unsigned long long>(stats.streams_refused),
              static_cast<unsigned long long>(stats.streams_accepted), up, down);
}

TEST(net_tcp_edge, connections_near_the_descriptor_limit_are_refused_keeping_the_reserve) {
  const int probe = ::dup(0);
  ASSERT_GE(probe, 0);
  ::close(probe);
  TcpServerWorld w;
  TcpConfig config = default_tcp_config();
  config.descriptor_reserve = 16;
  // The listener itself and the client sockets below also take descriptors: a limit ~16 above the
  // reserve lets a few streams in, then refuses.
  config.descriptor_limit = static_cast<size_t>(probe) + config.descriptor_reserve + 16;
  ASSERT_NO_FATAL_FAILURE(w.open(config));
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < 20; ++i) {
    idle.push_back(idle_connection(w.io, w.address, "127.0.0.11"));
    ASSERT_TRUE(idle.back());
    w.io.run_for(std::chrono::milliseconds(1));
  }
  Deadline deadline;
  run_until(w, deadline,
            [&] { return w.listener->stats().streams_accepted + w.listener->stats().streams_refused >= 20; });
  const TransportStats& stats = w.listener->stats();
  EXPECT_GE(stats.streams_accepted, 1u);
  EXPECT_GE(stats.refused(StreamRefusal::descriptors), 1u);
  EXPECT_EQ(stats.streams_accepted + stats.refused(StreamRefusal::descriptors), 20u);
  EXPECT_EQ(w.listener->stream_count(), stats.streams_accepted);
}

TEST(net_tcp_edge, accept_out_of_descriptors_backs_off_instead_of_spinning) {
  TcpServerWorld w;
  ASSERT_NO_FATAL_FAILURE(w.open());
  // The clients' sockets use up the process's descriptors, so accept(2) fails with EMFILE.
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  std::vector<std::unique_ptr<tcp::socket>> clients;
  const int probe = ::dup(0);
  ::close(probe);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(probe + 8);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  for (int i = 0; i < 8; ++i) {
    auto socket = idle_connection(w.io, w.address, "127.0.0.13");
    if (!socket) break;
    clients.push_back(std::move(socket));
  }
  // Whatever the server accepted took descriptors too; at least one connection waits in the backlog.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < until) w.io.run_for(std::chrono::milliseconds(5));
  const TransportStats stats = w.listener->stats();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_GE(stats.accept_backoffs, 1u);
  EXPECT_LT(stats.accept_errors, 50u);  // a spinning acceptor fails thousands of times in 0.5 s
  std::printf("accept: %llu errors, %llu backoffs, %llu accepted in 0.5 s out of descriptors\n",
              static_cast<unsigned long long>(stats.accept_errors),
              static_cast<unsigned long long>(stats.accept_backoffs),
              static_cast<unsigned long long>(stats.streams_accepted));
  // With descriptors back, accepting resumes.
  Deadline deadline;
  const uint64_t accepted = stats.streams_accepted;
  run_until(w, deadline, [&] { return w.listener->stats().streams_accepted > accepted; });
  EXPECT_GT(w.listener->stats().streams_accepted, accepted);
}

TEST(net_tcp_edge, a_stream_client_over_its_packet_budget_is_disconnected_not_dropped_from) {
  TcpServerWorld w;
  ASSERT_NO_FATAL_FAILURE(w.open());
  StreamPeer peer;
  peer.stream.connect(w.address);
  ASSERT_TRUE(peer.client.connect_stream(mint(w.key, w.address, ClientId{8}), w.address, system_now_us()));
  Deadline deadline;
  run_until(w, deadline, [&] {
    peer.turn();
    return peer.client.state() == ClientState::connected;
  });
  ASSERT_EQ(peer.client.state(), ClientState::connected);
  // A packet per message, as fast as the loop turns: far over 150 a second (and the 600 burst).
  run_until(w, deadline, [&] {
    (void)peer.client.send(Channel::reliable_ordered, std::vector<uint8_t>(16, 1));
    peer.turn();
    Message m;
    while (w.server->pop_message(ClientId{8}, m)) {
    }
    return peer.client.state() != ClientState::connected;
  });
  EXPECT_EQ(peer.client.state(), ClientState::disconnected);
  EXPECT_EQ(peer.client.disconnect_reason(), DisconnectReason::rate_limited);
  EXPECT_GE(w.server->total_drops()[DropReason::packet_rate_limit], 1u);
  EXPECT_EQ(w.server->connected_count(), 0u);
}

TEST(net_tcp_edge, accepting_is_paced_so_a_connect_flood_cannot_fill_a_turn) {
  TcpServerWorld w;
  TcpConfig config = default_tcp_config();
  config.accepts_per_window = 8;
  config.accept_window_us = 100'000;  // long enough that one poll never spans two windows
  ASSERT_NO_FATAL_FAILURE(w.open(config));
  std::vector<std::unique_ptr<tcp::socket>> flood;
  for (int i = 0; i < 100; ++i) {
    flood.push_back(idle_connection(w.io, w.address, "127.0.0.15"));
    ASSERT_TRUE(flood.back());
  }
  // One poll takes at most one window's share, whatever waits in the backlog.
  w.io.poll();
  EXPECT_LE(w.listener->stats().streams_accepted + w.listener->stats().streams_refused, 8u);
  Deadline deadline;
  run_until(w, deadline,
            [&] { return w.listener->stats().streams_accepted + w.listener->stats().streams_refused >= 100; });
  const TransportStats& stats = w.listener->stats();
  EXPECT_EQ(stats.streams_accepted + stats.streams_refused, 100u);
  EXPECT_GE(stats.accept_paced, 100u / 8 - 1);
}

}  // namespace
}  // namespace strata::net
