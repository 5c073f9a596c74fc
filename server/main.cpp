// strata-server — the regional node's process: configuration (YAML + STRATA_* + flags), the UDP
// (recvmmsg/sendmmsg) and TCP transports, two HTTP listeners (public: login and health; admin,
// loopback by default: sessions, world status, observer logins), the Prometheus metrics endpoint,
// the tick loop on this thread, graceful shutdown on SIGINT/SIGTERM. Also the auth tools:
// --hash-password (an accounts file line), --new-ticket-key, --mint-ticket (server/login.h).
// All the node's logic is in RegionalNode (sans I/O); this file only wires and drives it.
#include <utility>  // before Asio (Boost 1.74 + C++20 + GCC 12)

#include <boost/asio/io_context.hpp>

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <numeric>
#include <sstream>
#include <thread>

#include "net/transport.h"
#include "server/auth_tools.h"
#include "server/config.h"
#include "server/edge_counters.h"
#include "server/http.h"
#include "server/login.h"
#include "server/login_http.h"
#include "server/metrics.h"
#include "server/node.h"
#include "server/node_start.h"
#include "server/routes.h"
#include "server/status.h"
#include "server/threads.h"
#include "server/tick_stats.h"
#include "sim/limits.h"
#include "storage/account_registry.h"

namespace {

using namespace strata;

std::atomic<bool> stop_requested{false};
void on_signal(int) { stop_requested.store(true); }

constexpr uint64_t protocol_id = 0x5354524154410000ULL | 1;  // "STRATA", protocol 1

std::optional<net::Address> parse_ipv4(const std::string& text, uint16_t port) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 || c > 255 ||
      d > 255) {
    return std::nullopt;
  }
  return net::make_ipv4(static_cast<uint8_t>(a), static_cast<uint8_t>(b), static_cast<uint8_t>(c),
                        static_cast<uint8_t>(d), port);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strata-server: the authoritative regional node"};
  std::string config_path;
  std::vector<std::string> overrides;
  double run_seconds = 0;
  bool list_keys = false;
  std::string hash_password_name, mint_ticket_name;
  bool new_ticket_key = false;
  uint32_t ticket_ttl_s = 60;
  app.add_option("-c,--config", config_path, "YAML configuration file (optional; every key also STRATA_<KEY>)");
  app.add_option("--set", overrides, "override one key: path=value (repeatable), e.g. --set net.udp_port=0");
  app.add_option("--run-for", run_seconds, "stop after this many seconds (0: until SIGINT/SIGTERM)");
  app.add_flag("--list-keys", list_keys, "print every configuration key with its environment name and default");
  app.add_option("--hash-password", hash_password_name,
                 "print an accounts file line '<NAME> <hash>' for the password read from stdin, and exit");
  app.add_flag("--new-ticket-key", new_ticket_key, "print a new random ticket key (64 hex digits), and exit");
  app.add_option("--mint-ticket", mint_ticket_name,
                 "print a login ticket for NAME signed with auth.ticket_key_file (for tests and backends), and exit");
  app.add_option("--ticket-ttl", ticket_ttl_s, "lifetime of --mint-ticket's ticket in seconds");
  CLI11_PARSE(app, argc, argv);
  if (list_keys) {
    for (const std::string& line : server::describe_config_keys()) std::printf("%s\n", line.c_str());
    return 0;
  }
  if (sodium_init() < 0) {
    spdlog::error("libsodium failed to initialise");
    return 1;
  }
  if (!hash_password_name.empty()) return server::hash_password_tool(hash_password_name);
  if (new_ticket_key) return server::new_ticket_key_tool();
  std::string yaml;
  if (!config_path.empty()) {
    std::ifstream file(config_path);
    if (!file) {
      spdlog::error("cannot read the configuration file {}", config_path);
      return 2;
    }
    std::stringstream text;
    text << file.rdbuf();
    yaml = text.str();
  }
  std::string error;
  server::ServerConfig config;
  auto errors =
      server::load_config(config, yaml, config_path.empty() ? "(no file)" : config_path, server::strata_environment());
  for (const std::string& assignment : overrides) {
    auto more = server::apply_override(config, assignment);
    errors.insert(errors.end(), more.begin(), more.end());
  }
  auto invalid = server::validate_config(config);
  errors.insert(errors.end(), invalid.begin(), invalid.end());
  if (!errors.empty()) {
    for (const auto& e : errors) spdlog::error("config: {}", e.message);
    return 2;
  }
  if (!mint_ticket_name.empty()) return server::mint_ticket_tool(config, mint_ticket_name, ticket_ttl_s);
  server::LoginConfig login_config;
  if (!server::configure_login(config, login_config, error)) {
    spdlog::error("config: {}", error);
    return 2;
  }
  if (login_config.mode == server::AuthMode::dev) {
    spdlog::warn("**************************************************************************************");
    spdlog::warn("auth.mode dev: OPEN LOGINS: anyone who reaches this machine's loopback can log in as any");
    spdlog::warn("name. Every listener is on loopback; never run a public server like this (static/ticket).");
    spdlog::warn("**************************************************************************************");
  }
  if (login_config.admin_token.empty()) spdlog::info("no admin token (auth.admin_token_file): observers are refused");
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  // Transports. Descriptors first: as many as the system allows, so idle connections cannot
  // starve the log and HTTP (the TCP listener also keeps a reserve under this limit).
  size_t open_files_before = 0;
  const size_t open_files = net::raise_open_file_limit(open_files_before);
  spdlog::info("open files: soft limit {} (was {})", open_files, open_files_before);
  boost::asio::io_context io;
  auto udp_bind = parse_ipv4(config.bind_address, config.udp_port);
  auto tcp_bind = parse_ipv4(config.bind_address, config.tcp_port);
  if (!udp_bind || !tcp_bind) {
    spdlog::error("config: net.bind must be an IPv4 address, got '{}'", config.bind_address);
    return 2;
  }
  net::UdpConfig udp_config;
  udp_config.bind = *udp_bind;
  auto udp = net::UdpSocket::open(io, udp_config, error);
  if (!udp) {
    spdlog::error("cannot open UDP {}: {}", net::to_string(*udp_bind), error);
    return 1;
  }
  // The node's ports (they outlive it): the host's clocks and the OS's randomness.
  const server::SystemClock clock;
  net::OsRandom random;
  std::unique_ptr<server::RegionalNode> node;
  uint64_t now_us = net::system_now_us();
  std::unique_ptr<net::TcpServer> tcp;
  net::SplitSink* sink_ptr = nullptr;
  // The listener closes streams that carry no connected client within its handshake deadline,
  // caps streams per IP and keeps descriptors free for the log and HTTP (net/transport.h).
  net::TcpConfig tcp_config = net::default_tcp_config();
  tcp_config.bind = *tcp_bind;
  tcp_config.send_queue_bytes_max = config.tcp_send_queue_bytes;
  tcp_config.send_buffer_bytes = static_cast<int>(config.tcp_send_buffer_bytes);
  tcp_config.authenticated = [&](const net::Address& peer) {
    return node && node->net_server().connected_at(net::TransportKind::stream, peer);
  };
  tcp = net::TcpServer::open(
      io, tcp_config,
      [&](const net::Address& from, std::span<const uint8_t> frame) {
        if (node && sink_ptr) node->receive(net::TransportKind::stream, from, frame, now_us, *sink_ptr);
      },
      [&](const net::Address& peer) {
        if (node) node->transport_closed(net::TransportKind::stream, peer);
      },
      error);
  if (!tcp) {
    spdlog::error("cannot open TCP {}: {}", net::to_string(*tcp_bind), error);
    return 1;
  }
  net::SplitSink sink(udp.get(), tcp.get());
  sink_ptr = &sink;

  // The node (recovers from its log if one is there).
  const net::Key key = random.key();
  server::RegionalNode::Options options;
  options.config = config;
  options.net = net::default_server_config();
  options.net.protocol_id = protocol_id;
  options.net.public_address = udp->local_address();
  options.net.private_key = key;
  options.net.max_clients = config.max_clients;
  options.clock = &clock;
  options.random = &random;
  options.snapshot_threads = config.snapshot_threads;
  options.snapshot_threads_nice = static_cast<int>(config.snapshot_threads_nice);
  const std::string log_dir = config.data_dir + "/session-log";
  std::optional<server::NodeStart> start = server::open_rocks_start(config, log_dir, error);
  if (start) node = server::RegionalNode::create(options, std::move(*start), error);
  if (!node) {
    spdlog::error("{}", error);
    return 1;
  }
  if (node->recovered_from_tick() > 0) {
    spdlog::info("recovered the session log at tick {} (full hash {:016x})", node->recovered_from_tick(),
                 node->simulation().full_hash());
  }

  // HTTP API and metrics. The account registry: name -> persistent player id (storage/).
  // Dev mode's names are a developer's: written without fsync (they survive a crash of the process,
  // not of the machine), so a burst of new names costs the HTTP thread no disk flushes.
  const bool accounts_sync = config.auth.accounts_sync && login_config.mode != server::AuthMode::dev;
  auto registry = storage::RocksAccountRegistry::open(config.data_dir + "/accounts", sim::limits::player_id_max,
                                                      accounts_sync, error);
  if (!registry) {
    spdlog::error("{}", error);
    return 1;
  }
  login_config.protocol_id = protocol_id;
  login_config.private_key = key;
  login_config.server_addresses = {udp->local_address()};
  server::Login login(login_config, *registry, random);
  const uint16_t tcp_port = tcp->local_address().port;  // told to clients for the TCP fallback
  auto metrics_owner = server::Metrics::create(server::default_metrics_config(), error);
  if (!metrics_owner) {
    spdlog::error("metrics: {}", error);
    return 1;
  }
  server::Metrics& metrics = *metrics_owner;
  server::Status status;
  // Public listener: login and health only.
  server::HttpConfig http_config;
  http_config.address = config.bind_address;
  http_config.port = config.http_port;
  server::HttpServer http(http_config);
  server::add_login_route(http, login, false, tcp_port);
  server::add_public_routes(http, status);
  // Admin listener (admin.bind, loopback by default): observer logins, sessions, world status. Off
  // loopback, every admin route needs the admin credential.
  server::HttpConfig admin_config = http_config;
  admin_config.address = config.admin_bind_address;
  admin_config.port = config.admin_port;
  server::HttpServer admin(admin_config);
  server::add_login_route(admin, login, true, tcp_port);
  server::add_admin_routes(admin, login, server::is_loopback(config.admin_bind_address), status, http, config.region);
  server::HttpConfig metrics_config = http_config;
  metrics_config.port = config.metrics_port;
  server::HttpServer metrics_http(metrics_config);
  // Whatever way main() returns, the login's verifiers stop (answering what they hold) before the
  // HTTP servers their replies are posted to: declared after them, destroyed before them.
  struct StopLoginFirst {
    server::Login& login;
    ~StopLoginFirst() { login.stop(); }
  } stop_login_first{login};
  server::add_metrics_route(metrics_http, metrics, login, status, http, admin);
  if (!http.start(error) || !admin.start(error) || !metrics_http.start(error)) {
    spdlog::error("cannot start HTTP: {}", error);
    return 1;
  }
  spdlog::info("strata-server: region {}, map {}x{} cells, {} Hz", config.region,
               node->simulation().world().map.width(), node->simulation().world().map.height(), config.tick_rate_hz);
  spdlog::info("listening: udp {} tcp {} http {}:{} admin {}:{} metrics {}:{}/metrics",
               net::to_string(udp->local_address()), net::to_string(tcp->local_address()), config.bind_address,
               http.port(), config.admin_bind_address, admin.port(), config.bind_address, metrics_http.port());
  spdlog::info("auth.mode {}; account registry {}/accounts holds {} names", config.auth.mode, config.data_dir,
               registry->size());
  spdlog::info("session log: {} ; logging to stderr", log_dir);
  std::fflush(stdout);

  const uint64_t period_us = 1'000'000 / config.tick_rate_hz;
  const uint64_t start_us = net::system_now_us();
  uint64_t next_tick = start_us;
  uint64_t last_report = start_us;
  uint64_t bytes_in = 0, bytes_out = 0, packets_in = 0, packets_out = 0, mismatches = 0, snapshot_bytes = 0;
  net::DropCounters drops_seen;
  std::array<uint64_t, server::input_verdict_count> verdicts_seen{};
  std::array<uint64_t, sim::reject_reason_count> rejected_seen{};
  std::array<uint64_t, static_cast<size_t>(view::MessageError::count)> refused_seen{};
  std::array<uint64_t, 3> chat_seen{};  // relayed, rate limited, deliveries
  server::TickStats tick_stats;
  // The sim thread: one tick per period, then the metrics and the status the HTTP threads read.
  // It never touches a socket: the node's inbox and outbox are its only contact with the network.
  std::atomic<bool> log_failed{false};
  std::thread sim_thread([&] {
    server::name_this_thread("strata-sim");
    while (!stop_requested.load()) {
      uint64_t tick_now = net::system_now_us();
      if (run_seconds > 0 && static_cast<double>(tick_now - start_us) >= run_seconds * 1e6) {
        stop_requested.store(true);
        break;
      }
      if (tick_now < next_tick) {
        std::this_thread::sleep_for(std::chrono::microseconds(std::min<uint64_t>(next_tick - tick_now, 5'000)));
        continue;
      }
      const auto t0 = std::chrono::steady_clock::now();
      const double cpu0 = server::thread_cpu_ms();
      if (!node->tick(tick_now)) {
        spdlog::critical("the session log could not be written: stopping (tick {})", node->simulation().tick() + 1);
        log_failed.store(true);
        stop_requested.store(true);
        break;
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const bool overrun = seconds * 1e6 > static_cast<double>(period_us);
      metrics.observe_tick(seconds, overrun);
      tick_stats.record(seconds * 1e3, server::thread_cpu_ms() - cpu0, node->last_tick_phases());
      next_tick += period_us;
      if (tick_now > next_tick + 10 * period_us) next_tick = tick_now + period_us;  // after a stall: no burst
      const auto& world = node->simulation().world();
      metrics.set_tick(world.tick);
      metrics.set_players(node->sessions());
      const server::RegionalNode::NetCounters net_stats = node->net_counters();
      const net::HandshakeCounters& hs = net_stats.handshake;
      metrics.add_net_bytes(server::NetDirection::in, hs.bytes_received - bytes_in);
      metrics.add_net_bytes(server::NetDirection::out, hs.bytes_sent - bytes_out);
      metrics.add_net_packets(server::NetDirection::in, hs.datagrams_received - packets_in);
      metrics.add_net_packets(server::NetDirection::out, hs.datagrams_sent - packets_out);
      bytes_in = hs.bytes_received, bytes_out = hs.bytes_sent, packets_in = hs.datagrams_received,
      packets_out = hs.datagrams_sent;
      const net::DropCounters& drops = net_stats.drops;
      net::DropCounters delta;
      for (size_t i = 0; i < delta.by_reason.size(); ++i)
        delta.by_reason[i] = drops.by_reason[i] - drops_seen.by_reason[i];
      metrics.add_net_dropped(delta);
      drops_seen = drops;
      const auto counters = node->counters();
      metrics.add_checksum_mismatches(counters.checksum_mismatches - mismatches);
      metrics.add_snapshot_bytes(counters.snapshot_bytes - snapshot_bytes);
      mismatches = counters.checksum_mismatches;
      for (size_t i = 1; i < counters.messages_refused.size(); ++i) {
        if (counters.messages_refused[i] != refused_seen[i])
          metrics.add_message_refused(static_cast<view::MessageError>(i),
                                      counters.messages_refused[i] - refused_seen[i]);
      }
      refused_seen = counters.messages_refused;
      metrics.add_chat(counters.chat_relayed - chat_seen[0], counters.chat_rate_limited - chat_seen[1],
                       counters.chat_deliveries - chat_seen[2]);
      chat_seen = {counters.chat_relayed, counters.chat_rate_limited, counters.chat_deliveries};
      const auto& verdicts = node->scheduler().counters();
      for (size_t i = 0; i < verdicts.size(); ++i) {
        if (verdicts[i] != verdicts_seen[i])
          metrics.add_input(server::name(static_cast<server::InputVerdict>(i)), verdicts[i] - verdicts_seen[i]);
      }
      verdicts_seen = verdicts;
      for (size_t i = 1; i < counters.rejected.size(); ++i) {
        if (counters.rejected[i] != rejected_seen[i])
          metrics.add_command_rejected(static_cast<sim::RejectReason>(i), counters.rejected[i] - rejected_seen[i]);
      }
      rejected_seen = counters.rejected;
      snapshot_bytes = counters.snapshot_bytes;
      if (world.tick % 10 == 0) {
        const auto tick_summary = tick_stats.summary();
        server::RegionalNode::NetStats sessions = node->net_stats();  // copied outside the status lock
        std::vector<std::array<int64_t, 3>> cells;
        cells.reserve(world.players.size());
        for (const sim::Player& p : world.players)
          cells.push_back({static_cast<int64_t>(sim::raw(p.id)), p.pos.x.tile(), p.pos.y.tile()});
        std::lock_guard lock(status.mutex);
        if (tick_summary) server::publish(*tick_summary, status);
        status.ready = true;
        status.tick = world.tick;
        status.quick_hash = node->simulation().quick_hash();
        status.players = world.players.size();
        status.sessions = node->sessions();
        status.builders = node->snapshot_builders();
        status.node_counters = counters;
        status.deferrals = node->scheduler().deferrals();
        status.durable_tick = node->durable_tick();
        status.snapshots_sent = counters.snapshots_sent;
        status.snapshots_not_sent = counters.snapshots_not_sent;
        status.snapshot_bytes = counters.snapshot_bytes;
        status.net_bytes_in = hs.bytes_received;
        status.net_bytes_out = hs.bytes_sent;
        status.net_packets_in = hs.datagrams_received;
        status.net_packets_out = hs.datagrams_sent;
        status.net_stats = std::move(sessions);
        status.player_cells = std::move(cells);
      }
      if (tick_now - last_report >= 5'000'000) {
        spdlog::info("tick {}: {} sessions, {} players, last tick {:.3f} ms, quick_hash {:016x}", world.tick,
                     node->sessions(), world.players.size(), seconds * 1e3, node->simulation().quick_hash());
        last_report = tick_now;
      }
    }
  });
  // This (network) thread: receive, hand over, send, until asked to stop. A turn at most every
  // net.loop_min_us: what arrives meanwhile waits in the socket and is taken in one batch.
  const auto loop_min = std::chrono::microseconds(config.net_loop_min_us);
  // (This thread keeps the process's name, strata-server: renaming it would rename the process.)
  server::renice_this_thread(static_cast<int>(config.net_thread_nice));
  auto turn_start = std::chrono::steady_clock::now();
  net::StreamReport tcp_report;
  auto next_stats_copy = turn_start;
  while (!stop_requested.load()) {
    if (auto line = tcp_report.poll(*tcp, turn_start)) spdlog::info("tcp: {}", *line);
    if (turn_start >= next_stats_copy) {  // the TCP listener's counters, for the HTTP threads
      next_stats_copy = turn_start + std::chrono::milliseconds(100);
      std::lock_guard lock(status.mutex);
      status.tcp_stats = tcp->stats();
    }
    if (const auto spent = std::chrono::steady_clock::now() - turn_start; spent < loop_min)
      std::this_thread::sleep_for(loop_min - spent);
    (void)udp->wait_readable(1'000);
    turn_start = std::chrono::steady_clock::now();
    now_us = net::system_now_us();
    udp->receive([&](const net::Address& from, std::span<const uint8_t> data) {
      node->receive(net::TransportKind::datagram, from, data, now_us, sink);
    });
    io.poll();
    now_us = net::system_now_us();
    node->flush(now_us, sink);
    udp->flush();
    io.poll();
  }
  sim_thread.join();
  spdlog::info("stopping: telling {} clients, closing the session log at tick {}", node->sessions(),
               node->simulation().tick());
  now_us = net::system_now_us();
  const bool final_logged = node->shutdown(now_us, sink);
  if (!final_logged) spdlog::error("the final tick could not be logged");
  udp->flush();
  io.poll();
  const uint64_t final_tick = node->simulation().tick();
  const uint64_t final_hash = node->simulation().full_hash();
  node.reset();  // closes the log (flushes RocksDB)
  login.stop();  // answers the logins still waiting for a verifier, while the HTTP threads still run
  http.stop();
  admin.stop();
  metrics_http.stop();
  spdlog::info("strata-server: stopped at tick {}, full_hash {:016x}", final_tick, final_hash);
  return log_failed.load() || !final_logged ? 1 : 0;
}
