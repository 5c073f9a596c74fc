// tools/hostile/io.h — the plumbing the attacks share: bounded TCP connects and HTTP exchanges on
// plain sockets, and a logged-in netchannel session (UDP, or a raw TCP stream whose reading the
// attack controls) that records the datagrams it sends, for the replay attacks.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/client.h"
#include "net/transport.h"
#include "schema/client/messages.h"
#include "tools/hostile/hostile.h"

namespace boost::asio {
class io_context;
}

namespace strata::hostile {

// Connects within timeout_ms (non-blocking connect and poll); returns the socket, blocking, or -1.
// receive_buffer_bytes > 0 shrinks the socket's receive buffer before connecting (a slow reader).
[[nodiscard]] int tcp_connect(const Target& target, uint16_t port, int timeout_ms, int receive_buffer_bytes = 0);
// Whether the peer has closed `fd` (EOF or error), without consuming data that is waiting.
[[nodiscard]] bool peer_closed(int fd);

struct HttpResult {
  int status = 0;  // 0: no answer (error, close or timeout)
  bool timed_out = false;
  double latency_ms = 0;
};
// One request on a connection of its own; the response is read up to its Content-Length (bounded).
[[nodiscard]] HttpResult http_exchange(const Target& target, uint16_t port, const std::string& request, int timeout_ms);
[[nodiscard]] std::string login_request(const std::string& body);

// Counts a send result under `prefix` (ok, too_large, queue_full, not_connected).
void count_send(Report& report, const std::string& prefix, net::SendResult result);

// A logged-in client of the server: HTTP login, then the netchannel handshake over UDP or TCP.
class Session {
 public:
  // Datagrams (UDP) kept of what the session sent: handshake and data packets to replay.
  static constexpr size_t captured_max = 512;
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Logs in as `name` and connects (tcp: over a raw stream with the given receive buffer); waits
  // until connected and welcomed, at most timeout_ms. False with `error` otherwise.
  // observer: log in with the observer role (the server sends it the whole world, then every tick).
  bool open(Run& run, const std::string& name, bool tcp, int receive_buffer_bytes, int timeout_ms, std::string& error,
            bool observer = false);
  // Receives what arrived (over TCP: at most read_bytes_max bytes, 0: none, SIZE_MAX: all), updates
  // and sends. Decodes the welcome; drops every other message.
  void pump(size_t read_bytes_max = SIZE_MAX);
  [[nodiscard]] net::Client& client() { return *client_; }
  [[nodiscard]] bool connected() const { return client_ && client_->state() == net::ClientState::connected; }
  [[nodiscard]] bool stream_closed() const { return stream_closed_; }
  [[nodiscard]] const std::optional<view::Welcome>& welcome() const { return welcome_; }
  [[nodiscard]] uint64_t welcome_at_us() const { return welcome_at_us_; }
  // The server tick now, estimated from the welcome (0 before it).
  [[nodiscard]] uint64_t server_tick_now() const;
  [[nodiscard]] const std::vector<std::vector<uint8_t>>& captured() const { return captured_; }
  // Sends raw bytes from the session's own UDP socket to the server (replays).
  void send_raw(std::span<const uint8_t> datagram);
  [[nodiscard]] uint64_t stream_frames_dropped() const { return stream_frames_dropped_; }

 private:
  class UdpCapture;
  class StreamSink;
  void receive_stream(size_t read_bytes_max, uint64_t now);

  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<net::UdpSocket> socket_;
  std::unique_ptr<UdpCapture> udp_sink_;
  std::unique_ptr<StreamSink> stream_sink_;
  std::unique_ptr<net::Client> client_;
  int stream_fd_ = -1;
  bool stream_closed_ = false;
  net::Address stream_peer_;
  std::vector<uint8_t> stream_buffer_;
  uint64_t stream_frames_dropped_ = 0;
  std::vector<std::vector<uint8_t>> captured_;
  std::optional<view::Welcome> welcome_;
  uint64_t welcome_at_us_ = 0;
};

}  // namespace strata::hostile
