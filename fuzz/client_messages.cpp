// fuzz/client_messages.cpp — any bytes as a game message (kind byte + packed Cap'n Proto): the
// decoders of client.capnp messages, including the commands inside input batches.
#include <cstddef>
#include <cstdint>
#include <span>

#include "schema/client/messages.h"

// Both decoders: the general one (a client reading its server) and the server's (client kinds only,
// per-kind budgets), which must never accept a server kind or more than the general one would.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  auto decoded = strata::view::decode_message(bytes);
  if (decoded.message && decoded.message->inputs.size() > strata::view::input_batch_max) __builtin_trap();
  auto client = strata::view::decode_client_message(bytes);
  if (client.message) {
    if (!strata::view::client_to_server(client.message->kind)) __builtin_trap();
    if (size > strata::view::client_limits::message_bytes_max) __builtin_trap();
    if (!decoded.message || decoded.message->kind != client.message->kind) __builtin_trap();
    if (client.message->inputs.size() != decoded.message->inputs.size()) __builtin_trap();
  }
  return 0;
}
