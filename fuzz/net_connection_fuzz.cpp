// fuzz/net_connection_fuzz.cpp: every message decoder and fragment reassembly of a Connection on an
// arbitrary sequence of authenticated packets (what a malicious but authenticated peer can send).
// Input: repeated [u16 length][u16 sequence][u16 ack][u32 ack bits][u16 ack delay][payload of length].
#include <cstddef>
#include <cstdint>

#include "net/connection.h"
#include "net/wire.h"

using namespace strata::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteReader r(std::span<const uint8_t>(data, size));
  Connection connection(default_connection_config(), ConnectionId{1}, 0);
  uint64_t now_us = 1;
  std::vector<uint8_t> payload;
  PacketHeader header;
  for (int packets = 0; packets < 256 && r.remaining() > 0; ++packets) {
    const uint16_t length = r.u16();
    PacketHeader in;
    in.sequence = r.u16();
    in.ack = r.u16();
    in.ack_bits = r.u32();
    in.ack_delay = r.u16();
    auto body = r.bytes(std::min<size_t>(length, r.remaining()));
    if (!r.ok()) break;
    connection.receive_packet(in, body, now_us);
    now_us += 1000;
    connection.update(now_us);
    Message m;
    while (connection.pop_message(m)) {
      if (m.data.size() > message_size_max) __builtin_trap();
    }
    for (int i = 0; i < 4 && connection.write_packet(now_us, header, payload); ++i) {
      if (payload.size() > packet_payload_max) __builtin_trap();
    }
  }
  return 0;
}
