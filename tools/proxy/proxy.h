// tools/proxy/proxy.h — a TCP proxy a test can cut and heal: the partition between one region and
// nats-server, controlled from outside the process (tools/proxy/main.cpp maps SIGUSR1 to cut and
// SIGUSR2 to heal). While cut it closes every connection it carries and every new one at once, so
// the client sees the server go away and keeps reconnecting; healed, it carries new connections
// again. Bytes are copied as they come (no reordering, no buffering beyond one read per direction).
// One Asio io_context on the caller's thread; everything here runs on it.
//
// Invariants: a pipe is in `pipes_` from its accept until both its sockets are closed; while cut,
// `pipes_` is empty after every handler returns; at most limits::pipes_max pipes at once (more are
// refused and counted: a runaway client cannot exhaust the proxy's descriptors).
#pragma once

#include <utility>  // before Asio (Boost 1.74 + C++20 + GCC 12)

#include <boost/asio.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>

namespace strata::proxy {

namespace limits {
// Connections carried at once; a NATS client holds one, a cluster of regions a handful.
inline constexpr size_t pipes_max = 1024;
// One read per direction in flight, of at most this many bytes (NATS frames are up to 1 MiB, but
// a copy loop needs no more than a socket buffer's worth at a time).
inline constexpr size_t chunk_bytes = 64 * 1024;
static_assert(chunk_bytes >= 4096, "a chunk smaller than a page makes the copy loop syscall-bound");
static_assert(pipes_max * 2 + 16 < 65536, "two descriptors per pipe must fit a raised RLIMIT_NOFILE");
}  // namespace limits

// Why a connection ended or was refused, and what went through: printed by main() on every cut,
// heal and at exit.
struct Counters {
  uint64_t accepted = 0;
  uint64_t refused_cut = 0;        // accepted while cut: closed at once
  uint64_t refused_full = 0;       // limits::pipes_max reached
  uint64_t upstream_failed = 0;    // the upstream refused or could not be reached
  uint64_t closed_by_cut = 0;      // carried when a cut came
  uint64_t closed_by_peer = 0;     // either side closed or failed
  uint64_t bytes_to_upstream = 0;  // client -> upstream
  uint64_t bytes_to_client = 0;    // upstream -> client
};

class TcpProxy {
 public:
  TcpProxy(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& listen,
           const boost::asio::ip::tcp::endpoint& upstream);
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  [[nodiscard]] uint16_t port() const { return acceptor_.local_endpoint().port(); }
  [[nodiscard]] bool is_cut() const { return cut_; }
  [[nodiscard]] size_t pipes() const { return pipes_.size(); }
  [[nodiscard]] const Counters& counters() const { return counters_; }

  void cut();    // closes every pipe; refuses new connections until heal()
  void heal();   // carries new connections again
  void close();  // stops accepting and closes every pipe (the end of the process)

 private:
  struct Pipe;
  void accept_next();
  void on_accept(boost::asio::ip::tcp::socket client);
  void pump(const std::shared_ptr<Pipe>& pipe, bool to_upstream);
  void end(const std::shared_ptr<Pipe>& pipe, bool by_cut);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::endpoint upstream_;
  std::set<std::shared_ptr<Pipe>> pipes_;
  Counters counters_;
  bool cut_ = false;
  bool closed_ = false;
};

}  // namespace strata::proxy
