// net/sdk/login_client.cpp — see login_client.h.
#include <utility>  // before Asio (Boost 1.74 + C++20 + GCC 12)

#include "net/sdk/login_client.h"

#include <sodium.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <strings.h>

namespace strata::sdk {

namespace {

// Where the header block ends (after "\r\n\r\n"), or npos.
size_t header_end(std::string_view data) {
  const size_t at = data.find("\r\n\r\n");
  return at == std::string_view::npos ? at : at + 4;
}

// The value of a header (case-insensitive name) in a header block, or empty.
std::string header_value(std::string_view headers, const char* name) {
  const size_t name_size = std::strlen(name);
  size_t line = headers.find("\r\n");
  while (line != std::string_view::npos && line + 2 < headers.size()) {
    const size_t start = line + 2;
    const size_t end = headers.find("\r\n", start);
    if (end == std::string_view::npos) break;
    if (end - start > name_size && headers[start + name_size] == ':' &&
        ::strncasecmp(headers.data() + start, name, name_size) == 0) {
      size_t v = start + name_size + 1;
      while (v < end && headers[v] == ' ') ++v;
      return std::string(headers.substr(v, end - v));
    }
    line = end;
  }
  return {};
}

// A decimal number of at most `digits_max` digits at the start of `text` (after spaces), or nullopt.
std::optional<uint64_t> leading_number(std::string_view text, size_t digits_max) {
  size_t at = 0;
  while (at < text.size() && text[at] == ' ') ++at;
  uint64_t value = 0;
  size_t digits = 0;
  while (at < text.size() && text[at] >= '0' && text[at] <= '9' && digits < digits_max) {
    value = value * 10 + static_cast<uint64_t>(text[at] - '0');
    ++at, ++digits;
  }
  if (digits == 0 || (at < text.size() && text[at] >= '0' && text[at] <= '9')) return std::nullopt;
  return value;
}

// A JSON string's content: quotes, backslashes and control characters escaped; other bytes as given.
std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + '"';
}

// The status code of "HTTP/1.x NNN ...", or 0.
uint16_t status_of(std::string_view response) {
  if (response.size() < 12 || !response.starts_with("HTTP/1.")) return 0;
  const std::optional<uint64_t> status = leading_number(response.substr(9, 3), 3);
  return status && *status >= 100 && *status <= 599 ? static_cast<uint16_t>(*status) : 0;
}

// The server's reason code ({"error":"code",...}), only if it is a plain word.
std::string reason_of(std::string_view body) {
  const size_t key = body.find("\"error\":\"");
  if (key == std::string_view::npos) return "?";
  std::string code;
  for (size_t i = key + 9; i < body.size() && code.size() < 40; ++i) {
    const char c = body[i];
    if (!((c >= 'a' && c <= 'z') || c == '_')) break;
    code += c;
  }
  return code.empty() ? "?" : code;
}

}  // namespace

ResponseFrame frame_response(std::string_view data) {
  ResponseFrame frame;
  const size_t headers_size = header_end(data);
  if (headers_size == std::string_view::npos) {
    if (data.size() > login_response_bytes_max) frame.failed = true, frame.error = "response headers too long";
    return frame;
  }
  const std::string_view headers = data.substr(0, headers_size);
  const std::string length_text = header_value(headers, "Content-Length");
  if (length_text.empty()) {
    frame.failed = true, frame.error = "response without Content-Length";
    return frame;
  }
  const std::optional<uint64_t> length = leading_number(length_text, 9);
  if (!length || *length > login_response_bytes_max) {
    frame.failed = true, frame.error = "response body too long or its length unreadable";
    return frame;
  }
  frame.close = ::strcasecmp(header_value(headers, "Connection").c_str(), "close") == 0;
  frame.headers_bytes = headers_size;
  frame.body_bytes = static_cast<size_t>(*length);
  frame.complete = data.size() >= headers_size + frame.body_bytes;
  return frame;
}

std::optional<LoginReply> parse_login_reply(std::string_view head, std::string_view body,
                                            const std::optional<std::array<uint8_t, 4>>& peer_v4, std::string& error) {
  const size_t key = body.find("\"token\":\"");
  const size_t player_key = body.find("\"player\":");
  if (status_of(head) != 200 || key == std::string_view::npos || player_key == std::string_view::npos) {
    error = "login refused: " + std::to_string(status_of(head)) + " " + reason_of(body);
    return std::nullopt;
  }
  LoginReply reply;
  const std::optional<uint64_t> player = leading_number(body.substr(player_key + 9), 10);
  if (!player || *player > UINT32_MAX) {
    error = "login answered an unreadable player id";
    return std::nullopt;
  }
  reply.player = static_cast<uint32_t>(*player);
  const size_t start = key + 9;
  const size_t end = body.find('"', start);
  if (end == std::string_view::npos) {
    error = "login answered an unterminated token";
    return std::nullopt;
  }
  const std::string_view b64 = body.substr(start, end - start);
  reply.token.resize(b64.size());
  size_t length = 0;
  if (sodium_base642bin(reply.token.data(), reply.token.size(), b64.data(), b64.size(), nullptr, &length, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    error = "login answered an undecodable token";
    return std::nullopt;
  }
  reply.token.resize(length);
  if (const size_t tcp_key = body.find("\"tcp_port\":"); tcp_key != std::string_view::npos) {
    const std::optional<uint64_t> tcp_port = leading_number(body.substr(tcp_key + 11), 5);
    if (tcp_port && *tcp_port > 0 && *tcp_port <= 65535 && peer_v4) {
      const auto& b = *peer_v4;
      reply.tcp_port = static_cast<uint16_t>(*tcp_port);
      reply.server_tcp = net::make_ipv4(b[0], b[1], b[2], b[3], reply.tcp_port);
    }
  }
  return reply;
}

struct LoginClient::Impl {
  std::string host;
  uint16_t port = 0;
  boost::asio::io_context io;
  std::optional<boost::asio::ip::tcp::socket> socket;  // open between logins while kept alive
  std::chrono::steady_clock::time_point deadline;      // of the login under way

  // Runs one asynchronous operation started by `start` (which is given the completion handler)
  // until it completes or the login's deadline passes; then the socket is closed (the operation
  // ends aborted) and a timeout is thrown.
  template <class Start>
  size_t run(Start&& start) {
    boost::system::error_code result;
    size_t bytes = 0;
    bool done = false;
    start([&](const boost::system::error_code& ec, size_t n = 0) { result = ec, bytes = n, done = true; });
    io.restart();
    while (!done && io.run_one_until(deadline) > 0) {
    }
    if (!done) {
      boost::system::error_code ignored;
      socket->close(ignored);  // the operation completes (aborted) in the run below
      io.restart();
      io.run();
      throw std::runtime_error("timed out");
    }
    if (result) throw boost::system::system_error(result);
    return bytes;
  }
};

LoginClient::LoginClient(std::string host, uint16_t port, uint32_t timeout_ms)
    : impl_(std::make_unique<Impl>()), timeout_ms_(timeout_ms) {
  impl_->host = std::move(host);
  impl_->port = port;
}

LoginClient::~LoginClient() = default;

std::optional<LoginReply> LoginClient::login(const std::string& name, std::string& error, bool observer) {
  LoginCredentials credentials;
  credentials.observer = observer;
  return login(name, error, credentials);
}

std::optional<LoginReply> LoginClient::login(const std::string& name, std::string& error,
                                             const LoginCredentials& credentials) {
  last_status_ = 0;
  std::string body = "{";
  auto member = [&body](const char* key, const std::string& value) {
    if (body.size() > 1) body += ',';
    body += '"';
    body += key;
    body += "\":";
    body += json_string(value);
  };
  if (!name.empty()) member("name", name);
  if (!credentials.password.empty()) member("password", credentials.password);
  if (!credentials.ticket.empty()) member("ticket", credentials.ticket);
  if (credentials.observer) member("role", "observer");
  body += '}';
  std::string authorization;
  if (!credentials.admin_token.empty()) {
    for (char c : credentials.admin_token) {
      if (c == '\r' || c == '\n') {
        error = "the admin token has a line break";
        return std::nullopt;
      }
    }
    authorization = "Authorization: Bearer " + credentials.admin_token + "\r\n";
  }
  const std::string request = "POST /api/login HTTP/1.1\r\nHost: " + impl_->host +
                              "\r\nContent-Type: application/json\r\n" + authorization +
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  Impl& impl = *impl_;
  impl.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
  // A kept-alive connection may have been closed by the server meanwhile: then one more try on a
  // fresh connection (a login is idempotent for a name; a ticket is single use, so a ticket login
  // that the server took before the connection failed is refused as replayed on the retry).
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = impl.socket.has_value();
    try {
      if (!impl.socket) {
        boost::asio::ip::tcp::resolver resolver(impl.io);
        const auto endpoints = resolver.resolve(impl.host, std::to_string(impl.port));
        impl.socket.emplace(impl.io);
        impl.run([&](auto handler) {
          boost::asio::async_connect(*impl.socket, endpoints,
                                     [handler](const boost::system::error_code& ec, const auto&) { handler(ec); });
        });
        connections_opened_ += 1;
      }
      boost::asio::ip::tcp::socket& socket = *impl.socket;
      impl.run([&](auto handler) { boost::asio::async_write(socket, boost::asio::buffer(request), handler); });
      std::string response;
      char buffer[4096];
      ResponseFrame frame;
      while (!(frame = frame_response(response)).complete) {
        if (frame.failed) throw std::runtime_error(frame.error);
        const size_t n = impl.run([&](auto handler) { socket.async_read_some(boost::asio::buffer(buffer), handler); });
        response.append(buffer, n);
      }
      const auto peer = socket.remote_endpoint().address();
      std::optional<std::array<uint8_t, 4>> peer_v4;
      if (peer.is_v4()) peer_v4 = peer.to_v4().to_bytes();
      if (frame.close || response.size() != frame.headers_bytes + frame.body_bytes) impl.socket.reset();
      const std::string_view all(response);
      last_status_ = status_of(all.substr(0, frame.headers_bytes));
      return parse_login_reply(all.substr(0, frame.headers_bytes), all.substr(frame.headers_bytes, frame.body_bytes),
                               peer_v4, error);
    } catch (const std::exception& e) {
      impl.socket.reset();
      error = std::string("login failed: ") + e.what();
      if (!reused || std::chrono::steady_clock::now() >= impl.deadline) return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<LoginReply> http_login(const std::string& host, uint16_t port, const std::string& name,
                                     std::string& error, bool observer, uint32_t timeout_ms) {
  LoginClient client(host, port, timeout_ms);
  return client.login(name, error, observer);
}

std::optional<LoginReply> http_login(const std::string& host, uint16_t port, const std::string& name,
                                     std::string& error, const LoginCredentials& credentials, uint32_t timeout_ms) {
  LoginClient client(host, port, timeout_ms);
  return client.login(name, error, credentials);
}

}  // namespace strata::sdk
