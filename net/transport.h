// net/transport.h: Asio transports for the netchannel endpoints (kept out of the protocol headers:
// this header includes no Asio; the io_context is forward declared).
//   UdpSocket  one non-blocking UDP socket; receives and sends in batches with recvmmsg/sendmmsg.
//   TcpServer  accepts TCP streams; u16-length-prefixed frames carry the same packets (all reliable).
//   TcpClient  the client side of one such stream.
// All callbacks run on the thread that runs the io_context; the caller owns the loop and the clock.
//
// TCP frame layout: length u16 little endian (1..tcp_frame_body_max), then that many bytes: exactly
// one netchannel packet (handshake or data). A zero or oversized length closes the stream.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "net/address.h"
#include "net/endpoint.h"
#include "net/limits.h"

namespace boost::asio {
class io_context;
}

namespace strata::net {

struct TransportStats {
  std::uint64_t datagrams_received = 0;
  std::uint64_t datagrams_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t receive_calls = 0;  // recvmmsg calls (or reads)
  std::uint64_t send_calls = 0;     // sendmmsg calls (or writes)
  std::uint64_t send_dropped = 0;   // datagrams the OS would not take (buffer full) or queue limit
  std::uint64_t receive_truncated = 0;
  std::uint64_t frames_malformed = 0;  // TCP: zero or oversized length
  std::uint64_t streams_accepted = 0;
  std::uint64_t streams_refused = 0;  // over tcp_streams_max
  std::uint64_t streams_silent = 0;   // closed by close_silent_streams()
  std::uint64_t streams_closed = 0;
};

struct UdpConfig {
  // Local address to bind (port 0 picks one).
  Address bind = make_ipv4(127, 0, 0, 1, 0);
  // Datagrams per recvmmsg/sendmmsg call (<= udp_batch_size).
  std::size_t batch = udp_batch_size;
  // Socket buffer sizes requested from the OS (0 keeps the default).
  int receive_buffer_bytes = 4 << 20;
  int send_buffer_bytes = 4 << 20;
  // Queued outgoing datagrams before flush() must run (beyond it they are dropped and counted).
  std::size_t send_queue_max = 4096;
  // Largest datagram received or sent; longer ones are dropped and counted. The netchannel needs
  // datagram_size_max; a relay carrying other protocols (ENet uses 1400-byte packets) sets more.
  std::size_t datagram_max = datagram_size_max;
};

[[nodiscard]] UdpConfig default_udp_config();

class UdpSocket : public DatagramSink {
 public:
  using OnDatagram = std::function<void(const Address& from, std::span<const std::uint8_t> data)>;

  // Opens and binds; nullptr and `error` set on failure.
  static std::unique_ptr<UdpSocket> open(boost::asio::io_context& io, const UdpConfig& config, std::string& error);
  ~UdpSocket() override;

  [[nodiscard]] Address local_address() const;
  // Reads every datagram available now (batches of `batch`), up to `max_batches` calls.
  std::size_t receive(const OnDatagram& on_datagram, std::size_t max_batches = 16);
  // Queues a datagram; flush() sends the queue with sendmmsg.
  void send_datagram(TransportKind kind, const Address& to, std::span<const std::uint8_t> data) override;
  std::size_t flush();
  // Calls `ready` once when the socket becomes readable (through the io_context).
  void async_wait_readable(std::function<void()> ready);
  // Blocks up to timeout_us for readability without the io_context (poll(2)).
  bool wait_readable(std::uint64_t timeout_us);
  // The OS socket, for callers that poll many sockets at once.
  [[nodiscard]] int native_handle() const;
  [[nodiscard]] const TransportStats& stats() const { return stats_; }

 private:
  struct Impl;
  explicit UdpSocket(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  TransportStats stats_;
};

class TcpServer : public DatagramSink {
 public:
  using OnFrame = std::function<void(const Address& from, std::span<const std::uint8_t> frame)>;
  using OnClosed = std::function<void(const Address& peer)>;

  static std::unique_ptr<TcpServer> open(boost::asio::io_context& io, const Address& bind, OnFrame on_frame,
                                         OnClosed on_closed, std::string& error);
  ~TcpServer() override;

  [[nodiscard]] Address local_address() const;
  // Frames to a peer with no stream are dropped and counted.
  void send_datagram(TransportKind kind, const Address& to, std::span<const std::uint8_t> data) override;
  [[nodiscard]] std::size_t stream_count() const;
  // Closes every stream that received no frame since the previous call (clock-free: the caller
  // calls it every few seconds; a stream accepted since the previous call is spared once), so
  // connections that never speak cannot hold slots forever.
  std::size_t close_silent_streams();
  [[nodiscard]] const TransportStats& stats() const;

 private:
  struct Impl;
  explicit TcpServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

class TcpClient : public DatagramSink {
 public:
  using OnFrame = std::function<void(const Address& from, std::span<const std::uint8_t> frame)>;
  using OnClosed = std::function<void()>;

  TcpClient(boost::asio::io_context& io, OnFrame on_frame, OnClosed on_closed);
  ~TcpClient() override;
  // Starts connecting; frames sent before the stream is up are queued.
  void connect(const Address& server);
  [[nodiscard]] bool connected() const;
  [[nodiscard]] bool closed() const;
  void send_datagram(TransportKind kind, const Address& to, std::span<const std::uint8_t> data) override;
  [[nodiscard]] const TransportStats& stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Routes an endpoint's output by transport kind (a server listening on UDP and TCP at once).
class SplitSink : public DatagramSink {
 public:
  SplitSink(DatagramSink* datagram, DatagramSink* stream) : datagram_(datagram), stream_(stream) {}
  void send_datagram(TransportKind kind, const Address& to, std::span<const std::uint8_t> data) override {
    DatagramSink* sink = kind == TransportKind::datagram ? datagram_ : stream_;
    if (sink != nullptr) sink->send_datagram(kind, to, data);
  }

 private:
  DatagramSink* datagram_;
  DatagramSink* stream_;
};

// Microseconds since the Unix epoch from the system clock: what main() passes as `now`.
[[nodiscard]] std::uint64_t system_now_us();

}  // namespace strata::net
