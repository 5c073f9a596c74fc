// net/transport.h: Asio transports for the netchannel endpoints (kept out of the protocol headers:
// this header includes no Asio; the io_context is forward declared).
//   UdpSocket  one non-blocking UDP socket; receives and sends in batches with recvmmsg/sendmmsg.
//   TcpServer  accepts TCP streams; u16-length-prefixed frames carry the same packets (all reliable).
//              Keeps its descriptors in check: per-IP caps, a handshake deadline, a descriptor
//              reserve and a backoff when accept(2) runs out of resources.
//   TcpClient  the client side of one such stream.
// All callbacks run on the thread that runs the io_context; the caller owns the loop and the clock.
//
// TCP frame layout: length u16 little endian (1..tcp_frame_body_max), then that many bytes: exactly
// one netchannel packet (handshake or data). A zero or oversized length closes the stream (the
// reader is net/tcp_frames.h). Closes are reported to OnClosed from the io_context, never from
// inside a send.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.h"
#include "net/endpoint.h"
#include "net/limits.h"

namespace boost::asio {
class io_context;
}

namespace strata::net {

// Why a TCP stream was closed (TransportStats::streams_closed_by).
enum class StreamClose : uint8_t {
  peer,               // the peer closed it, or a read or write failed
  malformed_frame,    // zero or oversized frame length
  send_overflow,      // its send queue passed send_queue_bytes_max: the peer does not read
  handshake_timeout,  // no connected client on it within handshake_timeout_us
  silent,             // close_silent_streams()
  shutdown,           // the TcpServer or TcpClient was destroyed
  count
};
// Why an accepted TCP connection was closed at once (TransportStats::streams_refused_by).
enum class StreamRefusal : uint8_t {
  streams_max,          // the listener holds streams_max streams
  address_max,          // the peer's IP holds streams_per_address_max streams
  address_pending_max,  // the peer's IP holds pending_streams_per_address_max unauthenticated streams
  descriptors,          // open descriptors near the process limit (descriptor_reserve kept free)
  no_peer,              // the peer was gone before it could be looked at
  count
};
inline constexpr size_t stream_close_count = static_cast<size_t>(StreamClose::count);
inline constexpr size_t stream_refusal_count = static_cast<size_t>(StreamRefusal::count);
[[nodiscard]] std::string_view name(StreamClose reason);
[[nodiscard]] std::string_view name(StreamRefusal reason);

// The transports' counters, listed once: (member, event, help). `event` names the member in the
// edge's counts (strata_tcp_events_total{event} and /api/world/status "edge.tcp", written by
// server/edge_counters.cpp from this list); "" keeps a traffic figure out of them. The per-reason
// arrays below are named by name(StreamClose) and name(StreamRefusal).
#define STRATA_TRANSPORT_COUNTERS(X)                                                               \
  X(datagrams_received, "", "datagrams received")                                                  \
  X(datagrams_sent, "", "datagrams sent")                                                          \
  X(bytes_received, "", "bytes received")                                                          \
  X(bytes_sent, "", "bytes sent")                                                                  \
  X(receive_calls, "", "recvmmsg calls (or reads)")                                                \
  X(send_calls, "", "sendmmsg calls (or writes)")                                                  \
  X(send_dropped, "send_dropped", "datagrams the OS would not take (buffer full) or queue limit")  \
  X(receive_truncated, "", "datagrams longer than datagram_max")                                   \
  X(frames_malformed, "frames_malformed", "TCP: zero or oversized length")                         \
  X(streams_accepted, "accepted", "TCP streams accepted")                                          \
  X(streams_refused, "", "every refusal (the sum of streams_refused_by)")                          \
  X(streams_silent, "", "closed by close_silent_streams()")                                        \
  X(streams_closed, "", "every close (the sum of streams_closed_by)")                              \
  X(accept_errors, "accept_errors", "accept(2) failed")                                            \
  X(accept_backoffs, "accept_backoffs", "... for lack of descriptors or memory: accepting paused") \
  X(accept_paced, "", "accepting paused for the rest of a full accept window")

struct TransportStats {
#define STRATA_TRANSPORT_FIELD_(member, event, help) uint64_t member = 0;
  STRATA_TRANSPORT_COUNTERS(STRATA_TRANSPORT_FIELD_)
#undef STRATA_TRANSPORT_FIELD_
  std::array<uint64_t, stream_close_count> streams_closed_by{};
  std::array<uint64_t, stream_refusal_count> streams_refused_by{};
  [[nodiscard]] uint64_t closed(StreamClose reason) const { return streams_closed_by[static_cast<size_t>(reason)]; }
  [[nodiscard]] uint64_t refused(StreamRefusal reason) const { return streams_refused_by[static_cast<size_t>(reason)]; }
};

struct UdpConfig {
  // Local address to bind (port 0 picks one).
  Address bind = make_ipv4(127, 0, 0, 1, 0);
  // Datagrams per recvmmsg/sendmmsg call (<= udp_batch_size).
  size_t batch = udp_batch_size;
  // Socket buffer sizes requested from the OS (0 keeps the default).
  int receive_buffer_bytes = 4 << 20;
  int send_buffer_bytes = 4 << 20;
  // Queued outgoing datagrams before flush() must run (beyond it they are dropped and counted).
  size_t send_queue_max = 4096;
  // Largest datagram received or sent; longer ones are dropped and counted. The netchannel needs
  // datagram_size_max; a relay carrying other protocols (ENet uses 1400-byte packets) sets more.
  size_t datagram_max = datagram_size_max;
};

[[nodiscard]] UdpConfig default_udp_config();

class UdpSocket : public DatagramSink {
 public:
  using OnDatagram = std::function<void(const Address& from, std::span<const uint8_t> data)>;

  // Opens and binds; nullptr and `error` set on failure.
  static std::unique_ptr<UdpSocket> open(boost::asio::io_context& io, const UdpConfig& config, std::string& error);
  ~UdpSocket() override;

  [[nodiscard]] Address local_address() const;
  // Reads every datagram available now (batches of `batch`), up to `max_batches` calls.
  size_t receive(const OnDatagram& on_datagram, size_t max_batches = 16);
  // Queues a datagram; flush() sends the queue with sendmmsg.
  void send_datagram(TransportKind kind, const Address& to, std::span<const uint8_t> data) override;
  size_t flush();
  // Calls `ready` once when the socket becomes readable (through the io_context).
  void async_wait_readable(std::function<void()> ready);
  // Blocks up to timeout_us for readability without the io_context (poll(2)).
  bool wait_readable(uint64_t timeout_us);
  // The OS socket, for callers that poll many sockets at once.
  [[nodiscard]] int native_handle() const;
  [[nodiscard]] const TransportStats& stats() const { return stats_; }

 private:
  struct Impl;
  explicit UdpSocket(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  TransportStats stats_;
};

struct TcpConfig {
  // Local address to listen on (port 0 picks one).
  Address bind = make_ipv4(127, 0, 0, 1, 0);
  // True when a connected netchannel client is on the stream from `peer` (the server endpoint's
  // view: Server::connected_at). Without it streams are never closed for lack of a handshake, and
  // every stream counts as pending against pending_streams_per_address_max.
  std::function<bool(const Address& peer)> authenticated;
  // A stream with no connected client this long after it was accepted (or after its client left)
  // is closed (0: never).
  uint64_t handshake_timeout_us = tcp_handshake_timeout_default_us;
  // Streams held at once, in all and per peer IP (any port); streams of one IP with no connected
  // client yet. Connections beyond are accepted and closed at once (counted).
  size_t streams_max = tcp_streams_max;
  size_t streams_per_address_max = tcp_streams_per_address_default;
  size_t pending_streams_per_address_max = tcp_pending_streams_per_address_default;
  // Bytes queued for one stream and not yet taken by the kernel; beyond it the stream is closed.
  size_t send_queue_bytes_max = tcp_send_queue_bytes_max;
  // Kernel send buffer of each accepted stream (SO_SNDBUF; 0 keeps the OS default).
  int send_buffer_bytes = 0;
  // Descriptors kept free for the rest of the process (the log's files, HTTP): a connection that
  // would leave fewer free under the soft RLIMIT_NOFILE is accepted and closed at once.
  size_t descriptor_reserve = tcp_descriptor_reserve_default;
  // The limit that reserve is counted against (0: the process's soft RLIMIT_NOFILE, read at open).
  size_t descriptor_limit = 0;
  // When accept(2) fails for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), accepting
  // pauses this long (doubling up to accept_backoff_max_us while it keeps failing) instead of
  // spinning on a backlog it cannot take.
  uint64_t accept_backoff_us = tcp_accept_backoff_us;
  uint64_t accept_backoff_max_us = tcp_accept_backoff_max_us;
  // At most this many accepts per window (a turn of the caller's loop must stay short whatever
  // the rate of incoming connections); the rest wait in the kernel's backlog.
  size_t accepts_per_window = tcp_accepts_per_window;
  uint64_t accept_window_us = tcp_accept_window_us;
};

[[nodiscard]] TcpConfig default_tcp_config();

class TcpServer : public DatagramSink {
 public:
  using OnFrame = std::function<void(const Address& from, std::span<const uint8_t> frame)>;
  // Runs from the io_context, never from inside send_datagram(): a stream whose send queue
  // overflows while the endpoint writes to it is reported after the write returned.
  using OnClosed = std::function<void(const Address& peer)>;

  static std::unique_ptr<TcpServer> open(boost::asio::io_context& io, const TcpConfig& config, OnFrame on_frame,
                                         OnClosed on_closed, std::string& error);
  // Default config listening on `bind` (no handshake timeout: no `authenticated` predicate).
  static std::unique_ptr<TcpServer> open(boost::asio::io_context& io, const Address& bind, OnFrame on_frame,
                                         OnClosed on_closed, std::string& error);
  ~TcpServer() override;

  [[nodiscard]] Address local_address() const;
  // Frames to a peer with no stream are dropped and counted.
  void send_datagram(TransportKind kind, const Address& to, std::span<const uint8_t> data) override;
  [[nodiscard]] size_t stream_count() const;
  // Streams from this peer's IP (any port).
  [[nodiscard]] size_t streams_from(const Address& peer) const;
  // Closes every stream that received no frame since the previous call (clock-free: the caller
  // calls it every few seconds; a stream accepted since the previous call is spared once), so
  // connections that never speak cannot hold slots forever.
  size_t close_silent_streams();
  [[nodiscard]] const TransportStats& stats() const;
  // The descriptor limit the reserve is counted against.
  [[nodiscard]] size_t descriptor_limit() const;

 private:
  struct Impl;
  explicit TcpServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// What a TcpServer did, for a server's log: a line every `interval` at most, when a counter changed
// (streams accepted, refused and closed by reason).
class StreamReport {
 public:
  explicit StreamReport(std::chrono::steady_clock::duration interval = std::chrono::seconds(10))
      : interval_(interval) {}
  [[nodiscard]] std::optional<std::string> poll(const TcpServer& server, std::chrono::steady_clock::time_point now);

 private:
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point next_{};
  TransportStats last_;
};

// Raises the soft RLIMIT_NOFILE to the hard limit (what a server does at start); returns the soft
// limit now in force (and the one before in `before`).
size_t raise_open_file_limit(size_t& before);

class TcpClient : public DatagramSink {
 public:
  using OnFrame = std::function<void(const Address& from, std::span<const uint8_t> frame)>;
  using OnClosed = std::function<void()>;

  TcpClient(boost::asio::io_context& io, OnFrame on_frame, OnClosed on_closed);
  ~TcpClient() override;
  // Starts connecting; frames sent before the stream is up are queued.
  void connect(const Address& server);
  // The same from a local address (port 0: any): on loopback any 127.x.y.z, so that many clients
  // of one process do not share the per-IP caps of the server's listener.
  void connect(const Address& server, const Address& local);
  [[nodiscard]] bool connected() const;
  [[nodiscard]] bool closed() const;
  void send_datagram(TransportKind kind, const Address& to, std::span<const uint8_t> data) override;
  [[nodiscard]] const TransportStats& stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Routes an endpoint's output by transport kind (a server listening on UDP and TCP at once).
class SplitSink : public DatagramSink {
 public:
  SplitSink(DatagramSink* datagram, DatagramSink* stream) : datagram_(datagram), stream_(stream) {}
  void send_datagram(TransportKind kind, const Address& to, std::span<const uint8_t> data) override {
    DatagramSink* sink = kind == TransportKind::datagram ? datagram_ : stream_;
    if (sink != nullptr) sink->send_datagram(kind, to, data);
  }

 private:
  DatagramSink* datagram_;
  DatagramSink* stream_;
};

// Microseconds since the Unix epoch from the system clock: what main() passes as `now`.
[[nodiscard]] uint64_t system_now_us();

}  // namespace strata::net
