// fuzz/net_reassembly_fuzz.cpp: fragment reassembly driven by structured fragment entries: the
// input picks sequence, index, count and size of each fragment (reliable and unreliable), so the
// fuzzer explores eviction, duplicates, count mismatches and oversize assemblies quickly.
// Input: repeated [u8 kind][u16 id][u16 index][u16 count][u16 size].
#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/connection.h"
#include "net/wire.h"

using namespace strata::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteReader r(std::span<const uint8_t>(data, size));
  Connection connection(default_connection_config(), ConnectionId{1}, 0);
  std::vector<uint8_t> body(fragment_size + 64, 0xab);
  std::vector<uint8_t> payload(packet_payload_max);
  uint16_t sequence = 0;
  for (int i = 0; i < 2048 && r.remaining() >= 9; ++i) {
    Entry e;
    const uint8_t kind = r.u8() % 4;
    e.tag = kind == 0   ? EntryTag::unreliable_fragment
            : kind == 1 ? EntryTag::reliable_fragment
            : kind == 2 ? EntryTag::reliable_fragment_last
                        : EntryTag::unreliable_message;
    e.id = r.u16();
    e.fragment_index = r.u16();
    e.fragment_count = r.u16();
    e.data = std::span<const uint8_t>(body).first(r.u16() % body.size());
    const size_t n = write_entry(e, payload);
    if (n == 0) continue;
    PacketHeader header;
    header.sequence = sequence++;
    connection.receive_packet(header, std::span<const uint8_t>(payload).first(n), 1 + i);
    Message m;
    while (connection.pop_message(m)) {
      if (m.data.size() > message_size_max) __builtin_trap();
    }
    if (connection.state() == ConnectionState::disconnected) break;
  }
  return 0;
}
