// server/http.h — the node's HTTP/1.1 API server (health, login, sessions, replay API, metrics).
// It owns one listening socket, its own I/O thread and the route table; handlers are plain functions
// from a small request struct to a small response struct, so no Boost header leaks out of http.cpp.
//
// Invariants: every byte a client sends is untrusted. A request is parsed under fixed size limits
// (header and body, checked before the bytes are buffered), a connection lives only while it keeps
// sending within its read timeout, and the number of open connections is bounded. Whatever is wrong
// with a request is answered (400/404/405/413, short text body) or the connection is closed, and one
// counter per reason is bumped; nothing a client sends reaches an assertion.
//
// Threads: handlers run on the HTTP thread, one at a time, while the rest of the node runs on other
// threads: a handler must be thread-safe with respect to whatever it reads or writes (atomics, a
// mutex, or a message to the owning thread), and must not block for long (it stalls every client).
// Slow work (a password hash) goes behind a deferred route: its handler hands the request to
// another thread and returns; the answer, given from there, is written on the HTTP thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/limits.h"

namespace strata::server {

struct HttpConfig {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal to bind; "0.0.0.0" to listen everywhere
  uint16_t port = 0;                  // 0: an ephemeral port, read back with HttpServer::port()
  // Bytes of request line + headers. Protects memory: a client cannot make us buffer an endless header.
  uint32_t header_bytes_max = limits::http_header_bytes_default;
  // Bytes of body (after chunked decoding). A larger declared Content-Length is refused before any
  // body byte is read; a chunked body is refused as soon as it grows past this.
  uint32_t body_bytes_max = limits::http_body_bytes_default;
  // Time a client has to deliver a whole request (and, on a kept-alive connection, to start the next
  // one). Protects the connection slots from slow-loris clients that trickle bytes.
  uint32_t read_timeout_ms = limits::http_read_timeout_ms_default;
  // Time we give a client to take our response. Protects the slots from clients that never read.
  uint32_t write_timeout_ms = limits::http_write_timeout_ms_default;
  // Open connections. Protects file descriptors and memory; one more is answered 503 and closed.
  uint32_t connections_max = limits::http_connections_default;
  bool keep_alive = true;  // honour HTTP/1.1 keep-alive (false: one request per connection)
  uint32_t requests_per_connection_max =
      limits::http_requests_per_connection_default;  // then the connection is closed, so no client holds a slot forever
};
[[nodiscard]] HttpConfig default_http_config();

// Upper bounds the config is checked against (start() refuses a config beyond them).
using limits::http_body_bytes_limit;
using limits::http_connections_limit;
using limits::http_header_bytes_limit;

enum class HttpMethod : uint8_t { get, head, post, put, del, patch, options, other, count };
[[nodiscard]] std::string_view name(HttpMethod method);

struct HttpRequest {
  HttpMethod method = HttpMethod::other;
  std::string path;   // the target up to '?', as sent (not percent-decoded); always starts with '/'
  std::string query;  // the target after '?', as sent (not percent-decoded); empty without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // in arrival order, names as sent
  std::string body;
  std::string remote_address;  // the peer's IP address as text (empty outside a connection)

  // The first header of that name (case-insensitive), or empty.
  [[nodiscard]] std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  uint16_t status = 200;  // 100..599; anything else is answered 500 and counted as a handler error
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string allow;  // the Allow header, set on 405 answers
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;
// A handler that answers later (e.g. after a password verification on another thread): it must call
// the reply exactly once, from any thread, before the server is stopped; the connection waits for it
// (it reads no further request meanwhile) and the HTTP thread serves the other connections.
using HttpReply = std::function<void(HttpResponse)>;
using HttpDeferredHandler = std::function<void(const HttpRequest&, HttpReply)>;

// One counter per reason a request is refused or a connection is dropped, readable from any thread.
struct HttpCounters {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};  // over connections_max: answered 503 and closed
  std::atomic<uint64_t> requests_handled{0};     // a handler answered (any status it chose)
  std::atomic<uint64_t> malformed{0};            // 400: not HTTP/1.x, bad header, bad target, bad chunking
  std::atomic<uint64_t> too_large{0};            // 413: header or body over its limit
  std::atomic<uint64_t> not_found{0};            // 404: no route for the path
  std::atomic<uint64_t> method_not_allowed{0};   // 405: the path exists, not with that method
  std::atomic<uint64_t> handler_errors{0};       // 500: a handler threw or returned a bad status
  std::atomic<uint64_t> read_timeouts{0};        // closed: no complete request within read_timeout_ms
  std::atomic<uint64_t> write_timeouts{0};       // closed: the client did not take the response in time
  std::atomic<uint64_t> truncated{0};            // closed by the client in the middle of a request
};

// The route table: exact path match, then method. HEAD is served by the GET handler without the body.
class HttpRoutes {
 public:
  void add(HttpMethod method, std::string path, HttpHandler handler);
  void add_deferred(HttpMethod method, std::string path, HttpDeferredHandler handler);
  // 404/405 when no route fits (counted), the handler's answer otherwise (500 if it throws). A
  // deferred handler that does not answer before it returns is answered 500 here.
  [[nodiscard]] HttpResponse route(const HttpRequest& request, HttpCounters& counters) const;
  // The same, the answer given to `reply` (at once, or later for a deferred handler).
  void route(const HttpRequest& request, HttpCounters& counters, HttpReply reply) const;

 private:
  struct Handler {
    HttpHandler now;
    HttpDeferredHandler deferred;
  };
  std::map<std::string, std::map<HttpMethod, Handler>, std::less<>> routes_;
};

// The result of parse_and_route: what the server would do with these bytes.
struct HttpExchange {
  enum class Outcome : uint8_t {
    answered,    // a complete request (or an error worth answering): `response` is sent
    incomplete,  // the bytes end inside a request: the server waits for more (until its read timeout)
  };
  Outcome outcome = Outcome::incomplete;
  HttpResponse response;
  bool keep_alive = false;  // whether the connection stays open after the response
  size_t consumed = 0;      // bytes of input the request used (on a clean parse)
};

// The server's parse+route step without sockets: the same parser limits, error mapping and routing
// the connections use (the fuzz target drives this). Counts into `counters` like the server does.
[[nodiscard]] HttpExchange parse_and_route(std::string_view bytes, const HttpConfig& config, const HttpRoutes& routes,
                                           HttpCounters& counters);

class HttpServer {
 public:
  explicit HttpServer(HttpConfig config);
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Only before start(): the table is read by the HTTP thread without a lock afterwards.
  void add_route(HttpMethod method, std::string path, HttpHandler handler);
  void add_deferred_route(HttpMethod method, std::string path, HttpDeferredHandler handler);

  // Binds and starts the HTTP thread. False (with the reason in `error`) on a bad config or address,
  // a port in use, or if already started.
  [[nodiscard]] bool start(std::string& error);
  // Closes the listener and every connection and joins the thread; in-flight requests are dropped.
  // Prompt (no waiting on clients). Idempotent; start() may be called again afterwards. Not from a
  // handler (it joins the HTTP thread).
  void stop();

  [[nodiscard]] bool running() const;
  [[nodiscard]] uint16_t port() const;  // the bound port (0 when not running)
  [[nodiscard]] const HttpCounters& counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::server
