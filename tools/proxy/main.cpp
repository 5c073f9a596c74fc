// strata-tcp-proxy — a TCP proxy a test cuts and heals from outside (tools/proxy/proxy.h): put in
// front of nats-server, it partitions one region from the bus (tools/cluster.sh --proxy,
// tools/e2e-regions.sh). Signals: SIGUSR1 cuts (every carried connection closed, new ones refused),
// SIGUSR2 heals, SIGTERM/SIGINT end it. It prints its port once listening (and writes it to
// --port-file), and one line of counters on every cut, heal and at the end.
//   strata-tcp-proxy --listen PORT --to HOST:PORT [--bind ADDR] [--port-file FILE] [--cut]
#include <utility>  // before Asio (Boost 1.74 + C++20 + GCC 12)

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>

#include "tools/proxy/proxy.h"

namespace strata::proxy {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

void print_counters(const char* event, const TcpProxy& proxy) {
  const Counters& c = proxy.counters();
  std::printf(
      "strata-tcp-proxy: %s: %s, %zu carried; accepted %llu, refused while cut %llu, refused full %llu, "
      "upstream failed %llu, closed by cut %llu, closed by peer %llu, bytes to upstream %llu, to clients %llu\n",
      event, proxy.is_cut() ? "cut" : "healed", proxy.pipes(), static_cast<unsigned long long>(c.accepted),
      static_cast<unsigned long long>(c.refused_cut), static_cast<unsigned long long>(c.refused_full),
      static_cast<unsigned long long>(c.upstream_failed), static_cast<unsigned long long>(c.closed_by_cut),
      static_cast<unsigned long long>(c.closed_by_peer), static_cast<unsigned long long>(c.bytes_to_upstream),
      static_cast<unsigned long long>(c.bytes_to_client));
  std::fflush(stdout);
}

// Re-arms itself after every signal but SIGTERM/SIGINT.
void watch_signals(asio::signal_set& signals, TcpProxy& proxy) {
  signals.async_wait([&signals, &proxy](const boost::system::error_code& error, int number) {
    if (error) return;
    if (number == SIGUSR1) {
      proxy.cut();
      print_counters("SIGUSR1", proxy);
    } else if (number == SIGUSR2) {
      proxy.heal();
      print_counters("SIGUSR2", proxy);
    } else {
      proxy.close();
      print_counters("exit", proxy);
      return;  // nothing left pending: run() returns
    }
    watch_signals(signals, proxy);
  });
}

// "HOST:PORT" to an endpoint (the host resolved once, at start); the problem otherwise.
std::string resolve(asio::io_context& io, const std::string& text, tcp::endpoint& out) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return "expected HOST:PORT";
  boost::system::error_code error;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(text.substr(0, colon), text.substr(colon + 1), error);
  if (error || results.empty()) return "cannot resolve '" + text + "': " + error.message();
  out = results.begin()->endpoint();
  return {};
}

int run(int argc, char** argv) {
  CLI::App app{"strata-tcp-proxy: a TCP proxy cut by SIGUSR1 and healed by SIGUSR2"};
  uint16_t listen_port = 0;
  std::string bind = "127.0.0.1";
  std::string to;
  std::string port_file;
  bool start_cut = false;
  app.add_option("--listen", listen_port, "port to listen on (0: any free port, printed)")->required();
  app.add_option("--bind", bind, "address to listen on");
  app.add_option("--to", to, "upstream HOST:PORT")->required();
  app.add_option("--port-file", port_file, "write the listening port to this file once listening");
  app.add_flag("--cut", start_cut, "start cut (refuse until SIGUSR2)");
  CLI11_PARSE(app, argc, argv);

  asio::io_context io;
  tcp::endpoint upstream;
  if (std::string problem = resolve(io, to, upstream); !problem.empty()) {
    std::fprintf(stderr, "strata-tcp-proxy: --to: %s\n", problem.c_str());
    return 2;
  }
  boost::system::error_code error;
  const auto address = asio::ip::make_address(bind, error);
  if (error) {
    std::fprintf(stderr, "strata-tcp-proxy: --bind: '%s' is not an address\n", bind.c_str());
    return 2;
  }
  // Signals are taken by the set before the proxy listens: a SIGUSR1 sent as soon as the port is
  // known must not kill the process with the default action.
  asio::signal_set signals(io, SIGUSR1, SIGUSR2, SIGTERM);
  signals.add(SIGINT);
  std::unique_ptr<TcpProxy> proxy;
  try {
    proxy = std::make_unique<TcpProxy>(io, tcp::endpoint(address, listen_port), upstream);
  } catch (const boost::system::system_error& e) {
    std::fprintf(stderr, "strata-tcp-proxy: cannot listen on %s:%u: %s\n", bind.c_str(), listen_port, e.what());
    return 1;
  }
  if (start_cut) proxy->cut();
  watch_signals(signals, *proxy);
  if (!port_file.empty()) {
    const std::string temp = port_file + ".tmp";
    std::ofstream(temp) << proxy->port() << '\n';
    std::rename(temp.c_str(), port_file.c_str());  // whole or absent: a script polls for it
  }
  std::printf("strata-tcp-proxy: listening on %s:%u -> %s (%s)\n", bind.c_str(), proxy->port(), to.c_str(),
              start_cut ? "cut" : "carrying");
  std::fflush(stdout);
  io.run();
  return 0;
}

}  // namespace
}  // namespace strata::proxy

int main(int argc, char** argv) { return strata::proxy::run(argc, argv); }
