// net/transport.cpp: Asio UDP (recvmmsg/sendmmsg on the native socket) and TCP framing. Untrusted
// bytes from the network only reach the endpoints through receive()/on_frame with bounded sizes:
// UDP datagrams larger than datagram_size_max are truncated by the kernel and dropped here; TCP
// frames with a zero or oversized length close the stream. A stream closed from inside a send (its
// queue overflowed) leaves the transport's tables at once, but its owner hears of it only from the
// io_context, when no endpoint is in the middle of writing to it.
#include <utility>  // before Asio: Boost 1.74 Asio with GCC 12 in C++20 needs it

#include "net/transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <unordered_map>

#include "net/tcp_frames.h"

namespace strata::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

// Datagrams a UdpSocket may be configured to carry at most (the UDP payload limit over IPv4).
constexpr size_t udp_payload_max = 65507;

template <typename Endpoint>
Endpoint to_endpoint(const Address& a) {
  if (a.family == AddressFamily::ipv6) {
    asio::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), a.ip.data(), 16);
    return Endpoint(asio::ip::address_v6(bytes), a.port);
  }
  asio::ip::address_v4::bytes_type bytes;
  std::memcpy(bytes.data(), a.ip.data(), 4);
  return Endpoint(asio::ip::address_v4(bytes), a.port);
}

template <typename Endpoint>
Address from_endpoint(const Endpoint& e) {
  Address a;
  a.port = e.port();
  if (e.address().is_v6()) {
    a.family = AddressFamily::ipv6;
    const auto bytes = e.address().to_v6().to_bytes();
    std::memcpy(a.ip.data(), bytes.data(), 16);
  } else {
    a.family = AddressFamily::ipv4;
    const auto bytes = e.address().to_v4().to_bytes();
    std::memcpy(a.ip.data(), bytes.data(), 4);
  }
  return a;
}

socklen_t to_sockaddr(const Address& a, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (a.family == AddressFamily::ipv6) {
    auto* s = reinterpret_cast<sockaddr_in6*>(&out);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(a.port);
    std::memcpy(&s->sin6_addr, a.ip.data(), 16);
    return sizeof(sockaddr_in6);
  }
  auto* s = reinterpret_cast<sockaddr_in*>(&out);
  s->sin_family = AF_INET;
  s->sin_port = htons(a.port);
  std::memcpy(&s->sin_addr, a.ip.data(), 4);
  return sizeof(sockaddr_in);
}

bool from_sockaddr(const sockaddr_storage& in, Address& out) {
  out = Address{};
  if (in.ss_family == AF_INET) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&in);
    out.family = AddressFamily::ipv4;
    std::memcpy(out.ip.data(), &s->sin_addr, 4);
    out.port = ntohs(s->sin_port);
    return true;
  }
  if (in.ss_family == AF_INET6) {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(&in);
    out.family = AddressFamily::ipv6;
    std::memcpy(out.ip.data(), &s->sin6_addr, 16);
    out.port = ntohs(s->sin6_port);
    return true;
  }
  return false;
}

}  // namespace

uint64_t system_now_us() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

UdpConfig default_udp_config() { return UdpConfig{}; }

// --- UDP -----------------------------------------------------------------------------------------

struct UdpSocket::Impl {
  Impl(asio::io_context& io, const UdpConfig& c) : socket(io), config(c) {}
  udp::socket socket;
  UdpConfig config;
  // Receive batch.
  size_t slot_size = 0;  // datagram_max + 1: a longer datagram shows as truncated
  std::vector<uint8_t> in_data;
  std::vector<sockaddr_storage> in_addr;
  std::vector<iovec> in_iov;
  std::vector<mmsghdr> in_msg;
  size_t in_filled = 0;  // entries the last recvmmsg filled (their name lengths changed)
  // Send queue (flat, reused).
  struct Out {
    sockaddr_storage addr;
    socklen_t addr_len;
    size_t size;
    std::vector<uint8_t> data;
  };
  std::vector<Out> out;
  size_t out_count = 0;
  std::vector<iovec> out_iov;
  std::vector<mmsghdr> out_msg;
};

std::unique_ptr<UdpSocket> UdpSocket::open(asio::io_context& io, const UdpConfig& config, std::string& error) {
  auto impl = std::make_unique<Impl>(io, config);
  impl->config.batch = std::clamp<size_t>(config.batch, 1, udp_batch_size);
  boost::system::error_code ec;
  const auto endpoint = to_endpoint<udp::endpoint>(config.bind);
  impl->socket.open(endpoint.protocol(), ec);
  if (!ec && config.receive_buffer_bytes > 0)
    impl->socket.set_option(asio::socket_base::receive_buffer_size(config.receive_buffer_bytes), ec);
  if (!ec && config.send_buffer_bytes > 0)
    impl->socket.set_option(asio::socket_base::send_buffer_size(config.send_buffer_bytes), ec);
  if (!ec) impl->socket.bind(endpoint, ec);
  if (!ec) impl->socket.non_blocking(true, ec);
  if (ec) {
    error = ec.message();
    return nullptr;
  }
  const size_t batch = impl->config.batch;
  impl->config.datagram_max = std::clamp<size_t>(config.datagram_max, 1, udp_payload_max);
  impl->slot_size = impl->config.datagram_max + 1;
  impl->in_data.resize(batch * impl->slot_size);
  impl->in_addr.resize(batch);
  impl->in_iov.resize(batch);
  impl->in_msg.resize(batch);
  for (size_t i = 0; i < batch; ++i) {
    impl->in_iov[i] = iovec{impl->in_data.data() + i * impl->slot_size, impl->slot_size};
    std::memset(&impl->in_msg[i], 0, sizeof(mmsghdr));
    impl->in_msg[i].msg_hdr.msg_name = &impl->in_addr[i];
    impl->in_msg[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    impl->in_msg[i].msg_hdr.msg_iov = &impl->in_iov[i];
    impl->in_msg[i].msg_hdr.msg_iovlen = 1;
  }
  impl->out_iov.resize(batch);
  impl->out_msg.resize(batch);
  return std::unique_ptr<UdpSocket>(new UdpSocket(std::move(impl)));
}

UdpSocket::UdpSocket(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UdpSocket::~UdpSocket() = default;

Address UdpSocket::local_address() const {
  boost::system::error_code ec;
  return from_endpoint(impl_->socket.local_endpoint(ec));
}

size_t UdpSocket::receive(const OnDatagram& on_datagram, size_t max_batches) {
  Impl& s = *impl_;
  const int fd = s.socket.native_handle();
  const size_t batch = s.config.batch;
  size_t total = 0;
  for (size_t call = 0; call < max_batches; ++call) {
    // The headers were laid out at open(); the kernel rewrites only the name length (and the
    // output fields) of the entries it fills.
    for (size_t i = 0; i < s.in_filled; ++i) s.in_msg[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    s.in_filled = 0;
    const int n = ::recvmmsg(fd, s.in_msg.data(), static_cast<unsigned>(batch), MSG_DONTWAIT, nullptr);
    ++stats_.receive_calls;
    if (n <= 0) break;
    s.in_filled = static_cast<size_t>(n);
    for (int i = 0; i < n; ++i) {
      const size_t len = s.in_msg[i].msg_len;
      Address from;
      if ((s.in_msg[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 || len > s.config.datagram_max) {
        ++stats_.receive_truncated;
        continue;
      }
      if (!from_sockaddr(s.in_addr[i], from)) {
        ++stats_.receive_truncated;  // not IPv4/IPv6: cannot happen on an inet socket, counted anyway
        continue;
      }
      ++stats_.datagrams_received;
      stats_.bytes_received += len;
      on_datagram(from, std::span<const uint8_t>(s.in_data.data() + static_cast<size_t>(i) * s.slot_size, len));
    }
    total += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < batch) break;
  }
  return total;
}

void UdpSocket::send_datagram(TransportKind, const Address& to, std::span<const uint8_t> data) {
  Impl& s = *impl_;
  if (s.out_count == s.config.send_queue_max || data.size() > s.config.datagram_max) {
    ++stats_.send_dropped;
    return;
  }
  if (s.out_count == s.out.size()) s.out.emplace_back();  // grows to the largest burst seen, no further
  Impl::Out& o = s.out[s.out_count++];
  o.addr_len = to_sockaddr(to, o.addr);
  o.size = data.size();
  if (o.data.size() < data.size()) o.data.resize(s.config.datagram_max);  // grows once per slot
  std::memcpy(o.data.data(), data.data(), data.size());
}

size_t UdpSocket::flush() {
  Impl& s = *impl_;
  const int fd = s.socket.native_handle();
  size_t done = 0;
  int stalls = 0;
  while (done < s.out_count) {
    const size_t n = std::min(s.config.batch, s.out_count - done);
    for (size_t i = 0; i < n; ++i) {
      Impl::Out& o = s.out[done + i];
      s.out_iov[i] = iovec{o.data.data(), o.size};
      std::memset(&s.out_msg[i], 0, sizeof(mmsghdr));
      s.out_msg[i].msg_hdr.msg_name = &o.addr;
      s.out_msg[i].msg_hdr.msg_namelen = o.addr_len;
      s.out_msg[i].msg_hdr.msg_iov = &s.out_iov[i];
      s.out_msg[i].msg_hdr.msg_iovlen = 1;
    }
    const int sent = ::sendmmsg(fd, s.out_msg.data(), static_cast<unsigned>(n), MSG_DONTWAIT);
    ++stats_.send_calls;
    if (sent > 0) {
      for (int i = 0; i < sent; ++i) stats_.bytes_sent += s.out[done + static_cast<size_t>(i)].size;
      stats_.datagrams_sent += static_cast<uint64_t>(sent);
      done += static_cast<size_t>(sent);
      continue;
    }
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && stalls++ < 3) {
      pollfd p{fd, POLLOUT, 0};
      (void)::poll(&p, 1, 1);  // the socket buffer is full: give the kernel a millisecond
      continue;
    }
    // Unreachable peer, full buffer for too long: UDP may lose; the protocol recovers.
    ++stats_.send_dropped;
    ++done;
  }
  const size_t total = s.out_count;
  s.out_count = 0;
  return total;
}

void UdpSocket::async_wait_readable(std::function<void()> ready) {
  impl_->socket.async_wait(udp::socket::wait_read, [ready = std::move(ready)](const boost::system::error_code& ec) {
    if (!ec) ready();
  });
}

int UdpSocket::native_handle() const { return impl_->socket.native_handle(); }

bool UdpSocket::wait_readable(uint64_t timeout_us) {
  pollfd p{impl_->socket.native_handle(), POLLIN, 0};
  timespec ts{static_cast<time_t>(timeout_us / 1'000'000), static_cast<long>((timeout_us % 1'000'000) * 1000)};
  return ::ppoll(&p, 1, &ts, nullptr) > 0;
}

// --- TCP streams -----------------------------------------------------------------------------------

std::string_view name(StreamClose reason) {
  constexpr std::array<std::string_view, stream_close_count> names = {
      "peer", "malformed_frame", "send_overflow", "handshake_timeout", "silent", "shutdown"};
  const auto i = static_cast<size_t>(reason);
  return i < names.size() ? names[i] : std::string_view("unknown");
}

std::string_view name(StreamRefusal reason) {
  constexpr std::array<std::string_view, stream_refusal_count> names = {
      "streams_max", "address_max", "address_pending_max", "descriptors", "no_peer"};
  const auto i = static_cast<size_t>(reason);
  return i < names.size() ? names[i] : std::string_view("unknown");
}

TcpConfig default_tcp_config() { return TcpConfig{}; }

size_t raise_open_file_limit(size_t& before) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    before = 0;
    return 0;
  }
  before = static_cast<size_t>(limit.rlim_cur);
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? SIZE_MAX : static_cast<size_t>(limit.rlim_cur);
}

namespace {

uint64_t steady_now_us() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// Out of descriptors or memory: accepting again at once would fail again (and spin).
bool is_resource_error(const boost::system::error_code& ec) {
  const int e = ec.value();
  return ec.category() == boost::system::system_category() &&
         (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM);
}

Address ip_of(const Address& peer) {
  Address ip = peer;
  ip.port = 0;
  return ip;
}

// One framed stream: reads frames into on_frame, writes frames coalesced into one buffer. Its
// owner learns of its close through on_closed, synchronously (bookkeeping only: the owner defers
// anything that may reach an endpoint to the io_context).
class Stream : public std::enable_shared_from_this<Stream> {
 public:
  using OnFrame = std::function<void(const Address&, std::span<const uint8_t>)>;
  using OnClosed = std::function<void(Stream&, StreamClose)>;

  Stream(tcp::socket socket, Address peer, TransportStats& stats, size_t send_queue_max, OnFrame on_frame,
         OnClosed on_closed)
      : socket_(std::move(socket)),
        peer_(peer),
        stats_(stats),
        send_queue_max_(send_queue_max),
        on_frame_(std::move(on_frame)),
        on_closed_(std::move(on_closed)) {}

  void start() {
    boost::system::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    read();
    write();
  }

  void send_frame(std::span<const uint8_t> data) {
    if (closed_) {
      ++stats_.send_dropped;
      return;
    }
    if (data.empty() || data.size() > tcp_frame_body_max) {
      ++stats_.send_dropped;
      return;
    }
    // Both buffers count: the one being written may hold as much as the queue did.
    if (pending_.size() + in_flight_.size() + data.size() + 2 > send_queue_max_) {
      ++stats_.send_dropped;
      close(StreamClose::send_overflow);  // the peer does not read: drop it rather than buffer without limit
      return;
    }
    pending_.push_back(static_cast<uint8_t>(data.size()));
    pending_.push_back(static_cast<uint8_t>(data.size() >> 8));
    pending_.insert(pending_.end(), data.begin(), data.end());
    ++stats_.datagrams_sent;
    stats_.bytes_sent += data.size();
    write();
  }

  void close(StreamClose reason) {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    ++stats_.streams_closed;
    ++stats_.streams_closed_by[static_cast<size_t>(reason)];
    if (on_closed_) on_closed_(*this, reason);
  }

  [[nodiscard]] bool closed() const { return closed_; }
  [[nodiscard]] const Address& peer() const { return peer_; }
  // True when no frame arrived since the previous call; a stream's first call never counts (it
  // may have been accepted just before).
  bool silent_since_last_check() {
    const bool silent = seen_by_check_ && frames_ == 0;
    seen_by_check_ = true;
    frames_ = 0;
    return silent;
  }
  // Handshake bookkeeping of the TcpServer: whether a connected client is on the stream, and since
  // when it has had none.
  bool authenticated = false;
  uint64_t unauthenticated_since_us = 0;

 private:
  void read() {
    auto self = shared_from_this();
    const std::span<uint8_t> space = reader_.free_space();
    socket_.async_read_some(asio::buffer(space.data(), space.size()),
                            [self](const boost::system::error_code& ec, size_t n) { self->on_read(ec, n); });
  }

  void on_read(const boost::system::error_code& ec, size_t n) {
    if (closed_) return;
    if (ec) {
      close(StreamClose::peer);
      return;
    }
    ++stats_.receive_calls;
    const auto result = reader_.commit(n, [this](std::span<const uint8_t> frame) {
      ++stats_.datagrams_received;
      ++frames_;
      stats_.bytes_received += frame.size();
      on_frame_(peer_, frame);
      return !closed_;
    });
    if (result == TcpFrameReader::Result::malformed) {
      ++stats_.frames_malformed;
      close(StreamClose::malformed_frame);
      return;
    }
    if (closed_) return;
    read();
  }

  void write() {
    if (writing_ || pending_.empty() || closed_) return;
    writing_ = true;
    in_flight_.swap(pending_);
    pending_.clear();
    auto self = shared_from_this();
    ++stats_.send_calls;
    asio::async_write(socket_, asio::buffer(in_flight_), [self](const boost::system::error_code& ec, size_t) {
      self->writing_ = false;
      if (ec) {
        self->close(StreamClose::peer);
        return;
      }
      self->in_flight_.clear();
      self->write();
    });
  }

  tcp::socket socket_;
  Address peer_;
  TransportStats& stats_;
  size_t send_queue_max_;
  OnFrame on_frame_;
  OnClosed on_closed_;
  TcpFrameReader reader_;
  std::vector<uint8_t> pending_;
  std::vector<uint8_t> in_flight_;
  uint64_t frames_ = 0;
  bool seen_by_check_ = false;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace

struct TcpServer::Impl : std::enable_shared_from_this<TcpServer::Impl> {
  Impl(asio::io_context& io, const TcpConfig& c, OnFrame f, OnClosed cl)
      : config(c),
        acceptor(io),
        sweep_timer(io),
        backoff_timer(io),
        pace_timer(io),
        on_frame(std::move(f)),
        on_closed(std::move(cl)) {}
  struct PerIp {
    size_t streams = 0;
    size_t authenticated = 0;
  };

  TcpConfig config;
  tcp::acceptor acceptor;
  asio::steady_timer sweep_timer;
  asio::steady_timer backoff_timer;
  asio::steady_timer pace_timer;
  OnFrame on_frame;
  OnClosed on_closed;
  std::unordered_map<Address, std::shared_ptr<Stream>, AddressHash> streams;
  std::unordered_map<Address, PerIp, AddressHash> per_ip;  // key: the peer's address with port 0
  TransportStats stats;
  size_t descriptor_limit = 0;
  uint64_t backoff_us = 0;       // the current pause after a resource error (0: none)
  uint64_t window_start_us = 0;  // the current accept window and what it has taken
  size_t window_accepts = 0;
  bool stopped = false;

  void accept() {
    auto self = shared_from_this();
    acceptor.async_accept([self](const boost::system::error_code& ec, tcp::socket socket) {
      if (self->stopped) return;
      self->count_accept();
      if (ec) {
        ++self->stats.accept_errors;
        if (is_resource_error(ec)) {
          self->pause_accepting();
          return;
        }
      } else {
        self->backoff_us = 0;
        self->admit(std::move(socket));
      }
      self->accept_paced();
    });
  }

  void count_accept() {
    const uint64_t now = steady_now_us();
    if (now - window_start_us >= config.accept_window_us) {
      window_start_us = now;
      window_accepts = 0;
    }
    ++window_accepts;
  }

  // Accepts again now, or once the current window is over if it has taken its share.
  void accept_paced() {
    const uint64_t now = steady_now_us();
    if (config.accepts_per_window == 0 || window_accepts < config.accepts_per_window ||
        now - window_start_us >= config.accept_window_us)
      return accept();
    ++stats.accept_paced;
    pace_timer.expires_after(std::chrono::microseconds(window_start_us + config.accept_window_us - now));
    auto self = shared_from_this();
    pace_timer.async_wait([self](const boost::system::error_code& ec) {
      if (!ec && !self->stopped) self->accept();
    });
  }

  void pause_accepting() {
    ++stats.accept_backoffs;
    backoff_us = backoff_us == 0 ? config.accept_backoff_us : std::min(2 * backoff_us, config.accept_backoff_max_us);
    backoff_timer.expires_after(std::chrono::microseconds(backoff_us));
    auto self = shared_from_this();
    backoff_timer.async_wait([self](const boost::system::error_code& ec) {
      if (!ec && !self->stopped) self->accept();
    });
  }

  void refuse(tcp::socket& socket, StreamRefusal reason) {
    ++stats.streams_refused;
    ++stats.streams_refused_by[static_cast<size_t>(reason)];
    // Reset rather than close: a refused connection leaves no TIME_WAIT behind (a host that
    // reconnects in a loop would otherwise park tens of thousands of them in the kernel).
    boost::system::error_code ec;
    socket.set_option(asio::socket_base::linger(true, 0), ec);
    socket.close(ec);
  }

  // The checks of an accepted connection, cheapest first; the socket closes here when refused.
  void admit(tcp::socket socket) {
    boost::system::error_code ec;
    const auto endpoint = socket.remote_endpoint(ec);
    if (ec) return refuse(socket, StreamRefusal::no_peer);
    // Descriptors are handed out lowest first: this one's number is how many are in use below it.
    if (static_cast<size_t>(socket.native_handle()) + config.descriptor_reserve >= descriptor_limit)
      return refuse(socket, StreamRefusal::descriptors);
    if (streams.size() >= config.streams_max) return refuse(socket, StreamRefusal::streams_max);
    const Address peer = from_endpoint(endpoint);
    PerIp& ip = per_ip[ip_of(peer)];
    if (ip.streams >= config.streams_per_address_max ||
        ip.streams - ip.authenticated >= config.pending_streams_per_address_max) {
      const bool all = ip.streams >= config.streams_per_address_max;
      if (ip.streams == 0) per_ip.erase(ip_of(peer));
      return refuse(socket, all ? StreamRefusal::address_max : StreamRefusal::address_pending_max);
    }
    if (config.send_buffer_bytes > 0)
      socket.set_option(asio::socket_base::send_buffer_size(config.send_buffer_bytes), ec);
    ++stats.streams_accepted;
    std::weak_ptr<Impl> weak = shared_from_this();
    auto stream = std::make_shared<Stream>(
        std::move(socket), peer, stats, config.send_queue_bytes_max,
        [weak](const Address& from, std::span<const uint8_t> frame) {
          if (auto owner = weak.lock()) owner->frame_arrived(from, frame);
        },
        [weak](Stream& closed, StreamClose) {
          if (auto owner = weak.lock()) owner->stream_closed(closed);
        });
    stream->unauthenticated_since_us = steady_now_us();
    ++ip.streams;
    if (const auto old = streams.find(peer); old != streams.end()) old->second->close(StreamClose::peer);
    streams[peer] = stream;
    stream->start();
    if (config.authenticated && config.handshake_timeout_us > 0) arm_sweep();
  }

  void frame_arrived(const Address& from, std::span<const uint8_t> frame) {
    if (on_frame) on_frame(from, frame);
    // A handshake may just have completed: count the stream as carrying a client at once, so its
    // IP's pending streams free up without waiting for the sweep.
    if (!config.authenticated) return;
    const auto it = streams.find(from);
    if (it != streams.end() && !it->second->authenticated && config.authenticated(from))
      set_authenticated(*it->second, true);
  }

  void set_authenticated(Stream& stream, bool authenticated) {
    if (stream.authenticated == authenticated) return;
    stream.authenticated = authenticated;
    PerIp& ip = per_ip[ip_of(stream.peer())];
    if (authenticated) {
      ++ip.authenticated;
    } else {
      --ip.authenticated;
      stream.unauthenticated_since_us = steady_now_us();
    }
  }

  // Bookkeeping at once (the stream is gone from the tables before close() returns); the owner's
  // callback from the io_context, after whatever send or read closed the stream has returned.
  void stream_closed(Stream& closed) {
    const Address peer = closed.peer();
    const auto it = streams.find(peer);
    if (it == streams.end() || it->second.get() != &closed) return;  // replaced (or already gone)
    const auto ip = per_ip.find(ip_of(peer));
    if (ip != per_ip.end()) {
      if (closed.authenticated) --ip->second.authenticated;
      if (--ip->second.streams == 0) per_ip.erase(ip);
    }
    auto keep = it->second;  // the map may hold the last reference: it lives until we return
    streams.erase(it);
    if (stopped) return;
    std::weak_ptr<Impl> weak = shared_from_this();
    asio::post(acceptor.get_executor(), [weak, peer] {
      if (auto owner = weak.lock(); owner && owner->on_closed) owner->on_closed(peer);
    });
  }

  // Every sweep interval while streams exist: streams with no connected client for longer than the
  // handshake timeout are closed.
  void arm_sweep() {
    if (sweep_armed || stopped) return;
    sweep_armed = true;
    const uint64_t interval = std::clamp<uint64_t>(config.handshake_timeout_us / 4, 10'000, 1'000'000);
    sweep_timer.expires_after(std::chrono::microseconds(interval));
    auto self = shared_from_this();
    sweep_timer.async_wait([self](const boost::system::error_code& ec) {
      self->sweep_armed = false;
      if (ec || self->stopped) return;
      self->sweep();
      if (!self->streams.empty()) self->arm_sweep();
    });
  }

  void sweep() {
    const uint64_t now = steady_now_us();
    std::vector<std::shared_ptr<Stream>> expired;
    for (auto& [peer, stream] : streams) {
      set_authenticated(*stream, config.authenticated(peer));
      if (!stream->authenticated && now - stream->unauthenticated_since_us >= config.handshake_timeout_us)
        expired.push_back(stream);
    }
    for (auto& stream : expired) stream->close(StreamClose::handshake_timeout);
  }

  bool sweep_armed = false;
};

std::unique_ptr<TcpServer> TcpServer::open(asio::io_context& io, const TcpConfig& config, OnFrame on_frame,
                                           OnClosed on_closed, std::string& error) {
  auto impl = std::make_shared<Impl>(io, config, std::move(on_frame), std::move(on_closed));
  if (config.descriptor_limit != 0) {
    impl->descriptor_limit = config.descriptor_limit;
  } else {
    rlimit limit{};
    impl->descriptor_limit = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                                 ? static_cast<size_t>(limit.rlim_cur)
                                 : SIZE_MAX / 2;
  }
  boost::system::error_code ec;
  const auto endpoint = to_endpoint<tcp::endpoint>(config.bind);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = ec.message();
    return nullptr;
  }
  impl->accept();
  return std::unique_ptr<TcpServer>(new TcpServer(std::move(impl)));
}

std::unique_ptr<TcpServer> TcpServer::open(asio::io_context& io, const Address& bind, OnFrame on_frame,
                                           OnClosed on_closed, std::string& error) {
  TcpConfig config = default_tcp_config();
  config.bind = bind;
  return open(io, config, std::move(on_frame), std::move(on_closed), error);
}

TcpServer::TcpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

TcpServer::~TcpServer() {
  impl_->stopped = true;
  impl_->on_closed = nullptr;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  impl_->sweep_timer.cancel();
  impl_->backoff_timer.cancel();
  impl_->pace_timer.cancel();
  std::vector<std::shared_ptr<Stream>> streams;
  for (auto& [peer, stream] : impl_->streams) streams.push_back(stream);
  for (auto& stream : streams) stream->close(StreamClose::shutdown);
}

Address TcpServer::local_address() const {
  boost::system::error_code ec;
  return from_endpoint(impl_->acceptor.local_endpoint(ec));
}

void TcpServer::send_datagram(TransportKind, const Address& to, std::span<const uint8_t> data) {
  const auto it = impl_->streams.find(to);
  if (it == impl_->streams.end()) {
    ++impl_->stats.send_dropped;
    return;
  }
  auto stream = it->second;  // send_frame may close it (and erase it from the map)
  stream->send_frame(data);
}

size_t TcpServer::stream_count() const { return impl_->streams.size(); }

size_t TcpServer::streams_from(const Address& peer) const {
  const auto it = impl_->per_ip.find(ip_of(peer));
  return it == impl_->per_ip.end() ? 0 : it->second.streams;
}

size_t TcpServer::close_silent_streams() {
  std::vector<std::shared_ptr<Stream>> silent;
  for (auto& [peer, stream] : impl_->streams) {
    if (stream->silent_since_last_check()) silent.push_back(stream);
  }
  for (auto& stream : silent) {
    ++impl_->stats.streams_silent;
    stream->close(StreamClose::silent);  // erases itself from the map; on_closed follows from the io_context
  }
  return silent.size();
}

const TransportStats& TcpServer::stats() const { return impl_->stats; }

std::optional<std::string> StreamReport::poll(const TcpServer& server, std::chrono::steady_clock::time_point now) {
  if (now < next_) return std::nullopt;
  next_ = now + interval_;
  const TransportStats& s = server.stats();
  if (s.streams_accepted == last_.streams_accepted && s.streams_refused == last_.streams_refused &&
      s.streams_closed == last_.streams_closed && s.accept_errors == last_.accept_errors)
    return std::nullopt;
  std::string line = std::to_string(server.stream_count()) + " streams (descriptor limit " +
                     std::to_string(server.descriptor_limit()) + "); accepted " + std::to_string(s.streams_accepted);
  line += "; refused";
  for (size_t i = 0; i < stream_refusal_count; ++i)
    line += " " + std::string(name(static_cast<StreamRefusal>(i))) + "=" + std::to_string(s.streams_refused_by[i]);
  line += "; closed";
  for (size_t i = 0; i < stream_close_count; ++i)
    line += " " + std::string(name(static_cast<StreamClose>(i))) + "=" + std::to_string(s.streams_closed_by[i]);
  line +=
      "; accept errors " + std::to_string(s.accept_errors) + " (backoffs " + std::to_string(s.accept_backoffs) + ")";
  last_ = s;
  return line;
}
size_t TcpServer::descriptor_limit() const { return impl_->descriptor_limit; }

struct TcpClient::Impl : std::enable_shared_from_this<TcpClient::Impl> {
  Impl(asio::io_context& i, OnFrame f, OnClosed c) : io(i), on_frame(std::move(f)), on_closed(std::move(c)) {}
  asio::io_context& io;
  OnFrame on_frame;
  OnClosed on_closed;
  std::shared_ptr<Stream> stream;
  std::vector<std::vector<uint8_t>> queued;
  size_t queued_bytes = 0;
  bool connected = false;
  bool closed = false;
  TransportStats stats;

  // The state at once; the owner's callback from the io_context (never from inside a send).
  void report_closed() {
    closed = true;
    connected = false;
    std::weak_ptr<Impl> weak = shared_from_this();
    asio::post(io, [weak] {
      if (auto owner = weak.lock(); owner && owner->on_closed) owner->on_closed();
    });
  }
};

TcpClient::TcpClient(asio::io_context& io, OnFrame on_frame, OnClosed on_closed)
    : impl_(std::make_shared<Impl>(io, std::move(on_frame), std::move(on_closed))) {}

TcpClient::~TcpClient() {
  impl_->on_closed = nullptr;
  if (impl_->stream) impl_->stream->close(StreamClose::shutdown);
}

void TcpClient::connect(const Address& server) { connect(server, Address{}); }

void TcpClient::connect(const Address& server, const Address& local) {
  auto socket = std::make_shared<tcp::socket>(impl_->io);
  if (local.family != AddressFamily::none) {
    boost::system::error_code ec;
    const auto endpoint = to_endpoint<tcp::endpoint>(local);
    socket->open(endpoint.protocol(), ec);
    if (!ec) socket->bind(endpoint, ec);
    if (ec) {
      impl_->report_closed();
      return;
    }
  }
  std::weak_ptr<Impl> weak = impl_;
  socket->async_connect(to_endpoint<tcp::endpoint>(server),
                        [weak, socket, server](const boost::system::error_code& ec) {
                          auto self = weak.lock();
                          if (!self) return;
                          if (ec) {
                            self->report_closed();
                            return;
                          }
                          self->connected = true;
                          self->stream = std::make_shared<Stream>(
                              std::move(*socket), server, self->stats, tcp_send_queue_bytes_max,
                              [weak](const Address& from, std::span<const uint8_t> frame) {
                                if (auto owner = weak.lock(); owner && owner->on_frame) owner->on_frame(from, frame);
                              },
                              [weak](Stream&, StreamClose) {
                                if (auto owner = weak.lock()) owner->report_closed();
                              });
                          self->stream->start();
                          for (const auto& frame : self->queued) self->stream->send_frame(frame);
                          self->queued.clear();
                          self->queued_bytes = 0;
                        });
}

bool TcpClient::connected() const { return impl_->connected && !impl_->closed; }
bool TcpClient::closed() const { return impl_->closed; }

void TcpClient::send_datagram(TransportKind, const Address&, std::span<const uint8_t> data) {
  if (impl_->closed) return;
  if (impl_->stream) {
    impl_->stream->send_frame(data);
    return;
  }
  if (impl_->queued_bytes + data.size() > tcp_send_queue_bytes_max) {
    ++impl_->stats.send_dropped;
    return;
  }
  impl_->queued_bytes += data.size();
  impl_->queued.emplace_back(data.begin(), data.end());
}

const TransportStats& TcpClient::stats() const { return impl_->stats; }

}  // namespace strata::net
