// net/endpoint.h: what the server and client endpoints share: the transport kind of a peer and the
// sink the endpoints write outgoing datagrams (or TCP frame bodies) into. Transports implement the
// sink (batching into sendmmsg, or framing onto a stream); tests implement it with a LinkSim.
#pragma once

#include <cstdint>
#include <span>

#include "net/address.h"

namespace strata::net {

enum class TransportKind : uint8_t { datagram = 0, stream = 1 };

class DatagramSink {
 public:
  virtual ~DatagramSink() = default;
  virtual void send_datagram(TransportKind kind, const Address& to, std::span<const uint8_t> data) = 0;
};

}  // namespace strata::net
