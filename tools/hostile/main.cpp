// strata-hostile — hostile traffic against a Strata server on loopback (see tools/hostile/hostile.h).
// main() parses the flags, refuses a target off loopback, finds the ports a login names, starts
// the attacks and the probes on threads of their own and prints the JSON report when the run ends.
#include <utility>  // before Asio (Boost 1.74 + C++20 + GCC 12)

#include <sodium.h>
#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "net/client.h"
#include "net/sdk/login_client.h"
#include "net/transport.h"
#include "tools/hostile/hostile.h"

namespace strata::hostile {

uint64_t steady_now_us() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

bool Run::over() const { return stop.load() || steady_now_us() >= deadline_us; }

sockaddr_storage Target::with_port(uint16_t port) const {
  sockaddr_storage out = address;
  if (family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&out)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&out)->sin6_port = htons(port);
  }
  return out;
}

bool resolve_loopback(const std::string& host, Target& target, std::string& error) {
  const std::string name = host == "localhost" ? "127.0.0.1" : host;
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, name.c_str(), &v4) == 1) {
    if ((ntohl(v4.s_addr) >> 24) != 127) {
      error = host + " is not a loopback address (127.0.0.0/8): strata-hostile attacks this machine only";
      return false;
    }
    auto* in = reinterpret_cast<sockaddr_in*>(&target.address);
    in->sin_family = AF_INET;
    in->sin_addr = v4;
    target.address_size = sizeof(sockaddr_in);
    target.family = AF_INET;
    return true;
  }
  if (::inet_pton(AF_INET6, name.c_str(), &v6) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&v6)) {
      error = host + " is not the loopback address ::1: strata-hostile attacks this machine only";
      return false;
    }
    auto* in = reinterpret_cast<sockaddr_in6*>(&target.address);
    in->sin6_family = AF_INET6;
    in->sin6_addr = v6;
    target.address_size = sizeof(sockaddr_in6);
    target.family = AF_INET6;
    return true;
  }
  error = host + " is not a numeric loopback address (127.x.y.z, ::1 or localhost)";
  return false;
}

std::string Latencies::json() const {
  std::lock_guard lock(mutex_);
  std::vector<double> s = samples_;
  std::sort(s.begin(), s.end());
  auto at = [&](double q) { return s.empty() ? 0.0 : s[std::min(s.size() - 1, static_cast<size_t>(q * s.size()))]; };
  char buffer[160];
  std::snprintf(buffer, sizeof(buffer), "{\"n\":%zu,\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f}", s.size(), at(0.5),
                at(0.99), s.empty() ? 0.0 : s.back());
  return buffer;
}

namespace {

std::string json_counts(const std::map<std::string, uint64_t>& counts) {
  std::string out = "{";
  for (const auto& [key, value] : counts) {
    if (out.size() > 1) out += ",";
    out += "\"" + key + "\":" + std::to_string(value);
  }
  return out + "}";
}

// The UDP and TCP ports a login names (token address, "tcp_port"), for those not given.
bool find_ports(Run& run, std::string& error) {
  Options& o = run.options;
  if (o.udp_port != 0 && o.tcp_port != 0) return true;
  const auto reply = sdk::http_login(o.host, o.http_port, o.name_prefix + "-ports", error, false, 5000);
  if (!reply) return false;
  if (o.tcp_port == 0) o.tcp_port = reply->tcp_port;
  if (o.udp_port == 0) {
    net::Client client(net::default_client_config());
    if (!client.connect(reply->token, net::system_now_us())) {
      error = "the login's connect token is unreadable";
      return false;
    }
    o.udp_port = client.server_address().port;
  }
  return o.udp_port != 0 && o.tcp_port != 0;
}

// Idle streams need descriptors: as many as the hard limit allows.
void raise_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  (void)::setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

int run_main(int argc, char** argv) {
  CLI::App app{
      "strata-hostile: hostile traffic against a Strata server on this machine's loopback, bounded in count and time"};
  Run run;
  Options& o = run.options;
  std::vector<std::string> names;
  for (const AttackEntry& a : attacks()) names.push_back(a.name);
  app.add_option("--host", o.host, "the server's address: 127.x.y.z, ::1 or localhost (anything else is refused)");
  app.add_option("--http-port", o.http_port, "the server's public HTTP port (login, healthz)")->required();
  app.add_option("--udp-port", o.udp_port, "the netchannel's UDP port (default: the address in a login's token)");
  app.add_option("--tcp-port", o.tcp_port, "the netchannel's TCP port (default: the login reply's tcp_port)");
  app.add_option("--seconds", o.seconds, "every attack stops by then")->check(CLI::Range(0.1, seconds_max));
  std::string attack_help = "comma-separated attacks (default all):";
  for (const AttackEntry& a : attacks()) attack_help += std::string(" ") + a.name + " (" + a.what + ");";
  app.add_option("--attacks", o.attacks, attack_help)->delimiter(',')->check(CLI::IsMember(names));
  app.add_option("--garbage", o.garbage, "garbage datagrams")->check(CLI::Range(0U, datagrams_max));
  app.add_option("--truncated", o.truncated, "truncated packets")->check(CLI::Range(0U, datagrams_max));
  app.add_option("--replayed", o.replayed, "replayed packets")->check(CLI::Range(0U, datagrams_max));
  app.add_option("--datagram-rate", o.datagram_rate, "datagrams per second of each UDP attack")
      ->check(CLI::Range(1U, 200'000U));
  app.add_option("--idle-streams", o.idle_streams, "idle TCP streams held")->check(CLI::Range(0U, streams_max));
  app.add_option("--half-open-streams", o.half_open_streams, "half-open TCP streams held")
      ->check(CLI::Range(0U, streams_max));
  app.add_option("--slow-http", o.slow_http, "slow HTTP connections held")->check(CLI::Range(0U, streams_max));
  app.add_option("--logins", o.logins, "hostile logins")->check(CLI::Range(0U, logins_max));
  app.add_option("--login-rate", o.login_rate, "hostile logins per second")->check(CLI::Range(1U, 10'000U));
  app.add_option("--oversized", o.oversized, "oversized and wrong-kind messages")->check(CLI::Range(0U, messages_max));
  app.add_option("--input-flood", o.input_flood, "input batches (32 inputs each) aimed at one tick")
      ->check(CLI::Range(0U, messages_max));
  app.add_option("--flood-sessions", o.flood_sessions, "clients sharing the input flood")
      ->check(CLI::Range(1U, sessions_max));
  app.add_option("--stop-reading", o.stop_reading, "TCP clients that log in and stop reading")
      ->check(CLI::Range(0U, sessions_max));
  app.add_option("--stop-reading-observers", o.stop_reading_observers,
                 "of the --stop-reading clients, this many log in as observers (their queue fills faster; the "
                 "observer role will need an admin credential)")
      ->check(CLI::Range(0U, sessions_max));
  app.add_option("--probe-interval", o.probe_interval_s, "seconds between /healthz and login probes")
      ->check(CLI::Range(0.05, 60.0));
  app.add_option("--name-prefix", o.name_prefix, "login names of the tool's own clients start with this");
  CLI11_PARSE(app, argc, argv);
  std::string error;
  if (!resolve_loopback(o.host, run.target, error)) {
    std::fprintf(stderr, "strata-hostile: %s\n", error.c_str());
    return 2;
  }
  if (sodium_init() < 0) return 1;
  raise_file_limit();
  if (!find_ports(run, error)) {
    std::fprintf(stderr, "strata-hostile: cannot learn the server's ports: %s\n", error.c_str());
    return 2;
  }
  if (o.attacks.empty()) o.attacks = names;
  const uint64_t start = steady_now_us();
  run.deadline_us = start + static_cast<uint64_t>(o.seconds * 1e6);
  std::vector<std::unique_ptr<Report>> reports;
  std::vector<std::thread> threads;
  for (const AttackEntry& a : attacks()) {
    if (std::find(o.attacks.begin(), o.attacks.end(), a.name) == o.attacks.end()) continue;
    reports.push_back(std::make_unique<Report>());
    threads.emplace_back([&run, &a, &report = *reports.back()] { a.run(run, report); });
  }
  Latencies healthz;
  Latencies login;
  Report probes;
  threads.emplace_back([&] { probe(run, healthz, login, probes); });
  for (auto& t : threads) t.join();
  std::string out = "{\"target\":\"" + o.host +
                    "\",\"seconds\":" + std::to_string(static_cast<double>(steady_now_us() - start) / 1e6) +
                    ",\"attacks\":{";
  size_t r = 0;
  for (const AttackEntry& a : attacks()) {
    if (std::find(o.attacks.begin(), o.attacks.end(), a.name) == o.attacks.end()) continue;
    if (r > 0) out += ",";
    out += "\"" + std::string(a.name) + "\":" + json_counts(reports[r++]->counts());
  }
  out += "},\"probes\":{\"healthz_ms\":" + healthz.json() + ",\"login_ms\":" + login.json() +
         ",\"counts\":" + json_counts(probes.counts()) + "}}";
  std::printf("%s\n", out.c_str());
  return 0;
}

}  // namespace strata::hostile

int main(int argc, char** argv) { return strata::hostile::run_main(argc, argv); }
