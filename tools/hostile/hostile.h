// tools/hostile/hostile.h — strata-hostile: hostile traffic against a Strata server on this machine's
// loopback (issue 13), to check that nothing a peer does can crash, stall, starve or poison the
// region. Every attack is bounded in count and in time (Options::seconds); the program stops by
// itself and prints one JSON line: per attack what it sent and what it saw (refusals, HTTP
// statuses, closes), and the latency of its own /healthz and login probes during the attack.
// Loopback only: a target outside 127.0.0.0/8 and ::1 is refused before anything is sent.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace strata::hostile {

// Upper bounds of the per-attack counts the flags accept (what one run may send at most).
inline constexpr uint32_t datagrams_max = 1'000'000;
inline constexpr uint32_t streams_max = 20'000;
inline constexpr uint32_t logins_max = 100'000;
inline constexpr uint32_t messages_max = 100'000;
inline constexpr uint32_t sessions_max = 64;
inline constexpr double seconds_max = 600;

struct Options {
  std::string host = "127.0.0.1";
  uint16_t udp_port = 0;  // 0: the address in a login's connect token
  uint16_t tcp_port = 0;  // 0: the "tcp_port" of a login reply
  uint16_t http_port = 0;
  double seconds = 30;  // every attack ends by then, whatever it has left to send
  std::vector<std::string> attacks;
  uint32_t garbage = 20'000;            // garbage UDP datagrams
  uint32_t truncated = 5'000;           // truncated handshake and data packets
  uint32_t replayed = 5'000;            // replayed handshake and data packets
  uint32_t datagram_rate = 5'000;       // UDP datagrams per second per attack
  uint32_t idle_streams = 1'100;        // TCP streams opened and held silent
  uint32_t half_open_streams = 200;     // TCP streams holding a partial frame
  uint32_t slow_http = 200;             // HTTP connections sending a header byte every few seconds
  uint32_t logins = 2'000;              // POST /api/login with hostile names and bodies
  uint32_t login_rate = 200;            // per second
  uint32_t oversized = 400;             // oversized and wrong-kind messages from a logged-in client
  uint32_t input_flood = 4'000;         // input batches aimed at one tick
  uint32_t flood_sessions = 4;          // logged-in clients sharing the input flood
  uint32_t stop_reading = 4;            // TCP clients that log in and stop reading
  uint32_t stop_reading_observers = 2;  // ... of which observers (sent the whole world, then every tick)
  double probe_interval_s = 0.5;        // /healthz and login probes
  std::string name_prefix = "hostile";
};

// What every attack knows of the target.
struct Target {
  sockaddr_storage address{};  // host, port 0
  socklen_t address_size = 0;
  int family = AF_INET;
  [[nodiscard]] sockaddr_storage with_port(uint16_t port) const;
};

// Counters of one attack (names are the JSON keys), thread safe.
class Report {
 public:
  void add(const std::string& key, uint64_t n = 1) {
    std::lock_guard lock(mutex_);
    counts_[key] += n;
  }
  [[nodiscard]] std::map<std::string, uint64_t> counts() const {
    std::lock_guard lock(mutex_);
    return counts_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> counts_;
};

// Latencies of the probes (ms), thread safe.
class Latencies {
 public:
  void add(double ms) {
    std::lock_guard lock(mutex_);
    samples_.push_back(ms);
  }
  // {"n":..,"p50":..,"p99":..,"max":..}
  [[nodiscard]] std::string json() const;

 private:
  mutable std::mutex mutex_;
  std::vector<double> samples_;
};

// The run: options, target, its deadline and stop flag.
struct Run {
  Options options;
  Target target;
  uint64_t deadline_us = 0;  // steady clock
  std::atomic<bool> stop{false};
  [[nodiscard]] bool over() const;
};

[[nodiscard]] uint64_t steady_now_us();
// Whether `host` is a loopback address (127.0.0.0/8 or ::1); fills `target`.
[[nodiscard]] bool resolve_loopback(const std::string& host, Target& target, std::string& error);

// The attacks; each runs until its count is spent or the run is over.
using Attack = void (*)(Run& run, Report& report);
struct AttackEntry {
  const char* name;
  Attack run;
  const char* what;
};
[[nodiscard]] const std::vector<AttackEntry>& attacks();
// The probes: GET /healthz and a login with a fresh name every probe_interval_s.
void probe(Run& run, Latencies& healthz, Latencies& login, Report& report);

}  // namespace strata::hostile
