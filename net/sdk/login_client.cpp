// net/sdk/login_client.cpp — see login_client.h.
#include <utility>  // before Asio (Boost 1.74 + C++20 + GCC 12)

#include "net/sdk/login_client.h"

#include <sodium.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

namespace strata::sdk {

namespace {
constexpr size_t response_bytes_max = size_t{64} * 1024;
}

std::optional<LoginReply> http_login(const std::string& host, uint16_t port, const std::string& name,
                                     std::string& error, bool observer) {
  try {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    boost::asio::ip::tcp::resolver resolver(io);
    boost::asio::connect(socket, resolver.resolve(host, std::to_string(port)));
    const std::string body = "{\"name\":\"" + name + "\"" + (observer ? ",\"role\":\"observer\"" : "") + "}";
    const std::string request = "POST /api/login HTTP/1.1\r\nHost: " + host +
                                "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                                "\r\nConnection: close\r\n\r\n" + body;
    boost::asio::write(socket, boost::asio::buffer(request));
    std::string response;
    boost::system::error_code ec;
    char buffer[4096];
    while (response.size() <= response_bytes_max) {
      const size_t n = socket.read_some(boost::asio::buffer(buffer), ec);
      response.append(buffer, n);
      if (ec) break;
    }
    const size_t key = response.find("\"token\":\"");
    const size_t player_key = response.find("\"player\":");
    if (response.rfind("HTTP/1.1 200", 0) != 0 || key == std::string::npos || player_key == std::string::npos) {
      error = "login refused: " + response.substr(0, std::min<size_t>(response.size(), 200));
      return std::nullopt;
    }
    LoginReply reply;
    reply.player = static_cast<uint32_t>(std::strtoul(response.c_str() + player_key + 9, nullptr, 10));
    const size_t start = key + 9;
    const std::string b64 = response.substr(start, response.find('"', start) - start);
    reply.token.resize(b64.size());
    size_t length = 0;
    if (sodium_base642bin(reply.token.data(), reply.token.size(), b64.data(), b64.size(), nullptr, &length, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
      error = "login answered an undecodable token";
      return std::nullopt;
    }
    reply.token.resize(length);
    if (const size_t tcp_key = response.find("\"tcp_port\":"); tcp_key != std::string::npos) {
      const unsigned long tcp_port = std::strtoul(response.c_str() + tcp_key + 11, nullptr, 10);
      const auto peer = socket.remote_endpoint().address();
      if (tcp_port > 0 && tcp_port <= 65535 && peer.is_v4()) {
        const auto b = peer.to_v4().to_bytes();
        reply.tcp_port = static_cast<uint16_t>(tcp_port);
        reply.server_tcp = net::make_ipv4(b[0], b[1], b[2], b[3], reply.tcp_port);
      }
    }
    return reply;
  } catch (const std::exception& e) {
    error = std::string("login failed: ") + e.what();
    return std::nullopt;
  }
}

}  // namespace strata::sdk
