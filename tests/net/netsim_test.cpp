// tests/net/netsim_test.cpp: strata-netsim end to end: a real netchannel server and client on
// loopback talk through the relay process (10 ms +- 5 ms, 10 % loss, 10 % duplicates); every
// reliable message arrives once and in order. The relay is started and stopped by this test (its
// pid only). Bounded by a wall-clock guard; asserts no timing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>  // before Asio (Boost 1.74 + GCC 12 + C++20)

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>

#include "net/client.h"
#include "net/server.h"
#include "net/transport.h"
#include "tests/net/connection_harness.h"

namespace strata::net {
namespace {

using test::message_bytes;

uint16_t free_udp_port(boost::asio::io_context& io) {
  std::string error;
  auto probe = UdpSocket::open(io, default_udp_config(), error);
  return probe ? probe->local_address().port : 0;
}

TEST(net_netsim, relay_carries_a_connection_through_a_bad_link) {
#ifndef STRATA_NETSIM_PATH
  GTEST_SKIP() << "strata-netsim not built";
#else
  boost::asio::io_context io;
  std::string error;
  auto server_socket = UdpSocket::open(io, default_udp_config(), error);
  ASSERT_TRUE(server_socket) << error;
  auto client_socket = UdpSocket::open(io, default_udp_config(), error);
  ASSERT_TRUE(client_socket) << error;
  const uint16_t relay_port = free_udp_port(io);
  ASSERT_NE(relay_port, 0);
  const std::string listen = "127.0.0.1:" + std::to_string(relay_port);
  const std::string server = "127.0.0.1:" + std::to_string(server_socket->local_address().port);
  const pid_t relay = fork();
  ASSERT_GE(relay, 0);
  if (relay == 0) {
    execl(STRATA_NETSIM_PATH, STRATA_NETSIM_PATH, "--listen", listen.c_str(), "--server", server.c_str(),
          "--latency-ms", "10", "--jitter-ms", "5", "--loss", "0.1", "--duplicate", "0.1", "--seed", "7",
          "--duration-s", "60", static_cast<char*>(nullptr));
    _exit(127);
  }
  const Address relay_address = make_ipv4(127, 0, 0, 1, relay_port);
  const Key key = random_key();
  ServerConfig sc = default_server_config();
  sc.protocol_id = 77;
  sc.public_address = relay_address;  // clients reach the server through the relay
  sc.private_key = key;
  Server endpoint(sc, os_random());
  ConnectTokenParams params;
  params.protocol_id = 77;
  params.client_id = ClientId{5};
  params.server_addresses = {relay_address};
  ClientConfig cc = default_client_config();
  cc.handshake_timeout_us = 10'000'000;  // the relay may still be starting
  Client client(cc);
  ASSERT_TRUE(
      client.connect(*mint_connect_token(params, key, system_now_us() / 1'000'000, os_random()), system_now_us()));
  constexpr uint32_t count = 500;
  uint32_t up_sent = 0, up_received = 0, down_sent = 0, down_received = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < end && (up_received < count || down_received < count)) {
    const uint64_t now = system_now_us();
    server_socket->wait_readable(1000);
    server_socket->receive([&](const Address& from, std::span<const uint8_t> d) {
      endpoint.receive(TransportKind::datagram, from, d, now, *server_socket);
    });
    client_socket->receive([&](const Address& from, std::span<const uint8_t> d) { client.receive(from, d, now); });
    endpoint.update(now);
    client.update(now);
    if (client.state() == ClientState::connected) {
      while (up_sent < count && client.send(Channel::reliable_ordered, message_bytes(up_sent, 100)) == SendResult::ok) {
        ++up_sent;
      }
      while (down_sent < count &&
             endpoint.send(ClientId{5}, Channel::reliable_ordered, message_bytes(down_sent, 100)) == SendResult::ok) {
        ++down_sent;
      }
      Message m;
      while (endpoint.pop_message(ClientId{5}, m)) {
        ASSERT_EQ(m.data, message_bytes(up_received, 100));
        ++up_received;
      }
      while (client.pop_message(m)) {
        ASSERT_EQ(m.data, message_bytes(down_received, 100));
        ++down_received;
      }
    } else {
      ASSERT_NE(client.state(), ClientState::failed);
    }
    endpoint.send_packets(now, *server_socket);
    client.send_packets(now, *client_socket);
    server_socket->flush();
    client_socket->flush();
  }
  kill(relay, SIGTERM);
  int status = 0;
  waitpid(relay, &status, 0);
  EXPECT_EQ(up_received, count);
  EXPECT_EQ(down_received, count);
  EXPECT_GT(endpoint.total_drops()[DropReason::replay], 0u);  // the relay's duplicates, caught
  EXPECT_TRUE(WIFEXITED(status));
#endif
}

}  // namespace
}  // namespace strata::net
