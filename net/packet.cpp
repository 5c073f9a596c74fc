// net/packet.cpp: encoding of the data packet header and of the message entries it carries.
//
// All integers little endian. Every datagram starts with a prefix byte: low 4 bits = packet type
// (0 request, 1 denied, 2 challenge, 3 response, 4 data), high 4 bits reserved = 0.
//
// Data packet (type 4):
//   off size field
//   0   1    prefix = 0x04
//   1   4    connection id (chosen by the server at challenge time)
//   5   2    sequence      (16-bit packet sequence of the sender; the 64-bit AEAD nonce is rebuilt
//                           from it, see extend_sequence)
//   7   2    ack           (most recent sequence received from the peer)
//   9   4    ack bits      (bit i set = ack - 1 - i was received)
//   13  2    ack delay     (time between receiving `ack` and sending this packet, in 8 us units,
//                           saturating: RTT samples subtract it, so acks of unreliable traffic can
//                           wait for the next packet going out instead of costing one of their own)
//   15  n    payload       (ChaCha20-Poly1305 ciphertext of the entries below, n <= 1200)
//   15+n 16  MAC           (additional data = header bytes 0..14 + protocol id u64)
// The protocol id is not sent in data packets: it is bound through the MAC (and sent in clear only
// in the connection request), so a packet of another protocol fails authentication.
//
// Payload: a sequence of entries, each tag u8 then:
//   1 reliable_message        id u16, length u16, bytes
//   2 reliable_fragment       id u16, length u16, bytes   (more fragments follow, ids consecutive)
//   3 reliable_fragment_last  id u16, length u16, bytes
//   4 unreliable_message      sequence u16, length u16, bytes
//   5 unreliable_fragment     sequence u16, index u16, count u16, length u16, bytes
//   6 disconnect              reason u8
//
// Test vectors (tests/net/packet_test.cpp):
//   header {connection 0x11223344, seq 0x0102, ack 0xfffe, bits 0x80000001, delay 0x0a0b} ->
//     04 44 33 22 11 02 01 fe ff 01 00 00 80 0b 0a
//   reliable_message id 7 "hi" -> 01 07 00 02 00 68 69
//   unreliable_fragment seq 0x0203 index 1 count 3 "x" -> 05 03 02 01 00 03 00 01 00 78
#include "net/packet.h"

#include "net/wire.h"

namespace strata::net {

void write_packet_header(const PacketHeader& header, std::span<uint8_t, packet_header_size> out) {
  ByteWriter w(out);
  w.u8(static_cast<uint8_t>(PacketType::data));
  w.u32(static_cast<uint32_t>(header.connection_id));
  w.u16(header.sequence);
  w.u16(header.ack);
  w.u32(header.ack_bits);
  w.u16(header.ack_delay);
}

std::optional<PacketType> read_packet_type(std::span<const uint8_t> packet) {
  if (packet.empty()) return std::nullopt;
  const uint8_t prefix = packet[0];
  if ((prefix & 0xf0) != 0 || prefix >= packet_type_count) return std::nullopt;
  return static_cast<PacketType>(prefix);
}

std::optional<PacketHeader> read_packet_header(std::span<const uint8_t> packet) {
  if (packet.size() < packet_header_size) return std::nullopt;
  ByteReader r(packet);
  if (r.u8() != static_cast<uint8_t>(PacketType::data)) return std::nullopt;
  PacketHeader header;
  header.connection_id = ConnectionId{r.u32()};
  header.sequence = r.u16();
  header.ack = r.u16();
  header.ack_bits = r.u32();
  header.ack_delay = r.u16();
  return header;
}

uint64_t extend_sequence(uint16_t wire, uint64_t expected) {
  const uint64_t base = expected & ~uint64_t{0xffff};
  uint64_t candidate = base | wire;
  // Pick among candidate - 2^16, candidate, candidate + 2^16 the one closest to expected.
  if (candidate + 0x8000 < expected && candidate <= UINT64_MAX - 0x10000) {
    candidate += 0x10000;
  } else if (candidate > expected + 0x8000 && candidate >= 0x10000) {
    candidate -= 0x10000;
  }
  return candidate;
}

size_t entry_header_size(EntryTag tag) {
  switch (tag) {
    case EntryTag::reliable_message:
    case EntryTag::reliable_fragment:
    case EntryTag::reliable_fragment_last:
    case EntryTag::unreliable_message: return 5;
    case EntryTag::unreliable_fragment: return 9;
    case EntryTag::disconnect: return 2;
  }
  return 0;
}

size_t write_entry(const Entry& entry, std::span<uint8_t> out) {
  ByteWriter w(out);
  w.u8(static_cast<uint8_t>(entry.tag));
  if (entry.tag == EntryTag::disconnect) {
    w.u8(entry.reason);
    return w.ok() ? w.size() : 0;
  }
  if (entry.data.size() > 0xffff) return 0;
  w.u16(entry.id);
  if (entry.tag == EntryTag::unreliable_fragment) {
    w.u16(entry.fragment_index);
    w.u16(entry.fragment_count);
  }
  w.u16(static_cast<uint16_t>(entry.data.size()));
  w.bytes(entry.data);
  return w.ok() ? w.size() : 0;
}

bool EntryReader::next(Entry& entry) {
  if (error_ || pos_ >= payload_.size()) return false;
  ByteReader r(payload_.subspan(pos_));
  const uint8_t tag = r.u8();
  if (tag < 1 || tag > 6) {
    error_ = true;
    return false;
  }
  entry = Entry{};
  entry.tag = static_cast<EntryTag>(tag);
  if (entry.tag == EntryTag::disconnect) {
    entry.reason = r.u8();
  } else {
    entry.id = r.u16();
    if (entry.tag == EntryTag::unreliable_fragment) {
      entry.fragment_index = r.u16();
      entry.fragment_count = r.u16();
    }
    const uint16_t length = r.u16();
    entry.data = r.bytes(length);
  }
  if (!r.ok()) {
    error_ = true;
    return false;
  }
  pos_ += r.position();
  return true;
}

}  // namespace strata::net
