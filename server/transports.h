// server/transports.h — strata-server's wiring helpers: the configuration read from its file,
// STRATA_* and --set; the UDP (recvmmsg/sendmmsg) and TCP transports on one Asio io_context as the
// runtime's NetworkPort; the three HTTP listeners (public: login and health; admin, loopback by
// default: sessions, world status, observer logins; metrics: Prometheus) with their routes.
// Real sockets only: the runtime (server/runtime.h) drives these, and tests use their own port.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/transport.h"
#include "server/config.h"
#include "server/http.h"
#include "server/runtime.h"

namespace strata::server {

class Login;
struct LoginConfig;
class Metrics;
struct Status;

// The configuration from the YAML file (none if `path` is empty), the environment and the
// overrides (path=value), validated. Every error is logged; none: nullopt.
[[nodiscard]] std::optional<ServerConfig> read_server_config(const std::string& path,
                                                             const std::vector<std::string>& overrides);

// Logs the node's start: the tick its log was recovered at (if it was), the region and map.
void log_node_start(const RegionalNode& node, const ServerConfig& config);

// Logs the authentication mode's warnings (dev mode: open logins; no admin token: no observers).
void log_auth_mode(const LoginConfig& login);

class Transports final : public NetworkPort {
 public:
  // Raises the descriptor limit (idle connections must not starve the log and HTTP), opens UDP and
  // TCP on net.bind. Null (the reason logged) when a socket cannot be opened.
  [[nodiscard]] static std::unique_ptr<Transports> open(const ServerConfig& config);
  ~Transports() override;
  [[nodiscard]] net::Address udp_address() const { return udp_->local_address(); }
  [[nodiscard]] net::Address tcp_address() const { return tcp_->local_address(); }

  void receive(RegionalNode& node, uint64_t now_us) override;
  [[nodiscard]] net::DatagramSink& sink() override { return *sink_; }
  void send(RegionalNode& node, uint64_t now_us) override;
  void wait(uint64_t timeout_us) override { (void)udp_->wait_readable(timeout_us); }
  void housekeeping(uint64_t monotonic_us, Status* status) override;

 private:
  Transports();
  void poll(RegionalNode& node, uint64_t now_us);  // the io_context's ready handlers (TCP)

  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<net::UdpSocket> udp_;
  std::unique_ptr<net::TcpServer> tcp_;
  std::unique_ptr<net::SplitSink> sink_;
  RegionalNode* node_ = nullptr;  // set while the io_context runs handlers (receive, send)
  uint64_t now_us_ = 0;
  net::StreamReport tcp_report_;
  uint64_t next_stats_copy_us_ = 0;
};

// The HTTP listeners and their routes. stop() (and the destructor) stops the login's verifiers
// first (answering the logins they hold while the listeners still run), then the listeners.
class HttpListeners {
 public:
  HttpListeners(const ServerConfig& config, Login& login, Metrics& metrics, Status& status, uint16_t tcp_port);
  ~HttpListeners() { stop(); }
  HttpListeners(const HttpListeners&) = delete;
  HttpListeners& operator=(const HttpListeners&) = delete;
  [[nodiscard]] bool start(std::string& error);
  void stop();
  [[nodiscard]] uint16_t http_port() const { return http_.port(); }
  [[nodiscard]] uint16_t admin_port() const { return admin_.port(); }
  [[nodiscard]] uint16_t metrics_port() const { return metrics_.port(); }

 private:
  Login& login_;
  HttpServer http_;
  HttpServer admin_;
  HttpServer metrics_;
};

// Logs every listener's address ("listening: udp ... tcp ... http ... admin ... metrics ...": the
// end-to-end scripts wait for it).
void log_listening(const ServerConfig& config, const Transports& transports, const HttpListeners& listeners);

}  // namespace strata::server
