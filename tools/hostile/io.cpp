// tools/hostile/io.cpp — see io.h.
#include <utility>  // before Asio (Boost 1.74 + C++20 + GCC 12)

#include "tools/hostile/io.h"

#include <boost/asio/io_context.hpp>
#include <cstddef>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "net/sdk/login_client.h"

namespace strata::hostile {

namespace {

constexpr size_t http_response_bytes_max = 64 * 1024;

double elapsed_ms(uint64_t since_us) { return static_cast<double>(steady_now_us() - since_us) / 1e3; }

}  // namespace

int tcp_connect(const Target& target, uint16_t port, int timeout_ms, int receive_buffer_bytes) {
  const int fd = ::socket(target.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (receive_buffer_bytes > 0)
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof(receive_buffer_bytes));
  const sockaddr_storage to = target.with_port(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), target.address_size) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int error = 0;
  socklen_t size = sizeof(error);
  if (::poll(&p, 1, timeout_ms) != 1 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0 || error != 0) {
    ::close(fd);
    return -1;
  }
  (void)::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

bool peer_closed(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) != 1) return false;
  if ((p.revents & (POLLERR | POLLHUP | POLLRDHUP)) != 0) return true;
  char byte = 0;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

HttpResult http_exchange(const Target& target, uint16_t port, const std::string& request, int timeout_ms) {
  HttpResult result;
  const uint64_t start = steady_now_us();
  const uint64_t deadline = start + static_cast<uint64_t>(timeout_ms) * 1000;
  const int fd = tcp_connect(target, port, timeout_ms);
  if (fd < 0) {
    result.timed_out = steady_now_us() >= deadline;
    result.latency_ms = elapsed_ms(start);
    return result;
  }
  auto left_ms = [&] {
    const uint64_t now = steady_now_us();
    return now >= deadline ? 0 : static_cast<int>((deadline - now) / 1000) + 1;
  };
  size_t sent = 0;
  while (sent < request.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, left_ms()) != 1) break;
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0 && errno != EAGAIN) break;
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string response;
  char buffer[4096];
  for (;;) {
    const sdk::ResponseFrame frame = sdk::frame_response(response);
    if (frame.complete || frame.failed || response.size() > http_response_bytes_max) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, left_ms()) != 1) {
      result.timed_out = true;
      break;
    }
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n <= 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  result.latency_ms = elapsed_ms(start);
  if (response.rfind("HTTP/1.", 0) == 0 && response.size() >= 12) result.status = std::atoi(response.c_str() + 9);
  return result;
}

std::string login_request(const std::string& body) {
  return "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: "
         "close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

void count_send(Report& report, const std::string& prefix, net::SendResult result) {
  switch (result) {
    case net::SendResult::ok: report.add(prefix + "_queued"); break;
    case net::SendResult::too_large: report.add(prefix + "_too_large_for_the_client"); break;
    case net::SendResult::queue_full: report.add(prefix + "_queue_full"); break;
    case net::SendResult::not_connected: report.add(prefix + "_not_connected"); break;
  }
}

// The session's UDP output: sent, and kept (the first captured_max) for the replay attacks.
class Session::UdpCapture : public net::DatagramSink {
 public:
  UdpCapture(net::UdpSocket& socket, std::vector<std::vector<uint8_t>>& captured)
      : socket_(socket), captured_(captured) {}
  void send_datagram(net::TransportKind kind, const net::Address& to, std::span<const uint8_t> data) override {
    if (captured_.size() < captured_max) captured_.emplace_back(data.begin(), data.end());
    socket_.send_datagram(kind, to, data);
  }

 private:
  net::UdpSocket& socket_;
  std::vector<std::vector<uint8_t>>& captured_;
};

// The session's TCP output: u16 little-endian length, then the packet (net/transport.h's framing).
// A frame the socket will not take now is dropped (the server's reads decide our pace).
class Session::StreamSink : public net::DatagramSink {
 public:
  StreamSink(int fd, uint64_t& dropped) : fd_(fd), dropped_(dropped) {}
  void send_datagram(net::TransportKind, const net::Address&, std::span<const uint8_t> data) override {
    std::vector<uint8_t> frame(2 + data.size());
    frame[0] = static_cast<uint8_t>(data.size() & 0xFF);
    frame[1] = static_cast<uint8_t>(data.size() >> 8);
    std::copy(data.begin(), data.end(), frame.begin() + 2);
    const ssize_t n = ::send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n != static_cast<ssize_t>(frame.size())) dropped_ += 1;  // a partial frame desyncs: rare on loopback
  }

 private:
  int fd_;
  uint64_t& dropped_;
};

Session::Session() : io_(std::make_unique<boost::asio::io_context>()) {}

Session::~Session() {
  if (client_ && client_->state() == net::ClientState::connected) {
    client_->disconnect(net::DisconnectReason::requested, net::system_now_us());
    pump(0);
  }
  if (stream_fd_ >= 0) ::close(stream_fd_);
}

bool Session::open(Run& run, const std::string& name, bool tcp, int receive_buffer_bytes, int timeout_ms,
                   std::string& error, bool observer) {
  const Options& o = run.options;
  const auto reply = sdk::http_login(o.host, o.http_port, name, error, observer, static_cast<uint32_t>(timeout_ms));
  if (!reply) return false;
  net::ClientConfig config = net::default_client_config();
  const uint64_t now = net::system_now_us();
  if (tcp) {
    const uint16_t port = o.tcp_port != 0 ? o.tcp_port : reply->tcp_port;
    stream_fd_ = tcp_connect(run.target, port, timeout_ms, receive_buffer_bytes);
    if (stream_fd_ < 0) {
      error = "TCP connect failed";
      return false;
    }
    (void)::fcntl(stream_fd_, F_SETFL, ::fcntl(stream_fd_, F_GETFL) | O_NONBLOCK);
    config.transport = net::TransportKind::stream;
    client_ = std::make_unique<net::Client>(config);
    stream_peer_ = net::make_ipv4(127, 0, 0, 1, port);
    stream_sink_ = std::make_unique<StreamSink>(stream_fd_, stream_frames_dropped_);
    if (!client_->connect_stream(reply->token, stream_peer_, now)) {
      error = "the client refused the token";
      return false;
    }
  } else {
    socket_ = net::UdpSocket::open(*io_, net::default_udp_config(), error);
    if (!socket_) return false;
    udp_sink_ = std::make_unique<UdpCapture>(*socket_, captured_);
    client_ = std::make_unique<net::Client>(config);
    if (!client_->connect(reply->token, now)) {
      error = "the client refused the token";
      return false;
    }
  }
  const uint64_t deadline = steady_now_us() + static_cast<uint64_t>(timeout_ms) * 1000;
  // An observer gets no welcome: connected is enough.
  auto ready = [&] { return connected() && (welcome_ || observer); };
  while (!ready() && steady_now_us() < deadline && !run.over()) {
    pump();
    if (client_->state() == net::ClientState::failed || client_->state() == net::ClientState::disconnected) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!ready()) {
    error = "handshake did not complete (state " + std::to_string(static_cast<int>(client_->state())) + ")";
    return false;
  }
  return true;
}

void Session::receive_stream(size_t read_bytes_max, uint64_t now) {
  uint8_t buffer[4096];
  size_t read = 0;
  while (read < read_bytes_max && !stream_closed_) {
    const size_t want = std::min(sizeof(buffer), read_bytes_max - read);
    const ssize_t n = ::recv(stream_fd_, buffer, want, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) stream_closed_ = true;
    if (n <= 0) break;
    read += static_cast<size_t>(n);
    stream_buffer_.insert(stream_buffer_.end(), buffer, buffer + n);
  }
  size_t at = 0;
  while (stream_buffer_.size() - at >= 2) {
    const size_t length = stream_buffer_[at] | (size_t{stream_buffer_[at + 1]} << 8);
    if (stream_buffer_.size() - at - 2 < length) break;
    client_->receive(stream_peer_, std::span(stream_buffer_).subspan(at + 2, length), now);
    at += 2 + length;
  }
  stream_buffer_.erase(stream_buffer_.begin(), stream_buffer_.begin() + static_cast<ptrdiff_t>(at));
}

void Session::pump(size_t read_bytes_max) {
  if (!client_) return;
  const uint64_t now = net::system_now_us();
  if (stream_fd_ >= 0) {
    receive_stream(read_bytes_max, now);
  } else {
    socket_->receive(
        [&](const net::Address& from, std::span<const uint8_t> data) { client_->receive(from, data, now); });
  }
  client_->update(now);
  net::Message message;
  while (client_->pop_message(message)) {
    if (welcome_ || message.data.empty() || message.data[0] != static_cast<uint8_t>(view::MessageKind::welcome))
      continue;  // only the welcome is read: decoding every snapshot would be the attacker's cost
    auto decoded = view::decode_message(message.data);
    if (decoded.message && decoded.message->kind == view::MessageKind::welcome) {
      welcome_ = decoded.message->welcome;
      welcome_at_us_ = now;
    }
  }
  if (stream_fd_ >= 0) {
    client_->send_packets(now, *stream_sink_);
  } else {
    client_->send_packets(now, *udp_sink_);
    socket_->flush();
  }
}

uint64_t Session::server_tick_now() const {
  if (!welcome_ || welcome_->tick_rate_hz == 0) return 0;
  const uint64_t elapsed_us = net::system_now_us() - welcome_at_us_;
  return welcome_->tick + elapsed_us * welcome_->tick_rate_hz / 1'000'000;
}

void Session::send_raw(std::span<const uint8_t> datagram) {
  if (!socket_ || !client_) return;
  socket_->send_datagram(net::TransportKind::datagram, client_->server_address(), datagram);
  socket_->flush();
}

}  // namespace strata::hostile
