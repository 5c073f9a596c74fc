// server/transports.cpp — see transports.h.
#include <utility>  // before Asio (Boost 1.74 + C++20 + GCC 12)

#include "server/transports.h"

#include <boost/asio/io_context.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>

#include "server/login.h"
#include "server/login_http.h"
#include "server/metrics.h"
#include "server/routes.h"
#include "server/status.h"

namespace strata::server {
namespace {

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

// The TCP listener's counters are copied for the HTTP threads this often.
constexpr uint64_t tcp_stats_copy_interval_us = 100'000;

}  // namespace

std::optional<ServerConfig> read_server_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::string yaml;
  if (!path.empty()) {
    std::ifstream file(path);
    if (!file) {
      spdlog::error("cannot read the configuration file {}", path);
      return std::nullopt;
    }
    std::stringstream text;
    text << file.rdbuf();
    yaml = text.str();
  }
  ServerConfig config;
  auto errors = load_config(config, yaml, path.empty() ? "(no file)" : path, strata_environment());
  for (const std::string& assignment : overrides) {
    auto more = apply_override(config, assignment);
    errors.insert(errors.end(), more.begin(), more.end());
  }
  auto invalid = validate_config(config);
  errors.insert(errors.end(), invalid.begin(), invalid.end());
  for (const auto& e : errors) spdlog::error("config: {}", e.message);
  if (!errors.empty()) return std::nullopt;
  return config;
}

void log_node_start(const RegionalNode& node, const ServerConfig& config) {
  if (node.recovered_from_tick() > 0) {
    spdlog::info("recovered the session log at tick {} (full hash {:016x})", node.recovered_from_tick(),
                 node.simulation().full_hash());
  }
  const auto& map = node.simulation().world().map;
  spdlog::info("strata-server: region {}, map {}x{} cells, {} Hz", config.region, map.width(), map.height(),
               config.tick_rate_hz);
}

void log_listening(const ServerConfig& config, const Transports& transports, const HttpListeners& listeners) {
  spdlog::info("listening: udp {} tcp {} http {}:{} admin {}:{} metrics {}:{}/metrics",
               net::to_string(transports.udp_address()), net::to_string(transports.tcp_address()), config.bind_address,
               listeners.http_port(), config.admin_bind_address, listeners.admin_port(), config.bind_address,
               listeners.metrics_port());
}

void log_auth_mode(const LoginConfig& login) {
  if (login.mode == AuthMode::dev) {
    spdlog::warn("**************************************************************************************");
    spdlog::warn("auth.mode dev: OPEN LOGINS: anyone who reaches this machine's loopback can log in as any");
    spdlog::warn("name. Every listener is on loopback; never run a public server like this (static/ticket).");
    spdlog::warn("**************************************************************************************");
  }
  if (login.admin_token.empty()) spdlog::info("no admin token (auth.admin_token_file): observers are refused");
}

Transports::Transports() : io_(std::make_unique<boost::asio::io_context>()) {}

Transports::~Transports() = default;

std::unique_ptr<Transports> Transports::open(const ServerConfig& config) {
  size_t open_files_before = 0;
  const size_t open_files = net::raise_open_file_limit(open_files_before);
  spdlog::info("open files: soft limit {} (was {})", open_files, open_files_before);
  auto udp_bind = parse_ipv4(config.bind_address, config.udp_port);
  auto tcp_bind = parse_ipv4(config.bind_address, config.tcp_port);
  if (!udp_bind || !tcp_bind) {
    spdlog::error("config: net.bind must be an IPv4 address, got '{}'", config.bind_address);
    return nullptr;
  }
  std::unique_ptr<Transports> t(new Transports());
  std::string error;
  net::UdpConfig udp_config;
  udp_config.bind = *udp_bind;
  t->udp_ = net::UdpSocket::open(*t->io_, udp_config, error);
  if (!t->udp_) {
    spdlog::error("cannot open UDP {}: {}", net::to_string(*udp_bind), error);
    return nullptr;
  }
  // The listener closes streams that carry no connected client within its handshake deadline,
  // caps streams per IP and keeps descriptors free for the log and HTTP (net/transport.h).
  net::TcpConfig tcp_config = net::default_tcp_config();
  tcp_config.bind = *tcp_bind;
  tcp_config.send_queue_bytes_max = config.tcp_send_queue_bytes;
  tcp_config.send_buffer_bytes = static_cast<int>(config.tcp_send_buffer_bytes);
  Transports* self = t.get();
  tcp_config.authenticated = [self](const net::Address& peer) {
    return self->node_ != nullptr && self->node_->net_server().connected_at(net::TransportKind::stream, peer);
  };
  t->tcp_ = net::TcpServer::open(
      *t->io_, tcp_config,
      [self](const net::Address& from, std::span<const uint8_t> frame) {
        if (self->node_ != nullptr)
          self->node_->receive(net::TransportKind::stream, from, frame, self->now_us_, *self->sink_);
      },
      [self](const net::Address& peer) {
        if (self->node_ != nullptr) self->node_->transport_closed(net::TransportKind::stream, peer);
      },
      error);
  if (!t->tcp_) {
    spdlog::error("cannot open TCP {}: {}", net::to_string(*tcp_bind), error);
    return nullptr;
  }
  t->sink_ = std::make_unique<net::SplitSink>(t->udp_.get(), t->tcp_.get());
  return t;
}

void Transports::poll(RegionalNode& node, uint64_t now_us) {
  node_ = &node;
  now_us_ = now_us;
  io_->poll();
  node_ = nullptr;
}

void Transports::receive(RegionalNode& node, uint64_t now_us) {
  udp_->receive([&](const net::Address& from, std::span<const uint8_t> data) {
    node.receive(net::TransportKind::datagram, from, data, now_us, *sink_);
  });
  poll(node, now_us);
}

void Transports::send(RegionalNode& node, uint64_t now_us) {
  udp_->flush();
  poll(node, now_us);
}

void Transports::housekeeping(uint64_t monotonic_us, Status* status) {
  // CLOCK_MONOTONIC is steady_clock's clock on Linux.
  const std::chrono::steady_clock::time_point now{std::chrono::microseconds(monotonic_us)};
  if (auto line = tcp_report_.poll(*tcp_, now)) spdlog::info("tcp: {}", *line);
  if (status != nullptr && monotonic_us >= next_stats_copy_us_) {
    next_stats_copy_us_ = monotonic_us + tcp_stats_copy_interval_us;
    std::lock_guard lock(status->mutex);
    status->tcp_stats = tcp_->stats();
  }
}

HttpListeners::HttpListeners(const ServerConfig& config, Login& login, Metrics& metrics, Status& status,
                             uint16_t tcp_port)
    : login_(login),
      http_(HttpConfig{.address = config.bind_address, .port = config.http_port}),
      admin_(HttpConfig{.address = config.admin_bind_address, .port = config.admin_port}),
      metrics_(HttpConfig{.address = config.bind_address, .port = config.metrics_port}) {
  // Public listener: login and health only.
  add_login_route(http_, login, false, tcp_port);
  add_public_routes(http_, status);
  // Admin listener (admin.bind, loopback by default): observer logins, sessions, world status. Off
  // loopback, every admin route needs the admin credential.
  add_login_route(admin_, login, true, tcp_port);
  add_admin_routes(admin_, login, is_loopback(config.admin_bind_address), status, http_, config.region);
  add_metrics_route(metrics_, metrics, login, status, http_, admin_);
}

bool HttpListeners::start(std::string& error) {
  return http_.start(error) && admin_.start(error) && metrics_.start(error);
}

void HttpListeners::stop() {
  login_.stop();  // answers the logins still waiting for a verifier, while the HTTP threads still run
  http_.stop();
  admin_.stop();
  metrics_.stop();
}

}  // namespace strata::server
