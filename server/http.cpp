// server/http.cpp — HttpServer on Boost.Beast: one io_context on one thread, an acceptor, and one
// Session per connection (read a request under the parser's limits, route it, write the answer,
// repeat while kept alive). parse_and_route() is the same parse+route step without sockets.
//
// Invariants: the route table is read-only once the thread runs; a Session's memory is bounded by the
// config (flat_buffer capped at header + body limit, the parser refuses bigger requests before
// buffering them); every Session is owned by its pending handler, so stopping the io_context and
// destroying it frees them all without waiting for any client.

// Boost 1.74 Asio under C++20 with GCC 12 uses std::exchange without including <utility>: keep this
// include before any Asio/Beast header.
#include <utility>

#include "server/http.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace strata::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using RequestParser = http::request_parser<http::string_body>;
using BeastRequest = http::request<http::string_body>;
using BeastResponse = http::response<http::string_body>;

// After an error answer we stop reading requests but keep draining what the client is still sending
// (so it reads our answer instead of a connection reset), at most this much and this long.
constexpr size_t drain_bytes_max = 256 * 1024;
constexpr uint32_t drain_ms_max = 1000;
// Pause before accepting again after an accept error (e.g. out of file descriptors), so the error
// does not turn the HTTP thread into a busy loop.
constexpr uint32_t accept_retry_ms = 50;
// Bytes the read buffer may hold beyond the header limit: a read may bring part of the body or of a
// pipelined next request along with the header.
constexpr uint32_t read_buffer_slack_bytes = 4096;

HttpResponse text_response(uint16_t status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

void configure(RequestParser& parser, const HttpConfig& config) {
  parser.header_limit(config.header_bytes_max);
  parser.body_limit(uint64_t{config.body_bytes_max});
  parser.eager(true);
}

size_t read_buffer_bytes_max(const HttpConfig& config) {
  return size_t{config.header_bytes_max} + config.body_bytes_max + read_buffer_slack_bytes;
}

bool is_size_error(const beast::error_code& ec) {
  return ec == http::error::header_limit || ec == http::error::body_limit || ec == http::error::buffer_overflow;
}

// A parse error worth answering (the client sent something that is not an acceptable request).
HttpResponse answer_parse_error(const beast::error_code& ec, HttpCounters& counters) {
  if (is_size_error(ec)) {
    counters.too_large.fetch_add(1, std::memory_order_relaxed);
    return text_response(413, "request too large\n");
  }
  counters.malformed.fetch_add(1, std::memory_order_relaxed);
  return text_response(400, "malformed request: " + ec.message() + "\n");
}

HttpMethod to_method(http::verb verb) {
  switch (verb) {
    case http::verb::get: return HttpMethod::get;
    case http::verb::head: return HttpMethod::head;
    case http::verb::post: return HttpMethod::post;
    case http::verb::put: return HttpMethod::put;
    case http::verb::delete_: return HttpMethod::del;
    case http::verb::patch: return HttpMethod::patch;
    case http::verb::options: return HttpMethod::options;
    default: return HttpMethod::other;
  }
}

// A completely parsed request as the handlers see it. Only origin-form targets ("/path?query") are
// accepted; any other is malformed (nullopt, counted), and like every malformed request it ends the
// connection (`keep_alive` false).
std::optional<HttpRequest> to_request(BeastRequest&& parsed, HttpCounters& counters, bool& keep_alive) {
  const std::string_view target(parsed.target().data(), parsed.target().size());
  if (target.empty() || target.front() != '/') {
    keep_alive = false;
    counters.malformed.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  HttpRequest request;
  request.method = to_method(parsed.method());
  const size_t question = target.find('?');
  request.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) request.query = std::string(target.substr(question + 1));
  for (const auto& field : parsed) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  request.body = std::move(parsed.body());
  return request;
}

HttpResponse bad_target() { return text_response(400, "malformed request: target must start with '/'\n"); }

// A completely parsed request, routed.
HttpResponse answer_request(BeastRequest&& parsed, const HttpRoutes& routes, HttpCounters& counters, bool& keep_alive) {
  auto request = to_request(std::move(parsed), counters, keep_alive);
  if (!request) return bad_target();
  return routes.route(*request, counters);
}

bool keep_alive_after(const BeastRequest& parsed, const HttpConfig& config, uint32_t requests_done) {
  return config.keep_alive && parsed.keep_alive() && requests_done < config.requests_per_connection_max;
}

void to_beast(const HttpResponse& answer, bool head, bool keep_alive, unsigned version, BeastResponse& out) {
  out = BeastResponse{};
  out.version(version);
  out.result(answer.status);
  out.set(http::field::server, "strata");
  out.set(http::field::content_type, answer.content_type);
  if (!answer.allow.empty()) out.set(http::field::allow, answer.allow);
  out.keep_alive(keep_alive);
  if (head) {
    out.content_length(answer.body.size());
  } else {
    out.body() = answer.body;
    out.prepare_payload();
  }
}

bool has_line_break(std::string_view text) { return text.find_first_of("\r\n") != std::string_view::npos; }

}  // namespace

HttpConfig default_http_config() { return HttpConfig{}; }

std::string_view name(HttpMethod method) {
  switch (method) {
    case HttpMethod::get: return "GET";
    case HttpMethod::head: return "HEAD";
    case HttpMethod::post: return "POST";
    case HttpMethod::put: return "PUT";
    case HttpMethod::del: return "DELETE";
    case HttpMethod::patch: return "PATCH";
    case HttpMethod::options: return "OPTIONS";
    case HttpMethod::other:
    case HttpMethod::count: break;
  }
  return "OTHER";
}

std::string_view HttpRequest::header(std::string_view wanted) const {
  const auto same = [wanted](const std::string& name) {
    return std::equal(name.begin(), name.end(), wanted.begin(), wanted.end(), [](char a, char b) {
      return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
    });
  };
  for (const auto& [name, value] : headers) {
    if (same(name)) return value;
  }
  return {};
}

void HttpRoutes::add(HttpMethod method, std::string path, HttpHandler handler) {
  routes_[std::move(path)][method] = Handler{std::move(handler), {}};
}

void HttpRoutes::add_deferred(HttpMethod method, std::string path, HttpDeferredHandler handler) {
  routes_[std::move(path)][method] = Handler{{}, std::move(handler)};
}

namespace {

// The handler's answer as sent: a bad status or header value becomes a counted 500.
HttpResponse checked(HttpResponse response, HttpCounters& counters) {
  if (response.status < 100 || response.status > 599 || has_line_break(response.content_type) ||
      has_line_break(response.allow)) {
    counters.handler_errors.fetch_add(1, std::memory_order_relaxed);
    return text_response(500, "internal error\n");
  }
  counters.requests_handled.fetch_add(1, std::memory_order_relaxed);
  return response;
}

}  // namespace

HttpResponse HttpRoutes::route(const HttpRequest& request, HttpCounters& counters) const {
  // A deferred handler may answer after this returns (on another thread): the answer then goes to
  // a slot nobody reads any more, never to this frame.
  struct Slot {
    std::mutex mutex;
    std::optional<HttpResponse> answer;
    bool closed = false;
  };
  auto slot = std::make_shared<Slot>();
  route(request, counters, [slot](HttpResponse response) {
    std::lock_guard lock(slot->mutex);
    if (!slot->closed) slot->answer = std::move(response);
  });
  std::lock_guard lock(slot->mutex);
  slot->closed = true;
  if (slot->answer) return std::move(*slot->answer);
  counters.handler_errors.fetch_add(1, std::memory_order_relaxed);  // not answered at once
  return text_response(500, "internal error\n");
}

void HttpRoutes::route(const HttpRequest& request, HttpCounters& counters, HttpReply reply) const {
  const auto path = routes_.find(request.path);
  if (path == routes_.end()) {
    counters.not_found.fetch_add(1, std::memory_order_relaxed);
    reply(text_response(404, "not found\n"));
    return;
  }
  const auto& methods = path->second;
  auto handler = methods.find(request.method);
  if (handler == methods.end() && request.method == HttpMethod::head) handler = methods.find(HttpMethod::get);
  if (handler == methods.end()) {
    counters.method_not_allowed.fetch_add(1, std::memory_order_relaxed);
    HttpResponse response = text_response(405, "method not allowed\n");
    for (const auto& [method, unused] : methods) {
      if (!response.allow.empty()) response.allow += ", ";
      response.allow += name(method);
      if (method == HttpMethod::get && !methods.contains(HttpMethod::head)) response.allow += ", HEAD";
    }
    reply(std::move(response));
    return;
  }
  if (handler->second.deferred) {
    // `answered` keeps a handler that throws after replying from answering twice.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    try {
      handler->second.deferred(request, [&counters, reply, answered](HttpResponse response) mutable {
        if (!answered->exchange(true)) reply(checked(std::move(response), counters));
      });
    } catch (...) {
      counters.handler_errors.fetch_add(1, std::memory_order_relaxed);
      if (!answered->exchange(true)) reply(text_response(500, "internal error\n"));
    }
    return;
  }
  HttpResponse response;
  try {
    response = handler->second.now(request);
  } catch (...) {
    counters.handler_errors.fetch_add(1, std::memory_order_relaxed);
    reply(text_response(500, "internal error\n"));
    return;
  }
  reply(checked(std::move(response), counters));
}

HttpExchange parse_and_route(std::string_view bytes, const HttpConfig& config, const HttpRoutes& routes,
                             HttpCounters& counters) {
  HttpExchange exchange;
  RequestParser parser;
  configure(parser, config);
  // The server reads into a buffer capped at read_buffer_bytes_max and hands the parser what it holds;
  // a full buffer the parser cannot use is its buffer_overflow.
  const size_t cap = read_buffer_bytes_max(config);
  beast::error_code ec;
  while (!parser.is_done()) {
    const size_t available = std::min(bytes.size() - exchange.consumed, cap);
    if (available == 0) return exchange;  // the server would wait for more bytes
    const size_t remaining = bytes.size() - exchange.consumed;
    const size_t used = parser.put(asio::buffer(bytes.data() + exchange.consumed, available), ec);
    exchange.consumed += used;
    if (ec == http::error::need_more) {
      // As Beast's own read loop: the parser is called again only with more bytes than it had.
      // Every byte given: the server would wait for more. (Calling it again with the same bytes
      // trips an assertion of Beast's chunk parser, found by fuzz_server_http.)
      if (available == remaining) return exchange;
      if (used != 0) {
        ec = {};
        continue;  // the window slides: more bytes than before
      }
      ec = http::error::buffer_overflow;  // a full buffer the parser cannot use
    }
    if (ec) {
      exchange.outcome = HttpExchange::Outcome::answered;
      exchange.response = answer_parse_error(ec, counters);
      return exchange;
    }
  }
  const bool head = parser.get().method() == http::verb::head;
  exchange.outcome = HttpExchange::Outcome::answered;
  exchange.keep_alive = keep_alive_after(parser.get(), config, 1);
  exchange.response = answer_request(parser.release(), routes, counters, exchange.keep_alive);
  if (head) exchange.response.body.clear();
  return exchange;
}

struct HttpServer::Impl {
  explicit Impl(HttpConfig config_in) : config(std::move(config_in)) {}

  void accept_next();
  void on_accept(beast::error_code ec, tcp::socket socket);

  const HttpConfig config;
  HttpRoutes routes;
  HttpCounters counters;
  // Destroyed in reverse order by stop(): timer and acceptor before the io_context that runs them.
  std::unique_ptr<asio::io_context> io;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> accept_retry;
  std::thread thread;
  std::atomic<bool> running{false};
  std::atomic<uint16_t> bound_port{0};
  uint32_t connections_open = 0;  // HTTP thread only (and the stopping thread after the join)
};

namespace {

// One connection. Owned by its pending operation's handler (shared_from_this).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpConfig& config, const HttpRoutes& routes, HttpCounters& counters,
          uint32_t& connections_open)
      : stream_(std::move(socket)),
        buffer_(read_buffer_bytes_max(config)),
        config_(config),
        routes_(routes),
        counters_(counters),
        connections_open_(connections_open) {
    ++connections_open_;
  }
  ~Session() { --connections_open_; }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void read_request() {
    parser_.emplace();
    configure(*parser_, config_);
    stream_.expires_after(std::chrono::milliseconds(config_.read_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec == asio::error::operation_aborted || ec == http::error::end_of_stream) return;
    if (ec == beast::error::timeout) {
      counters_.read_timeouts.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const bool parse_error = ec && &ec.category() == &http::make_error_code(http::error::need_more).category();
    if (ec == http::error::partial_message || (ec && !parse_error)) {
      counters_.truncated.fetch_add(1, std::memory_order_relaxed);  // closed or reset mid-request
      return;
    }
    if (ec) {
      write_answer(answer_parse_error(ec, counters_), false, false, 11);
      return;
    }
    ++requests_done_;
    const bool head = parser_->get().method() == http::verb::head;
    bool keep_alive = keep_alive_after(parser_->get(), config_, requests_done_);
    const unsigned version = parser_->get().version();
    auto request = to_request(parser_->release(), counters_, keep_alive);
    parser_.reset();
    if (!request) {
      write_answer(bad_target(), head, keep_alive, version);
      return;
    }
    beast::error_code ec_peer;
    const auto peer = stream_.socket().remote_endpoint(ec_peer);
    if (!ec_peer) {
      const auto address = peer.address();
      request->remote_address = address.is_v6() && address.to_v6().is_v4_mapped()
                                    ? asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string()
                                    : address.to_string();
    }
    // The answer is written on the HTTP thread, whichever thread gives it. The session moves into
    // the posted handler, so the reply's copy (on a verifier thread) never frees the session there.
    routes_.route(*request, counters_,
                  [self = shared_from_this(), head, keep_alive, version](HttpResponse answer) mutable {
                    auto executor = self->stream_.get_executor();
                    asio::post(executor, [self = std::move(self), answer = std::move(answer), head, keep_alive,
                                          version] { self->write_answer(answer, head, keep_alive, version); });
                  });
  }

  void write_answer(const HttpResponse& answer, bool head, bool keep_alive, unsigned version) {
    to_beast(answer, head, keep_alive, version, response_);
    stream_.expires_after(std::chrono::milliseconds(config_.write_timeout_ms));
    http::async_write(stream_, response_, [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
      self->on_write(ec, keep_alive);
    });
  }

  void on_write(beast::error_code ec, bool keep_alive) {
    if (ec == beast::error::timeout) counters_.write_timeouts.fetch_add(1, std::memory_order_relaxed);
    if (ec) return;
    if (keep_alive) {
      read_request();
      return;
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::milliseconds(std::min(config_.read_timeout_ms, drain_ms_max)));
    drain();
  }

  // Reads and discards what the client still sends, so closing does not reset the connection under
  // the answer it has not read yet. Bounded by drain_bytes_max and the timer set by on_write.
  void drain() {
    stream_.async_read_some(asio::buffer(drain_buffer_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->drained_bytes_ += n;
      if (!ec && self->drained_bytes_ < drain_bytes_max) self->drain();
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  BeastResponse response_;
  std::array<char, 4096> drain_buffer_{};
  size_t drained_bytes_ = 0;
  uint32_t requests_done_ = 0;
  const HttpConfig& config_;
  const HttpRoutes& routes_;
  HttpCounters& counters_;
  uint32_t& connections_open_;
};

std::string check_config(const HttpConfig& config) {
  if (config.header_bytes_max == 0 || config.header_bytes_max > http_header_bytes_limit) {
    return "http header_bytes_max must be in 1.." + std::to_string(http_header_bytes_limit);
  }
  if (config.body_bytes_max > http_body_bytes_limit) {
    return "http body_bytes_max must be at most " + std::to_string(http_body_bytes_limit);
  }
  if (config.connections_max == 0 || config.connections_max > http_connections_limit) {
    return "http connections_max must be in 1.." + std::to_string(http_connections_limit);
  }
  if (config.read_timeout_ms == 0 || config.write_timeout_ms == 0) return "http timeouts must be positive";
  if (config.requests_per_connection_max == 0) return "http requests_per_connection_max must be positive";
  return {};
}

}  // namespace

void HttpServer::Impl::accept_next() {
  acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
}

void HttpServer::Impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted) return;
  if (ec) {
    accept_retry->expires_after(std::chrono::milliseconds(accept_retry_ms));
    accept_retry->async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec) accept_next();
    });
    return;
  }
  if (connections_open >= config.connections_max) {
    counters.connections_refused.fetch_add(1, std::memory_order_relaxed);
    // The answer fits in the new socket's send buffer: one non-blocking write, no state kept.
    static constexpr std::string_view busy =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 5\r\nConnection: close\r\n\r\nbusy\n";
    beast::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(asio::buffer(busy.data(), busy.size()), ignored);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
  } else {
    counters.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    std::make_shared<Session>(std::move(socket), config, routes, counters, connections_open)->read_request();
  }
  accept_next();
}

HttpServer::HttpServer(HttpConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::add_route(HttpMethod method, std::string path, HttpHandler handler) {
  if (impl_->running.load()) throw std::logic_error("HttpServer::add_route after start()");
  impl_->routes.add(method, std::move(path), std::move(handler));
}

void HttpServer::add_deferred_route(HttpMethod method, std::string path, HttpDeferredHandler handler) {
  if (impl_->running.load()) throw std::logic_error("HttpServer::add_deferred_route after start()");
  impl_->routes.add_deferred(method, std::move(path), std::move(handler));
}

bool HttpServer::start(std::string& error) {
  if (impl_->running.load()) {
    error = "http server already started";
    return false;
  }
  error = check_config(impl_->config);
  if (!error.empty()) return false;
  beast::error_code ec;
  const auto address = asio::ip::make_address(impl_->config.address, ec);
  if (ec) {
    error = "http address '" + impl_->config.address + "': " + ec.message();
    return false;
  }
  auto io = std::make_unique<asio::io_context>(1);
  auto acceptor = std::make_unique<tcp::acceptor>(*io);
  const tcp::endpoint endpoint(address, impl_->config.port);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  tcp::endpoint bound;
  if (!ec) bound = acceptor->local_endpoint(ec);
  if (ec) {
    error = "http listen on " + impl_->config.address + ":" + std::to_string(impl_->config.port) + ": " + ec.message();
    return false;
  }
  impl_->bound_port.store(bound.port());
  impl_->accept_retry = std::make_unique<asio::steady_timer>(*io);
  impl_->acceptor = std::move(acceptor);
  impl_->io = std::move(io);
  impl_->accept_next();
  impl_->running.store(true);
  impl_->thread = std::thread([io = impl_->io.get()] { io->run(); });
  return true;
}

void HttpServer::stop() {
  if (!impl_->running.load()) return;
  impl_->io->stop();
  impl_->thread.join();
  // Destroying the io_context destroys the pending handlers, hence every Session and its socket.
  impl_->accept_retry.reset();
  impl_->acceptor.reset();
  impl_->io.reset();
  impl_->bound_port.store(0);
  impl_->running.store(false);
}

bool HttpServer::running() const { return impl_->running.load(); }

uint16_t HttpServer::port() const { return impl_->bound_port.load(); }

const HttpCounters& HttpServer::counters() const { return impl_->counters; }

}  // namespace strata::server
