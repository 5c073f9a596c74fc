// fuzz/replay_hash_stream.cpp — libFuzzer target for the hash stream reader (replay/desync.h
// read_hash_stream): any text is parsed into contiguous ticks or refused with the line, never read
// past a line's limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "replay/desync.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::replay;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  HashStream stream;
  const Status status = read_hash_stream(in, "fuzz", stream);
  if (!status.ok() && status.message.find("fuzz line ") != 0) std::abort();  // every refusal names its line
  for (size_t i = 1; status.ok() && i < stream.size(); ++i) {
    if (stream[i].tick != stream[i - 1].tick + 1) std::abort();
  }
  return 0;
}
