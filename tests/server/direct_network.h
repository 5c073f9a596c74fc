// tests/server/direct_network.h — what the runtime tests share: a temp folder removed on both
// ends, and a network without loss or delay between one client address and the node.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "net/address.h"
#include "server/runtime.h"

namespace strata::server::test {

inline net::Address server_address() { return net::make_ipv4(10, 1, 1, 1, 40000); }
inline net::Address client_address() { return net::make_ipv4(10, 0, 0, 1, 5000); }

// <tmp>/strata-<suite>-<pid>-<name>, empty at the start, removed at the end.
struct TempDir {
  std::filesystem::path path;
  TempDir(const std::string& suite, const std::string& name)
      : path(std::filesystem::temp_directory_path() /
             ("strata-" + suite + "-" + std::to_string(::getpid()) + "-" + name)) {
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// What the node sends waits in `to_client`, what the client sends in `to_node` until the
// runtime's next receive.
struct DirectNetwork final : NetworkPort {
  struct Queue final : net::DatagramSink {
    std::vector<std::pair<net::Address, std::vector<uint8_t>>> datagrams;
    net::Address from;
    void send_datagram(net::TransportKind, const net::Address&, std::span<const uint8_t> data) override {
      datagrams.emplace_back(from, std::vector<uint8_t>(data.begin(), data.end()));
    }
  };
  Queue to_node, to_client;
  size_t receives = 0, sends = 0;
  DirectNetwork() {
    to_node.from = client_address();
    to_client.from = server_address();
  }
  void receive(RegionalNode& node, uint64_t now_us) override {
    ++receives;
    auto datagrams = std::move(to_node.datagrams);
    to_node.datagrams.clear();
    for (const auto& [from, data] : datagrams)
      node.receive(net::TransportKind::datagram, from, data, now_us, to_client);
  }
  net::DatagramSink& sink() override { return to_client; }
  void send(RegionalNode&, uint64_t) override { ++sends; }
};

}  // namespace strata::server::test
