// tools/bot/shared_udp.cpp: see shared_udp.h.
#include "tools/bot/shared_udp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/limits.h"

namespace strata::bot {

namespace {
constexpr size_t batch = 64;
constexpr size_t slot_size = net::datagram_size_max + 1;  // a longer datagram shows as truncated
constexpr size_t control_size = CMSG_SPACE(sizeof(in_pktinfo));
}  // namespace

struct SharedUdp::Impl {
  // Receive batch, laid out once.
  std::vector<uint8_t> in_data = std::vector<uint8_t>(batch * slot_size);
  std::array<sockaddr_in, batch> in_addr{};
  std::array<iovec, batch> in_iov{};
  std::array<std::array<uint8_t, control_size>, batch> in_control{};
  std::array<mmsghdr, batch> in_msg{};
  // Send batch: flushed when full.
  struct Out {
    sockaddr_in to{};
    std::array<uint8_t, control_size> control{};
    size_t size = 0;
    std::array<uint8_t, net::datagram_size_max> data{};
  };
  std::vector<Out> out = std::vector<Out>(batch);
  size_t out_count = 0;
  std::array<iovec, batch> out_iov{};
  std::array<mmsghdr, batch> out_msg{};
};

std::unique_ptr<SharedUdp> SharedUdp::open(std::string& error) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return nullptr;
  }
  const int on = 1;
  const int buffer = 8 << 20;  // thousands of bots' datagrams between two turns
  sockaddr_in bind_to{};
  bind_to.sin_family = AF_INET;
  bind_to.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t length = sizeof bind_to;
  if (::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on) != 0 ||
      ::bind(fd, reinterpret_cast<const sockaddr*>(&bind_to), sizeof bind_to) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&bind_to), &length) != 0) {
    error = std::string("shared UDP socket: ") + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  // Best effort: capped by net.core.rmem_max / wmem_max (larger only with CAP_NET_ADMIN).
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) != 0)
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof buffer) != 0)
    (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  return std::unique_ptr<SharedUdp>(new SharedUdp(fd, ntohs(bind_to.sin_port)));
}

SharedUdp::SharedUdp(int fd, uint16_t port) : fd_(fd), port_(port), impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  for (size_t i = 0; i < batch; ++i) {
    s.in_iov[i] = iovec{s.in_data.data() + i * slot_size, slot_size};
    msghdr& h = s.in_msg[i].msg_hdr;
    h.msg_name = &s.in_addr[i];
    h.msg_iov = &s.in_iov[i];
    h.msg_iovlen = 1;
    h.msg_control = s.in_control[i].data();
    // Each Out's control message is the same IP_PKTINFO header; only the source address changes.
    Impl::Out& o = s.out[i];
    o.to.sin_family = AF_INET;
    cmsghdr* c = reinterpret_cast<cmsghdr*>(o.control.data());
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
  }
}

SharedUdp::~SharedUdp() { ::close(fd_); }

size_t SharedUdp::receive(const OnDatagram& on_datagram, size_t max_calls) {
  Impl& s = *impl_;
  size_t total = 0;
  for (size_t call = 0; call < max_calls; ++call) {
    for (size_t i = 0; i < batch; ++i) {  // the kernel rewrites these lengths
      s.in_msg[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
      s.in_msg[i].msg_hdr.msg_controllen = control_size;
    }
    const int n = ::recvmmsg(fd_, s.in_msg.data(), batch, MSG_DONTWAIT, nullptr);
    ++stats_.receive_calls;
    if (n <= 0) break;
    for (int k = 0; k < n; ++k) {
      const auto i = static_cast<size_t>(k);
      msghdr& h = s.in_msg[i].msg_hdr;
      const size_t size = s.in_msg[i].msg_len;
      uint32_t to_ip = 0;
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
          in_pktinfo info;
          std::memcpy(&info, CMSG_DATA(c), sizeof info);
          to_ip = ntohl(info.ipi_addr.s_addr);
        }
      }
      if (to_ip == 0 || (h.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || size > net::datagram_size_max ||
          s.in_addr[i].sin_family != AF_INET) {
        ++stats_.dropped;
        continue;
      }
      const uint32_t from_ip = ntohl(s.in_addr[i].sin_addr.s_addr);
      const net::Address from = net::make_ipv4(static_cast<uint8_t>(from_ip >> 24), static_cast<uint8_t>(from_ip >> 16),
                                               static_cast<uint8_t>(from_ip >> 8), static_cast<uint8_t>(from_ip),
                                               ntohs(s.in_addr[i].sin_port));
      ++stats_.datagrams_received;
      on_datagram(to_ip, from, std::span<const uint8_t>(s.in_data.data() + i * slot_size, size));
    }
    total += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < batch) break;
  }
  return total;
}

void SharedUdp::queue(uint32_t from_ip, const net::Address& to, std::span<const uint8_t> data) {
  Impl& s = *impl_;
  if (to.family != net::AddressFamily::ipv4 || data.size() > net::datagram_size_max) {
    ++stats_.dropped;
    return;
  }
  if (s.out_count == batch) flush();
  Impl::Out& o = s.out[s.out_count++];
  uint32_t to_ip = 0;
  for (int b = 0; b < 4; ++b) to_ip = to_ip << 8 | to.ip[static_cast<size_t>(b)];
  o.to.sin_addr.s_addr = htonl(to_ip);
  o.to.sin_port = htons(to.port);
  in_pktinfo info{};
  info.ipi_spec_dst.s_addr = htonl(from_ip);  // the source address of this bot
  std::memcpy(CMSG_DATA(reinterpret_cast<cmsghdr*>(o.control.data())), &info, sizeof info);
  o.size = data.size();
  std::memcpy(o.data.data(), data.data(), data.size());
}

size_t SharedUdp::flush() {
  Impl& s = *impl_;
  size_t done = 0;
  int stalls = 0;
  while (done < s.out_count) {
    const size_t n = s.out_count - done;
    for (size_t i = 0; i < n; ++i) {
      Impl::Out& o = s.out[done + i];
      s.out_iov[i] = iovec{o.data.data(), o.size};
      msghdr& h = s.out_msg[i].msg_hdr;
      h.msg_name = &o.to;
      h.msg_namelen = sizeof o.to;
      h.msg_iov = &s.out_iov[i];
      h.msg_iovlen = 1;
      h.msg_control = o.control.data();
      h.msg_controllen = control_size;
      h.msg_flags = 0;
    }
    const int sent = ::sendmmsg(fd_, s.out_msg.data(), static_cast<unsigned>(n), MSG_DONTWAIT);
    ++stats_.send_calls;
    if (sent > 0) {
      done += static_cast<size_t>(sent);
      stats_.datagrams_sent += static_cast<uint64_t>(sent);
      continue;
    }
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && stalls++ < 3) {
      pollfd p{fd_, POLLOUT, 0};
      (void)::poll(&p, 1, 1);  // the socket buffer is full: give the kernel a millisecond
      continue;
    }
    ++stats_.dropped;  // UDP may lose; the protocol recovers
    ++done;
  }
  const size_t total = s.out_count;
  s.out_count = 0;
  return total;
}

}  // namespace strata::bot
