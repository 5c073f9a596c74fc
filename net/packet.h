// net/packet.h: the packet header and the message entries of a data packet (wire layout in
// packet.cpp), plus 16-bit sequence arithmetic. Pure functions: bytes in, values or errors out.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "net/limits.h"

namespace strata::net {

enum class ConnectionId : uint32_t {};

enum class PacketType : uint8_t {
  connection_request = 0,
  connection_denied = 1,
  connection_challenge = 2,
  connection_response = 3,
  data = 4,
};
inline constexpr uint8_t packet_type_count = 5;

// The header every data packet starts with (authenticated, not encrypted).
struct PacketHeader {
  ConnectionId connection_id{};
  uint16_t sequence = 0;
  uint16_t ack = 0;
  uint32_t ack_bits = 0;
  // How long the sender held `ack` before sending this packet, in ack_delay_unit_us (saturating):
  // the peer subtracts it from its RTT sample, so acks may wait for a packet going out anyway.
  uint16_t ack_delay = 0;
  friend bool operator==(const PacketHeader&, const PacketHeader&) = default;
};

// Writes the 15-byte header; `out` must hold packet_header_size bytes.
void write_packet_header(const PacketHeader& header, std::span<uint8_t, packet_header_size> out);
// Reads the header of a data packet; nullopt if too short or the prefix is not a data packet.
[[nodiscard]] std::optional<PacketHeader> read_packet_header(std::span<const uint8_t> packet);
// The packet type from the prefix byte; nullopt for empty input or unknown types/flags.
[[nodiscard]] std::optional<PacketType> read_packet_type(std::span<const uint8_t> packet);

// True when a is newer than b in 16-bit wrapping order.
[[nodiscard]] constexpr bool sequence_greater_than(uint16_t a, uint16_t b) {
  return ((a > b) && (a - b <= 0x8000)) || ((a < b) && (b - a > 0x8000));
}
[[nodiscard]] constexpr bool sequence_less_than(uint16_t a, uint16_t b) { return sequence_greater_than(b, a); }
// Signed distance a - b in wrapping order (in [-32768, 32767]).
[[nodiscard]] constexpr int sequence_difference(uint16_t a, uint16_t b) {
  return static_cast<int16_t>(static_cast<uint16_t>(a - b));
}
// Reconstructs a 64-bit sequence from its low 16 bits, choosing the value closest to `expected`.
[[nodiscard]] uint64_t extend_sequence(uint16_t wire, uint64_t expected);

// --- entries of a data packet's payload ----------------------------------------------------------
enum class EntryTag : uint8_t {
  reliable_message = 1,        // a whole reliable-ordered message
  reliable_fragment = 2,       // a fragment of a reliable message; more fragments follow
  reliable_fragment_last = 3,  // the last fragment of a reliable message
  unreliable_message = 4,      // a whole unreliable-sequenced message
  unreliable_fragment = 5,     // a fragment of an unreliable-sequenced message
  disconnect = 6,              // the peer closes the connection, with a reason
};

struct Entry {
  EntryTag tag = EntryTag::reliable_message;
  uint16_t id = 0;              // reliable message id or unreliable sequence
  uint16_t fragment_index = 0;  // unreliable fragments only
  uint16_t fragment_count = 0;  // unreliable fragments only
  uint8_t reason = 0;           // disconnect only
  std::span<const uint8_t> data;
};

[[nodiscard]] size_t entry_header_size(EntryTag tag);

// Encodes one entry; returns bytes written or 0 if it does not fit.
[[nodiscard]] size_t write_entry(const Entry& entry, std::span<uint8_t> out);

// Iterates the entries of a decrypted payload. A malformed entry stops the walk with an error;
// entries before it were valid.
class EntryReader {
 public:
  explicit EntryReader(std::span<const uint8_t> payload) : payload_(payload) {}
  // Next entry; false at the end or on error (then error() is true).
  bool next(Entry& entry);
  [[nodiscard]] bool error() const { return error_; }

 private:
  std::span<const uint8_t> payload_;
  size_t pos_ = 0;
  bool error_ = false;
};

}  // namespace strata::net
