// net/transport.cc: Asio UDP (recvmmsg/sendmmsg on the native socket) and TCP framing. Untrusted
// bytes from the network only reach the endpoints through receive()/on_frame with bounded sizes:
// UDP datagrams larger than datagram_size_max are truncated by the kernel and dropped here; TCP
// frames with a zero or oversized length close the stream.
#include <utility>  // before Asio: Boost 1.74 Asio with GCC 12 in C++20 needs it

#include "net/transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <unordered_map>

namespace strata::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

// Datagrams a UdpSocket may be configured to carry at most (the UDP payload limit over IPv4).
constexpr std::size_t udp_payload_max = 65507;

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

std::uint64_t system_now_us() {
  return static_cast<std::uint64_t>(
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
  std::size_t slot_size = 0;  // datagram_max + 1: a longer datagram shows as truncated
  std::vector<std::uint8_t> in_data;
  std::vector<sockaddr_storage> in_addr;
  std::vector<iovec> in_iov;
  std::vector<mmsghdr> in_msg;
  std::size_t in_filled = 0;  // entries the last recvmmsg filled (their name lengths changed)
  // Send queue (flat, reused).
  struct Out {
    sockaddr_storage addr;
    socklen_t addr_len;
    std::size_t size;
    std::vector<std::uint8_t> data;
  };
  std::vector<Out> out;
  std::size_t out_count = 0;
  std::vector<iovec> out_iov;
  std::vector<mmsghdr> out_msg;
};

std::unique_ptr<UdpSocket> UdpSocket::open(asio::io_context& io, const UdpConfig& config, std::string& error) {
  auto impl = std::make_unique<Impl>(io, config);
  impl->config.batch = std::clamp<std::size_t>(config.batch, 1, udp_batch_size);
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
  const std::size_t batch = impl->config.batch;
  impl->config.datagram_max = std::clamp<std::size_t>(config.datagram_max, 1, udp_payload_max);
  impl->slot_size = impl->config.datagram_max + 1;
  impl->in_data.resize(batch * impl->slot_size);
  impl->in_addr.resize(batch);
  impl->in_iov.resize(batch);
  impl->in_msg.resize(batch);
  for (std::size_t i = 0; i < batch; ++i) {
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

std::size_t UdpSocket::receive(const OnDatagram& on_datagram, std::size_t max_batches) {
  Impl& s = *impl_;
  const int fd = s.socket.native_handle();
  const std::size_t batch = s.config.batch;
  std::size_t total = 0;
  for (std::size_t call = 0; call < max_batches; ++call) {
    // The headers were laid out at open(); the kernel rewrites only the name length (and the
    // output fields) of the entries it fills.
    for (std::size_t i = 0; i < s.in_filled; ++i) s.in_msg[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    s.in_filled = 0;
    const int n = ::recvmmsg(fd, s.in_msg.data(), static_cast<unsigned>(batch), MSG_DONTWAIT, nullptr);
    ++stats_.receive_calls;
    if (n <= 0) break;
    s.in_filled = static_cast<std::size_t>(n);
    for (int i = 0; i < n; ++i) {
      const std::size_t len = s.in_msg[i].msg_len;
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
      on_datagram(from,
                  std::span<const std::uint8_t>(s.in_data.data() + static_cast<std::size_t>(i) * s.slot_size, len));
    }
    total += static_cast<std::size_t>(n);
    if (static_cast<std::size_t>(n) < batch) break;
  }
  return total;
}

void UdpSocket::send_datagram(TransportKind, const Address& to, std::span<const std::uint8_t> data) {
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

std::size_t UdpSocket::flush() {
  Impl& s = *impl_;
  const int fd = s.socket.native_handle();
  std::size_t done = 0;
  int stalls = 0;
  while (done < s.out_count) {
    const std::size_t n = std::min(s.config.batch, s.out_count - done);
    for (std::size_t i = 0; i < n; ++i) {
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
      for (int i = 0; i < sent; ++i) stats_.bytes_sent += s.out[done + static_cast<std::size_t>(i)].size;
      stats_.datagrams_sent += static_cast<std::uint64_t>(sent);
      done += static_cast<std::size_t>(sent);
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
  const std::size_t total = s.out_count;
  s.out_count = 0;
  return total;
}

void UdpSocket::async_wait_readable(std::function<void()> ready) {
  impl_->socket.async_wait(udp::socket::wait_read, [ready = std::move(ready)](const boost::system::error_code& ec) {
    if (!ec) ready();
  });
}

int UdpSocket::native_handle() const { return impl_->socket.native_handle(); }

bool UdpSocket::wait_readable(std::uint64_t timeout_us) {
  pollfd p{impl_->socket.native_handle(), POLLIN, 0};
  timespec ts{static_cast<time_t>(timeout_us / 1'000'000), static_cast<long>((timeout_us % 1'000'000) * 1000)};
  return ::ppoll(&p, 1, &ts, nullptr) > 0;
}

// --- TCP streams -----------------------------------------------------------------------------------

namespace {

// One framed stream: reads frames into on_frame, writes frames coalesced into one buffer.
class Stream : public std::enable_shared_from_this<Stream> {
 public:
  using OnFrame = std::function<void(const Address&, std::span<const std::uint8_t>)>;
  using OnClosed = std::function<void(const Address&)>;

  Stream(tcp::socket socket, Address peer, TransportStats& stats, OnFrame on_frame, OnClosed on_closed)
      : socket_(std::move(socket)),
        peer_(peer),
        stats_(stats),
        on_frame_(std::move(on_frame)),
        on_closed_(std::move(on_closed)) {
    read_buffer_.resize(2 + tcp_frame_body_max + 4096);
  }

  void start() {
    boost::system::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    read();
    write();
  }

  void send_frame(std::span<const std::uint8_t> data) {
    if (closed_) return;
    if (data.empty() || data.size() > tcp_frame_body_max) {
      ++stats_.send_dropped;
      return;
    }
    if (pending_.size() + data.size() + 2 > tcp_send_queue_bytes_max) {
      ++stats_.send_dropped;
      close();  // the peer does not read: drop it rather than buffer without limit
      return;
    }
    pending_.push_back(static_cast<std::uint8_t>(data.size()));
    pending_.push_back(static_cast<std::uint8_t>(data.size() >> 8));
    pending_.insert(pending_.end(), data.begin(), data.end());
    ++stats_.datagrams_sent;
    stats_.bytes_sent += data.size();
    if (started_) write();
  }

  void set_started() { started_ = true; }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    ++stats_.streams_closed;
    if (on_closed_) on_closed_(peer_);
  }

  [[nodiscard]] bool closed() const { return closed_; }
  tcp::socket& socket() { return socket_; }
  // True when no frame arrived since the previous call; a stream's first call never counts (it
  // may have been accepted just before).
  bool silent_since_last_check() {
    const bool silent = seen_by_check_ && frames_ == 0;
    seen_by_check_ = true;
    frames_ = 0;
    return silent;
  }

 private:
  void read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(read_buffer_.data() + read_length_, read_buffer_.size() - read_length_),
                            [self](const boost::system::error_code& ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(const boost::system::error_code& ec, std::size_t n) {
    if (closed_) return;
    if (ec) {
      close();
      return;
    }
    ++stats_.receive_calls;
    read_length_ += n;
    std::size_t pos = 0;
    while (read_length_ - pos >= 2) {
      const std::size_t length = read_buffer_[pos] | (static_cast<std::size_t>(read_buffer_[pos + 1]) << 8);
      if (length == 0 || length > tcp_frame_body_max) {
        ++stats_.frames_malformed;
        close();
        return;
      }
      if (read_length_ - pos - 2 < length) break;
      ++stats_.datagrams_received;
      ++frames_;
      stats_.bytes_received += length;
      on_frame_(peer_, std::span<const std::uint8_t>(read_buffer_.data() + pos + 2, length));
      if (closed_) return;
      pos += 2 + length;
    }
    std::memmove(read_buffer_.data(), read_buffer_.data() + pos, read_length_ - pos);
    read_length_ -= pos;
    read();
  }

  void write() {
    if (writing_ || pending_.empty() || closed_) return;
    writing_ = true;
    in_flight_.swap(pending_);
    pending_.clear();
    auto self = shared_from_this();
    ++stats_.send_calls;
    asio::async_write(socket_, asio::buffer(in_flight_), [self](const boost::system::error_code& ec, std::size_t) {
      self->writing_ = false;
      if (ec) {
        self->close();
        return;
      }
      self->in_flight_.clear();
      self->write();
    });
  }

  tcp::socket socket_;
  Address peer_;
  TransportStats& stats_;
  OnFrame on_frame_;
  OnClosed on_closed_;
  std::vector<std::uint8_t> read_buffer_;
  std::size_t read_length_ = 0;
  std::vector<std::uint8_t> pending_;
  std::vector<std::uint8_t> in_flight_;
  std::uint64_t frames_ = 0;
  bool seen_by_check_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool started_ = true;
};

}  // namespace

struct TcpServer::Impl : std::enable_shared_from_this<TcpServer::Impl> {
  Impl(asio::io_context& io, OnFrame f, OnClosed c) : acceptor(io), on_frame(std::move(f)), on_closed(std::move(c)) {}
  tcp::acceptor acceptor;
  OnFrame on_frame;
  OnClosed on_closed;
  std::unordered_map<Address, std::shared_ptr<Stream>, AddressHash> streams;
  TransportStats stats;
  bool stopped = false;

  void accept() {
    auto self = shared_from_this();
    acceptor.async_accept([self](const boost::system::error_code& ec, tcp::socket socket) {
      if (self->stopped) return;
      if (!ec) {
        boost::system::error_code e2;
        const Address peer = from_endpoint(socket.remote_endpoint(e2));
        if (!e2 && self->streams.size() < tcp_streams_max) {
          ++self->stats.streams_accepted;
          std::weak_ptr<Impl> weak = self;
          auto stream = std::make_shared<Stream>(std::move(socket), peer, self->stats, self->on_frame,
                                                 [weak](const Address& closed_peer) {
                                                   if (auto owner = weak.lock()) {
                                                     owner->streams.erase(closed_peer);
                                                     if (owner->on_closed) owner->on_closed(closed_peer);
                                                   }
                                                 });
          self->streams[peer] = stream;
          stream->start();
        } else {
          ++self->stats.streams_refused;  // over tcp_streams_max: the socket closes here
        }
      }
      self->accept();
    });
  }
};

std::unique_ptr<TcpServer> TcpServer::open(asio::io_context& io, const Address& bind, OnFrame on_frame,
                                           OnClosed on_closed, std::string& error) {
  auto impl = std::make_shared<Impl>(io, std::move(on_frame), std::move(on_closed));
  boost::system::error_code ec;
  const auto endpoint = to_endpoint<tcp::endpoint>(bind);
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

TcpServer::TcpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

TcpServer::~TcpServer() {
  impl_->stopped = true;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  auto streams = std::move(impl_->streams);
  impl_->on_closed = nullptr;
  for (auto& [peer, stream] : streams) stream->close();
}

Address TcpServer::local_address() const {
  boost::system::error_code ec;
  return from_endpoint(impl_->acceptor.local_endpoint(ec));
}

void TcpServer::send_datagram(TransportKind, const Address& to, std::span<const std::uint8_t> data) {
  const auto it = impl_->streams.find(to);
  if (it == impl_->streams.end()) {
    ++impl_->stats.send_dropped;
    return;
  }
  auto stream = it->second;  // send_frame may close and erase it
  stream->send_frame(data);
}

std::size_t TcpServer::stream_count() const { return impl_->streams.size(); }

std::size_t TcpServer::close_silent_streams() {
  std::vector<std::shared_ptr<Stream>> silent;
  for (auto& [peer, stream] : impl_->streams) {
    if (stream->silent_since_last_check()) silent.push_back(stream);
  }
  for (auto& stream : silent) {
    ++impl_->stats.streams_silent;
    stream->close();  // erases itself from the map and reports on_closed
  }
  return silent.size();
}
const TransportStats& TcpServer::stats() const { return impl_->stats; }

struct TcpClient::Impl : std::enable_shared_from_this<TcpClient::Impl> {
  Impl(asio::io_context& i, OnFrame f, OnClosed c) : io(i), on_frame(std::move(f)), on_closed(std::move(c)) {}
  asio::io_context& io;
  OnFrame on_frame;
  OnClosed on_closed;
  std::shared_ptr<Stream> stream;
  std::vector<std::vector<std::uint8_t>> queued;
  std::size_t queued_bytes = 0;
  bool connected = false;
  bool closed = false;
  TransportStats stats;
};

TcpClient::TcpClient(asio::io_context& io, OnFrame on_frame, OnClosed on_closed)
    : impl_(std::make_shared<Impl>(io, std::move(on_frame), std::move(on_closed))) {}

TcpClient::~TcpClient() {
  impl_->on_closed = nullptr;
  if (impl_->stream) impl_->stream->close();
}

void TcpClient::connect(const Address& server) {
  auto socket = std::make_shared<tcp::socket>(impl_->io);
  std::weak_ptr<Impl> weak = impl_;
  socket->async_connect(
      to_endpoint<tcp::endpoint>(server), [weak, socket, server](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (!self) return;
        if (ec) {
          self->closed = true;
          if (self->on_closed) self->on_closed();
          return;
        }
        self->connected = true;
        self->stream =
            std::make_shared<Stream>(std::move(*socket), server, self->stats, self->on_frame, [weak](const Address&) {
              if (auto owner = weak.lock()) {
                owner->closed = true;
                owner->connected = false;
                if (owner->on_closed) owner->on_closed();
              }
            });
        self->stream->start();
        for (const auto& frame : self->queued) self->stream->send_frame(frame);
        self->queued.clear();
      });
}

bool TcpClient::connected() const { return impl_->connected && !impl_->closed; }
bool TcpClient::closed() const { return impl_->closed; }

void TcpClient::send_datagram(TransportKind, const Address&, std::span<const std::uint8_t> data) {
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
