// tests/server/http_test.cpp — HttpServer over real sockets on 127.0.0.1 ephemeral ports (routes,
// refusals and their counters, size limits, connection limit, keep-alive, timeouts, prompt stop),
// parse_and_route without sockets, and Metrics::render() checked by Prometheus' own parser (promtool).
// No timing is asserted except the generous bound on stop().
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server/http.h"
#include "server/input_scheduler.h"
#include "server/metrics.h"

namespace strata::server {
namespace {

using namespace std::chrono_literals;

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// A blocking HTTP/1.1 client on a plain socket, with 5 s send/receive timeouts so a bug fails a test
// instead of hanging it.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }

  bool send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response; nullopt on close, reset or timeout before a whole response.
  std::optional<Reply> read_reply(bool head = false) {
    size_t header_end;
    while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!receive_more()) return std::nullopt;
    }
    Reply reply;
    std::istringstream lines(pending_.substr(0, header_end));
    std::string line;
    std::getline(lines, line);
    if (line.size() < 12) return std::nullopt;
    reply.status = std::atoi(line.substr(9, 3).c_str());
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      reply.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    pending_.erase(0, header_end + 4);
    const size_t length = head ? 0 : std::stoul(reply.headers["content-length"]);
    while (pending_.size() < length) {
      if (!receive_more()) return std::nullopt;
    }
    reply.body = pending_.substr(0, length);
    pending_.erase(0, length);
    return reply;
  }

  // True once the server has closed the connection (end of stream or reset) with nothing more to read.
  bool closed_by_server() {
    char byte;
    const ssize_t n = ::recv(fd_, &byte, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  bool receive_more() {
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    pending_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

std::string get(std::string_view target, std::string_view extra_headers = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers) + "\r\n";
}

// A server with /health (GET), /echo (POST: the body back, with the query and a header) and
// /throw (GET: the handler throws).
class HttpTest : public ::testing::Test {
 protected:
  void start_server(HttpConfig config = default_http_config()) {
    server_ = std::make_unique<HttpServer>(config);
    server_->add_route(HttpMethod::get, "/health", [](const HttpRequest&) {
      return HttpResponse{200, "text/plain", "ok\n", ""};
    });
    server_->add_route(HttpMethod::post, "/echo", [](const HttpRequest& request) {
      HttpResponse response;
      response.content_type = "application/octet-stream";
      response.body = request.query + "|" + std::string(request.header("x-token")) + "|" + request.body;
      return response;
    });
    server_->add_route(HttpMethod::get, "/throw",
                       [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("handler bug"); });
    std::string error;
    ASSERT_TRUE(server_->start(error)) << error;
    ASSERT_NE(server_->port(), 0);
  }
  const HttpCounters& counters() const { return server_->counters(); }

  // Counters are bumped on the HTTP thread, possibly just after the client saw the effect.
  static bool eventually(const std::function<bool()>& condition) {
    for (int i = 0; i < 500; ++i) {
      if (condition()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return condition();
  }

  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpTest, RoutesAnswer) {
  start_server();
  Client client(server_->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send_all(get("/health")));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "ok\n");
  EXPECT_EQ(reply->headers["content-type"], "text/plain");

  ASSERT_TRUE(client.send_all(
      "POST /echo?a=1&b=%20 HTTP/1.1\r\nHost: test\r\nX-Token: secret\r\nContent-Length: 5\r\n\r\nhello"));
  reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "a=1&b=%20|secret|hello");
  EXPECT_EQ(reply->headers["content-type"], "application/octet-stream");

  ASSERT_TRUE(client.send_all("HEAD /health HTTP/1.1\r\nHost: test\r\n\r\n"));
  reply = client.read_reply(/*head=*/true);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->headers["content-length"], "3");
  EXPECT_EQ(reply->body, "");
  EXPECT_TRUE(eventually([&] { return counters().requests_handled == 3; }));
}

TEST_F(HttpTest, UnknownRouteIs404AndWrongMethodIs405) {
  start_server();
  Client client(server_->port());
  ASSERT_TRUE(client.send_all(get("/nope")));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 404);
  EXPECT_FALSE(reply->body.empty());

  ASSERT_TRUE(client.send_all("DELETE /health HTTP/1.1\r\nHost: test\r\n\r\n"));
  reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 405);
  EXPECT_EQ(reply->headers["allow"], "GET, HEAD");

  ASSERT_TRUE(client.send_all("BREW /health HTTP/1.1\r\nHost: test\r\n\r\n"));  // a method Beast does not know
  reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 405);
  EXPECT_TRUE(eventually([&] { return counters().not_found == 1 && counters().method_not_allowed == 2; }));
  EXPECT_EQ(counters().requests_handled, 0u);
}

TEST_F(HttpTest, MalformedRequestsAre400) {
  start_server();
  const char* requests[] = {
      "GARBAGE\r\n\r\n",
      "GET /health HTTP/9.9\r\n\r\n",
      "GET http://example.com/health HTTP/1.1\r\nHost: test\r\n\r\n",
      "GET /health HTTP/1.1\r\nBad Header\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: abc\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
  };
  for (const char* request : requests) {
    Client client(server_->port());
    ASSERT_TRUE(client.send_all(request));
    auto reply = client.read_reply();
    ASSERT_TRUE(reply) << request;
    EXPECT_EQ(reply->status, 400) << request;
    EXPECT_EQ(reply->headers["connection"], "close") << request;
    EXPECT_TRUE(client.closed_by_server()) << request;
  }
  EXPECT_TRUE(eventually([&] { return counters().malformed == std::size(requests); }));
}

TEST_F(HttpTest, HandlerExceptionIs500) {
  start_server();
  Client client(server_->port());
  ASSERT_TRUE(client.send_all(get("/throw")));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 500);
  EXPECT_TRUE(eventually([&] { return counters().handler_errors == 1; }));
  ASSERT_TRUE(client.send_all(get("/health")));  // the connection survives
  EXPECT_EQ(client.read_reply()->status, 200);
}

TEST_F(HttpTest, OversizedHeaderAndDeclaredBodyAre413) {
  HttpConfig config = default_http_config();
  config.header_bytes_max = 1024;
  config.body_bytes_max = 1024;
  start_server(config);
  {
    Client client(server_->port());
    ASSERT_TRUE(client.send_all(get("/health", "X-Filler: " + std::string(2000, 'x') + "\r\n")));
    auto reply = client.read_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 413);
  }
  {
    // Refused as soon as the header declares it: no body byte is sent.
    Client client(server_->port());
    ASSERT_TRUE(client.send_all("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1000000000\r\n\r\n"));
    auto reply = client.read_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 413);
    EXPECT_TRUE(client.closed_by_server());
  }
  {
    Client client(server_->port());  // exactly at the limit is fine
    ASSERT_TRUE(
        client.send_all("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1024\r\n\r\n" + std::string(1024, 'b')));
    auto reply = client.read_reply();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200);
  }
  EXPECT_TRUE(eventually([&] { return counters().too_large == 2; }));
}

long resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

TEST_F(HttpTest, EndlessChunkedBodyIsRefusedWithoutGrowingMemory) {
  start_server();  // body limit 8 KiB
  const long before_kib = resident_kib();
  ASSERT_GT(before_kib, 0);
  Client client(server_->port());
  ASSERT_TRUE(client.send_all("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'c') + "\r\n";  // 64 KiB chunks
  size_t sent_bytes = 0;
  constexpr size_t offered_bytes = size_t{256} << 20;
  while (sent_bytes < offered_bytes && client.send_all(chunk)) sent_bytes += chunk.size();
  // The server answers 413 and closes after a bounded drain, so our sends fail once the kernel's
  // socket buffers are full: long before the whole offer.
  EXPECT_LT(sent_bytes, offered_bytes);
  EXPECT_TRUE(eventually([&] { return counters().too_large == 1; }));
  const long growth_kib = resident_kib() - before_kib;
  EXPECT_LT(growth_kib, 8 * 1024) << "the server buffered what it should have refused";
}

TEST_F(HttpTest, ManyConcurrentConnectionsWithKeepAlive) {
  start_server();
  constexpr int clients = 64;
  constexpr int requests_each = 5;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      Client client(server_->port());
      for (int r = 0; r < requests_each; ++r) {
        if (!client.send_all(get("/health"))) return;
        auto reply = client.read_reply();
        if (reply && reply->status == 200) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok, clients * requests_each);
  EXPECT_TRUE(eventually([&] { return counters().requests_handled == clients * requests_each; }));
  EXPECT_EQ(counters().connections_accepted, uint64_t{clients});  // one connection per client: kept alive
  EXPECT_EQ(counters().connections_refused, 0u);
}

TEST_F(HttpTest, ConnectionsOverTheLimitAre503) {
  HttpConfig config = default_http_config();
  config.connections_max = 2;
  start_server(config);
  Client first(server_->port());
  Client second(server_->port());
  for (Client* client : {&first, &second}) {  // both accepted and kept open
    ASSERT_TRUE(client->send_all(get("/health")));
    ASSERT_EQ(client->read_reply()->status, 200);
  }
  Client third(server_->port());
  ASSERT_TRUE(third.connected());  // the kernel accepts; the server answers busy and closes
  auto reply = third.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 503);
  EXPECT_TRUE(eventually([&] { return counters().connections_refused == 1; }));
  ASSERT_TRUE(first.send_all(get("/health")));  // the admitted ones still work
  EXPECT_EQ(first.read_reply()->status, 200);
}

TEST_F(HttpTest, KeepAliveAndClose) {
  HttpConfig config = default_http_config();
  config.requests_per_connection_max = 3;
  start_server(config);
  {
    Client client(server_->port());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(client.send_all(get("/health")));
      auto reply = client.read_reply();
      ASSERT_TRUE(reply);
      // HTTP/1.1 keeps alive by default: only the closing answer says so.
      EXPECT_EQ(reply->headers["connection"], i < 2 ? "" : "close");
    }
    EXPECT_TRUE(client.closed_by_server());  // requests_per_connection_max reached
  }
  {
    Client client(server_->port());
    ASSERT_TRUE(client.send_all(get("/health", "Connection: close\r\n")));
    EXPECT_EQ(client.read_reply()->status, 200);
    EXPECT_TRUE(client.closed_by_server());
  }
  {
    Client client(server_->port());  // HTTP/1.0 closes by default
    ASSERT_TRUE(client.send_all("GET /health HTTP/1.0\r\n\r\n"));
    EXPECT_EQ(client.read_reply()->status, 200);
    EXPECT_TRUE(client.closed_by_server());
  }
  {
    Client client(server_->port());  // pipelined requests in one write
    ASSERT_TRUE(client.send_all(get("/health") + get("/nope") + get("/health")));
    EXPECT_EQ(client.read_reply()->status, 200);
    EXPECT_EQ(client.read_reply()->status, 404);
    EXPECT_EQ(client.read_reply()->status, 200);
  }
  EXPECT_EQ(counters().connections_accepted, 4u);
}

TEST_F(HttpTest, SlowClientIsClosedAfterTheReadTimeout) {
  HttpConfig config = default_http_config();
  config.read_timeout_ms = 200;
  start_server(config);
  Client client(server_->port());
  ASSERT_TRUE(client.send_all("GET /health HT"));
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_TRUE(eventually([&] { return counters().read_timeouts == 1; }));
}

TEST_F(HttpTest, StopIsPromptWithOpenConnectionsAndRestarts) {
  start_server();
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 20; ++i) {
    idle.push_back(std::make_unique<Client>(server_->port()));
    ASSERT_TRUE(
        idle.back()->send_all(i % 2 == 0 ? get("/health") : "POST /echo HTTP/1.1\r\nContent-Length: 9\r\n\r\nhal"));
  }
  ASSERT_TRUE(eventually([&] { return counters().connections_accepted == 20; }));
  const auto begin = std::chrono::steady_clock::now();
  server_->stop();
  const auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_LT(took, 1s);  // the target is < 100 ms; the bound is generous for loaded machines
  EXPECT_FALSE(server_->running());
  EXPECT_EQ(server_->port(), 0);
  std::string error;
  ASSERT_TRUE(server_->start(error)) << error;
  Client client(server_->port());
  ASSERT_TRUE(client.send_all(get("/health")));
  EXPECT_EQ(client.read_reply()->status, 200);
}

TEST(HttpServer, RefusesBadConfigAndBusyPort) {
  std::string error;
  HttpConfig config = default_http_config();
  config.address = "not-an-address";
  EXPECT_FALSE(HttpServer(config).start(error));
  EXPECT_NE(error.find("not-an-address"), std::string::npos);
  config = default_http_config();
  config.header_bytes_max = 0;
  EXPECT_FALSE(HttpServer(config).start(error));
  HttpServer first(default_http_config());
  ASSERT_TRUE(first.start(error)) << error;
  EXPECT_FALSE(first.start(error));  // already started
  config = default_http_config();
  config.port = first.port();
  EXPECT_FALSE(HttpServer(config).start(error));
}

// parse_and_route: the server's parse+route step without sockets.
HttpRoutes test_routes() {
  HttpRoutes routes;
  routes.add(HttpMethod::get, "/health", [](const HttpRequest&) { return HttpResponse{200, "text/plain", "ok", ""}; });
  return routes;
}

// Found by fuzz_server_http: a chunked body ending at "0\r\n" (the final chunk without its CRLF)
// made parse_and_route call Beast's parser again with the same bytes, which trips an assertion in
// its chunk parser. The server's own read loop only calls it again with more bytes; now so does this.
TEST(HttpParseAndRoute, AChunkedBodyCutAfterTheFinalChunkWaitsForMore) {
  HttpRoutes routes;
  routes.add(HttpMethod::post, "/echo", [](const HttpRequest& r) {
    return HttpResponse{200, "text/plain", r.body, ""};
  });
  HttpCounters counters;
  const std::string head = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  auto exchange = parse_and_route(head + "3\r\nabc\r\n0\r\n", default_http_config(), routes, counters);
  EXPECT_EQ(exchange.outcome, HttpExchange::Outcome::incomplete);
  exchange = parse_and_route(head + "0\r\n", default_http_config(), routes, counters);
  EXPECT_EQ(exchange.outcome, HttpExchange::Outcome::incomplete);
  exchange = parse_and_route(head + "3\r\nabc\r\n0\r\n\r\n", default_http_config(), routes, counters);
  ASSERT_EQ(exchange.outcome, HttpExchange::Outcome::answered);
  EXPECT_EQ(exchange.response.status, 200);
  EXPECT_EQ(exchange.response.body, "abc");
}

TEST(HttpParseAndRoute, CompleteIncompleteAndPipelined) {
  const HttpRoutes routes = test_routes();
  HttpCounters counters;
  const std::string one = get("/health");
  auto exchange = parse_and_route(one + get("/other"), default_http_config(), routes, counters);
  EXPECT_EQ(exchange.outcome, HttpExchange::Outcome::answered);
  EXPECT_EQ(exchange.response.status, 200);
  EXPECT_EQ(exchange.consumed, one.size());
  EXPECT_TRUE(exchange.keep_alive);
  exchange = parse_and_route(one.substr(0, one.size() - 1), default_http_config(), routes, counters);
  EXPECT_EQ(exchange.outcome, HttpExchange::Outcome::incomplete);
  exchange = parse_and_route("", default_http_config(), routes, counters);
  EXPECT_EQ(exchange.outcome, HttpExchange::Outcome::incomplete);
  exchange = parse_and_route(std::string(100000, '\x01'), default_http_config(), routes, counters);
  EXPECT_EQ(exchange.response.status, 400);
  exchange = parse_and_route("GET /x" + std::string(100000, 'x'), default_http_config(), routes, counters);
  EXPECT_EQ(exchange.response.status, 413);
  EXPECT_EQ(counters.requests_handled, 1u);
  EXPECT_EQ(counters.malformed, 1u);
  EXPECT_EQ(counters.too_large, 1u);
}

uint64_t total(const HttpCounters& c) {
  return c.requests_handled + c.malformed + c.too_large + c.not_found + c.method_not_allowed + c.handler_errors;
}

// Any bytes: either the parser waits for more, or exactly one reason is counted and answered.
RC_GTEST_PROP(HttpParseAndRoute, AnyBytesGiveOneAnswerOrWait, (const std::string& bytes)) {
  const HttpRoutes routes = test_routes();
  HttpCounters counters;
  const auto exchange = parse_and_route(bytes, default_http_config(), routes, counters);
  if (exchange.outcome == HttpExchange::Outcome::incomplete) {
    RC_ASSERT(total(counters) == 0u);
  } else {
    RC_ASSERT(total(counters) == 1u);
    RC_ASSERT(exchange.response.status >= 200);
    RC_ASSERT(exchange.response.status < 600);
  }
}

// --- Metrics -------------------------------------------------------------------------------------

std::unique_ptr<Metrics> make_metrics() {
  std::string error;
  auto metrics = Metrics::create(default_metrics_config(), error);
  EXPECT_TRUE(metrics) << error;
  return metrics;
}

// Runs `promtool check metrics` on `text`; returns its exit status and fills `output`.
int promtool_check(const std::string& text, std::string& output) {
  const std::string promtool = STRATA_PROMTOOL;
  if (promtool.empty()) {
    output = "promtool was not found at configure time (install the Debian package prometheus)";
    return -1;
  }
  char input_path[] = "/tmp/strata-metrics-XXXXXX";
  const int fd = ::mkstemp(input_path);
  if (fd < 0) return -1;
  ::close(fd);
  const std::string output_path = std::string(input_path) + ".out";
  std::ofstream(input_path) << text;
  const std::string command = promtool + " check metrics < " + input_path + " > " + output_path + " 2>&1";
  const int status = std::system(command.c_str());
  std::stringstream captured;
  captured << std::ifstream(output_path).rdbuf();
  output = captured.str();
  std::remove(input_path);
  std::remove(output_path.c_str());
  return status;
}

TEST(Metrics, RenderPassesPromtoolWithoutLintWarnings) {
  auto metrics = make_metrics();
  metrics->observe_tick(0.0004, false);
  metrics->observe_tick(0.2, true);
  metrics->set_tick(1234);
  metrics->set_players(17);
  const std::string text = metrics->render();

  std::string output;
  EXPECT_EQ(promtool_check(text, output), 0) << output << "\n--- exposition ---\n" << text;
  EXPECT_EQ(output, "") << "promtool lint problems:\n" << output;

  for (const char* line : {
           "strata_tick_duration_seconds_count 2",
           "strata_tick_duration_seconds_bucket{le=\"0.0005\"} 1",
           "strata_tick_duration_seconds_bucket{le=\"+Inf\"} 2",
           "strata_tick_overruns_total 1",
           "strata_tick 1234",
           "strata_players_connected 17",
       }) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << text;
  }
}

// (The counters' families and their label values: tests/server/edge_counters_test.cpp.)

TEST(Metrics, BadBucketsAreRefused) {
  std::string error;
  MetricsConfig config = default_metrics_config();
  config.tick_duration_buckets_seconds = {0.01, 0.005};
  EXPECT_EQ(Metrics::create(config, error), nullptr);
  EXPECT_FALSE(error.empty());
  config.tick_duration_buckets_seconds = {};
  EXPECT_EQ(Metrics::create(config, error), nullptr);
  config.tick_duration_buckets_seconds = {0, 1};
  EXPECT_EQ(Metrics::create(config, error), nullptr);
}

TEST(Metrics, ServedByHttpServer) {
  auto metrics = make_metrics();
  metrics->set_players(3);
  HttpServer server(default_http_config());
  server.add_route(HttpMethod::get, "/metrics", [&metrics](const HttpRequest&) {
    return HttpResponse{200, std::string(Metrics::content_type), metrics->render(), ""};
  });
  std::string error;
  ASSERT_TRUE(server.start(error)) << error;
  Client client(server.port());
  ASSERT_TRUE(client.send_all(get("/metrics")));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->headers["content-type"], Metrics::content_type);
  EXPECT_NE(reply->body.find("strata_players_connected 3\n"), std::string::npos);
  std::string output;
  EXPECT_EQ(promtool_check(reply->body, output), 0) << output;
}

}  // namespace
}  // namespace strata::server
