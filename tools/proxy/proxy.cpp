// tools/proxy/proxy.cpp — the cut-and-heal TCP proxy (see proxy.h). Each accepted connection is a
// Pipe: the client's socket, one to the upstream, and one read in flight per direction; a read is
// written out whole before the next read of that direction starts, so the kernel's buffers are the
// only backpressure. Handlers hold the Pipe by shared_ptr and do nothing once it is closed (a cut
// closes the sockets under reads still pending; those complete with operation_aborted).
#include "tools/proxy/proxy.h"

#include <boost/system/error_code.hpp>

namespace strata::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

struct TcpProxy::Pipe {
  explicit Pipe(tcp::socket client_socket) : client(std::move(client_socket)), upstream(client.get_executor()) {}
  tcp::socket client;
  tcp::socket upstream;
  std::array<std::array<char, limits::chunk_bytes>, 2> buffers{};  // [1]: client -> upstream
  bool open = true;
};

TcpProxy::TcpProxy(asio::io_context& io, const tcp::endpoint& listen, const tcp::endpoint& upstream)
    : io_(io), acceptor_(io, listen, /*reuse_address=*/true), upstream_(upstream) {
  accept_next();
}

void TcpProxy::accept_next() {
  acceptor_.async_accept([this](const boost::system::error_code& error, tcp::socket client) {
    if (closed_) return;
    if (!error) on_accept(std::move(client));
    accept_next();
  });
}

void TcpProxy::on_accept(tcp::socket client) {
  boost::system::error_code ignored;
  if (cut_) {
    ++counters_.refused_cut;
    client.close(ignored);
    return;
  }
  if (pipes_.size() >= limits::pipes_max) {
    ++counters_.refused_full;
    client.close(ignored);
    return;
  }
  ++counters_.accepted;
  client.set_option(tcp::no_delay(true), ignored);
  auto pipe = std::make_shared<Pipe>(std::move(client));
  pipes_.insert(pipe);
  pipe->upstream.async_connect(upstream_, [this, pipe](const boost::system::error_code& error) {
    if (!pipe->open) return;
    if (error) {
      ++counters_.upstream_failed;
      end(pipe, false);
      return;
    }
    boost::system::error_code ignored_option;
    pipe->upstream.set_option(tcp::no_delay(true), ignored_option);
    pump(pipe, true);
    pump(pipe, false);
  });
}

void TcpProxy::pump(const std::shared_ptr<Pipe>& pipe, bool to_upstream) {
  tcp::socket& from = to_upstream ? pipe->client : pipe->upstream;
  auto& buffer = pipe->buffers[to_upstream ? 1 : 0];
  from.async_read_some(
      asio::buffer(buffer), [this, pipe, to_upstream](const boost::system::error_code& error, size_t got) {
        if (!pipe->open) return;
        if (error) {
          end(pipe, false);
          return;
        }
        tcp::socket& to = to_upstream ? pipe->upstream : pipe->client;
        asio::async_write(to, asio::buffer(pipe->buffers[to_upstream ? 1 : 0].data(), got),
                          [this, pipe, to_upstream](const boost::system::error_code& write_error, size_t sent) {
                            if (!pipe->open) return;
                            if (write_error) {
                              end(pipe, false);
                              return;
                            }
                            (to_upstream ? counters_.bytes_to_upstream : counters_.bytes_to_client) += sent;
                            pump(pipe, to_upstream);
                          });
      });
}

void TcpProxy::end(const std::shared_ptr<Pipe>& pipe, bool by_cut) {
  if (!pipe->open) return;
  pipe->open = false;
  boost::system::error_code ignored;
  pipe->client.close(ignored);
  pipe->upstream.close(ignored);
  ++(by_cut ? counters_.closed_by_cut : counters_.closed_by_peer);
  pipes_.erase(pipe);
}

void TcpProxy::cut() {
  cut_ = true;
  // end() erases from pipes_: walk a copy.
  const std::set<std::shared_ptr<Pipe>> carried = pipes_;
  for (const auto& pipe : carried) end(pipe, true);
}

void TcpProxy::heal() { cut_ = false; }

void TcpProxy::close() {
  closed_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  const std::set<std::shared_ptr<Pipe>> carried = pipes_;
  for (const auto& pipe : carried) end(pipe, true);
}

}  // namespace strata::proxy
