// fuzz/client_messages.cc — any bytes as a game message (kind byte + packed Cap'n Proto): the
// decoder the server runs on every client message, including the commands inside input batches.
#include <cstddef>
#include <cstdint>
#include <span>

#include "schema/client/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto decoded = strata::view::decode_message(std::span<const uint8_t>(data, size));
  if (decoded.message && decoded.message->inputs.size() > strata::view::input_batch_max) __builtin_trap();
  return 0;
}
