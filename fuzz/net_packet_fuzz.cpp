// fuzz/net_packet_fuzz.cpp: the data packet header and the entry decoder on arbitrary bytes.
// Round trip: whatever decodes re-encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "net/packet.h"

using namespace strata::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  (void)read_packet_type(in);
  if (auto header = read_packet_header(in)) {
    uint8_t out[packet_header_size];
    write_packet_header(*header, out);
    if (std::memcmp(out, data, packet_header_size) != 0) std::abort();
  }
  EntryReader reader(in);
  Entry entry;
  std::vector<uint8_t> encoded(size + 16);
  size_t used = 0;
  while (reader.next(entry)) {
    const size_t n = write_entry(entry, std::span<uint8_t>(encoded).subspan(used));
    if (n == 0) std::abort();
    used += n;
  }
  if (!reader.error()) {
    if (used != size || std::memcmp(encoded.data(), data, size) != 0) std::abort();
  }
  return 0;
}
