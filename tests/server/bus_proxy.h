// tests/server/bus_proxy.h — a loopback TCP proxy the bus tests put between a client and
// nats-server, to cut the connection and heal it on command (a partition the test controls,
// without restarting the shared server). While cut, it closes every connection it carries and
// every new one at once, so the client sees the server go away and keeps reconnecting.
// It can also hold what the server sends (the connections stay up, the bytes wait in the kernel)
// to delay acks past a publish's MaxWait: a lost ack, as far as the client can tell.
// One thread, poll(2), a self-pipe to wake it; blocking only inside that thread.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace strata::server::test {

class TcpProxy {
 public:
  // listen_port 0: any free port (port() says which); else that one (a server that appears
  // where a client has been trying to connect).
  explicit TcpProxy(uint16_t upstream_port, uint16_t listen_port = 0) : upstream_port_(upstream_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int yes = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    sockaddr_in address = loopback(listen_port);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listener_, 16) != 0) {
      throw std::runtime_error("proxy: cannot listen on loopback");
    }
    socklen_t size = sizeof(address);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    if (::pipe(wake_.data()) != 0) throw std::runtime_error("proxy: no pipe");
    thread_ = std::thread([this] { run(); });
  }
  ~TcpProxy() {
    stop_ = true;
    wake();
    thread_.join();
    for (auto& [client, server] : pairs_) close_pair(client, server);
    ::close(listener_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  [[nodiscard]] uint16_t port() const { return port_; }
  void cut() {
    cut_ = true;
    wake();
  }
  void heal() {
    cut_ = false;
    wake();
  }
  void hold_server_bytes(bool hold) {
    hold_ = hold;
    wake();
  }

 private:
  static sockaddr_in loopback(uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
  }
  static void close_pair(int client, int server) {
    ::close(client);
    ::close(server);
  }
  void wake() { (void)!::write(wake_[1], "x", 1); }

  void accept_one() {
    const int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0) return;
    if (cut_) {
      ::close(client);
      return;
    }
    const int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = loopback(upstream_port_);
    if (::connect(server, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close_pair(client, server);
      return;
    }
    pairs_.emplace_back(client, server);
  }

  // Copies what one side has to the other; false when either side is done.
  static bool relay(int from, int to) {
    std::array<char, 65536> buffer{};
    const ssize_t got = ::read(from, buffer.data(), buffer.size());
    if (got <= 0) return false;
    ssize_t sent = 0;
    while (sent < got) {
      const ssize_t n = ::write(to, buffer.data() + sent, static_cast<size_t>(got - sent));
      if (n <= 0) return false;
      sent += n;
    }
    return true;
  }

  void run() {
    while (!stop_) {
      if (cut_) {
        for (auto& [client, server] : pairs_) close_pair(client, server);
        pairs_.clear();
      }
      std::vector<pollfd> fds{{listener_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      for (const auto& [client, server] : pairs_) {
        fds.push_back({client, POLLIN, 0});
        fds.push_back({server, static_cast<short>(hold_ ? 0 : POLLIN), 0});
      }
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      if (fds[1].revents != 0) {
        char drain[64];
        (void)!::read(wake_[0], drain, sizeof(drain));
      }
      if (fds[0].revents != 0) accept_one();
      std::vector<std::pair<int, int>> kept;
      for (size_t i = 0; i < (fds.size() - 2) / 2; ++i) {
        const auto [client, server] = pairs_[i];
        bool alive = true;
        if (fds[2 + 2 * i].revents != 0) alive = relay(client, server);
        if (alive && fds[3 + 2 * i].revents != 0) alive = relay(server, client);
        if (alive) {
          kept.emplace_back(client, server);
        } else {
          close_pair(client, server);
        }
      }
      // accept_one() may have added a pair after the poll set was built: keep it too.
      for (size_t i = (fds.size() - 2) / 2; i < pairs_.size(); ++i) kept.push_back(pairs_[i]);
      pairs_ = std::move(kept);
    }
  }

  uint16_t upstream_port_;
  uint16_t port_ = 0;
  int listener_ = -1;
  std::array<int, 2> wake_{-1, -1};
  std::atomic<bool> cut_{false};
  std::atomic<bool> hold_{false};
  std::atomic<bool> stop_{false};
  std::vector<std::pair<int, int>> pairs_;  // (client, server), touched only by the proxy thread
  std::thread thread_;
};

}  // namespace strata::server::test
