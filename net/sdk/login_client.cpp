// net/sdk/login_client.cpp — see login_client.h.
#include <utility>  // before Asio (Boost 1.74 + C++20 + GCC 12)

#include "net/sdk/login_client.h"

#include <sodium.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <strings.h>

namespace strata::sdk {

namespace {

constexpr size_t response_bytes_max = size_t{64} * 1024;  // headers and body of one reply

// Where the header block ends (after "\r\n\r\n"), or npos.
size_t header_end(const std::string& data) {
  const size_t at = data.find("\r\n\r\n");
  return at == std::string::npos ? at : at + 4;
}

// The value of a header (case-insensitive name) in a header block, or empty.
std::string header_value(const std::string& headers, const char* name) {
  const size_t name_size = std::strlen(name);
  size_t line = headers.find("\r\n");
  while (line != std::string::npos && line + 2 < headers.size()) {
    const size_t start = line + 2;
    const size_t end = headers.find("\r\n", start);
    if (end == std::string::npos) break;
    if (end - start > name_size && headers[start + name_size] == ':' &&
        ::strncasecmp(headers.c_str() + start, name, name_size) == 0) {
      size_t v = start + name_size + 1;
      while (v < end && headers[v] == ' ') ++v;
      return headers.substr(v, end - v);
    }
    line = end;
  }
  return {};
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

// The status code of "HTTP/1.1 NNN ...", or 0.
uint16_t status_of(const std::string& response) {
  if (response.size() < 12 || response.rfind("HTTP/1.", 0) != 0) return 0;
  const unsigned long status = std::strtoul(response.c_str() + 9, nullptr, 10);
  return status >= 100 && status <= 599 ? static_cast<uint16_t>(status) : 0;
}

// The server's reason code ({"error":"code",...}), only if it is a plain word.
std::string reason_of(const std::string& body) {
  const size_t key = body.find("\"error\":\"");
  if (key == std::string::npos) return "?";
  std::string code;
  for (size_t i = key + 9; i < body.size() && code.size() < 40; ++i) {
    const char c = body[i];
    if (!((c >= 'a' && c <= 'z') || c == '_')) break;
    code += c;
  }
  return code.empty() ? "?" : code;
}

std::optional<LoginReply> parse_reply(const std::string& response, const std::string& body,
                                      const boost::asio::ip::address& peer, std::string& error) {
  const size_t key = body.find("\"token\":\"");
  const size_t player_key = body.find("\"player\":");
  if (status_of(response) != 200 || key == std::string::npos || player_key == std::string::npos) {
    error = "login refused: " + std::to_string(status_of(response)) + " " + reason_of(body);
    return std::nullopt;
  }
  LoginReply reply;
  reply.player = static_cast<uint32_t>(std::strtoul(body.c_str() + player_key + 9, nullptr, 10));
  const size_t start = key + 9;
  const size_t end = body.find('"', start);
  if (end == std::string::npos) {
    error = "login answered an unterminated token";
    return std::nullopt;
  }
  const std::string b64 = body.substr(start, end - start);
  reply.token.resize(b64.size());
  size_t length = 0;
  if (sodium_base642bin(reply.token.data(), reply.token.size(), b64.data(), b64.size(), nullptr, &length, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    error = "login answered an undecodable token";
    return std::nullopt;
  }
  reply.token.resize(length);
  if (const size_t tcp_key = body.find("\"tcp_port\":"); tcp_key != std::string::npos) {
    const unsigned long tcp_port = std::strtoul(body.c_str() + tcp_key + 11, nullptr, 10);
    if (tcp_port > 0 && tcp_port <= 65535 && peer.is_v4()) {
      const auto b = peer.to_v4().to_bytes();
      reply.tcp_port = static_cast<uint16_t>(tcp_port);
      reply.server_tcp = net::make_ipv4(b[0], b[1], b[2], b[3], reply.tcp_port);
    }
  }
  return reply;
}

}  // namespace

struct LoginClient::Impl {
  std::string host;
  uint16_t port = 0;
  boost::asio::io_context io;
  std::optional<boost::asio::ip::tcp::socket> socket;  // open between logins while kept alive
};

LoginClient::LoginClient(std::string host, uint16_t port) : impl_(std::make_unique<Impl>()) {
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
  // A kept-alive connection may have been closed by the server meanwhile: then one more try on a
  // fresh connection (a login is idempotent for a name; a ticket is single use, so a ticket login
  // that the server took before the connection failed is refused as replayed on the retry).
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = impl_->socket.has_value();
    try {
      if (!impl_->socket) {
        boost::asio::ip::tcp::resolver resolver(impl_->io);
        impl_->socket.emplace(impl_->io);
        boost::asio::connect(*impl_->socket, resolver.resolve(impl_->host, std::to_string(impl_->port)));
        connections_opened_ += 1;
      }
      boost::asio::ip::tcp::socket& socket = *impl_->socket;
      boost::asio::write(socket, boost::asio::buffer(request));
      std::string response;
      char buffer[4096];
      size_t headers_size = std::string::npos;
      while ((headers_size = header_end(response)) == std::string::npos) {
        if (response.size() > response_bytes_max) throw std::runtime_error("response headers too long");
        response.append(buffer, socket.read_some(boost::asio::buffer(buffer)));
      }
      const std::string headers = response.substr(0, headers_size);
      const std::string length_text = header_value(headers, "Content-Length");
      const bool close = ::strcasecmp(header_value(headers, "Connection").c_str(), "close") == 0;
      if (length_text.empty()) throw std::runtime_error("response without Content-Length");
      const unsigned long length = std::strtoul(length_text.c_str(), nullptr, 10);
      if (length > response_bytes_max) throw std::runtime_error("response body too long");
      while (response.size() < headers_size + length)
        response.append(buffer, socket.read_some(boost::asio::buffer(buffer)));
      const std::string reply_body = response.substr(headers_size, length);
      const auto peer = socket.remote_endpoint().address();
      if (close || response.size() != headers_size + length) impl_->socket.reset();
      last_status_ = status_of(response);
      return parse_reply(response, reply_body, peer, error);
    } catch (const std::exception& e) {
      impl_->socket.reset();
      error = std::string("login failed: ") + e.what();
      if (!reused) return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<LoginReply> http_login(const std::string& host, uint16_t port, const std::string& name,
                                     std::string& error, bool observer) {
  LoginClient client(host, port);
  return client.login(name, error, observer);
}

std::optional<LoginReply> http_login(const std::string& host, uint16_t port, const std::string& name,
                                     std::string& error, const LoginCredentials& credentials) {
  LoginClient client(host, port);
  return client.login(name, error, credentials);
}

}  // namespace strata::sdk
