// tests/schema/client_message_gen.h — the messages a hostile or honest client can send at their
// largest, for the client-message decoder's tests and benchmark.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <kj/io.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "schema/client/client.capnp.h"
#include "schema/client/messages.h"

namespace strata::view::test {

// The largest legal input batch: input_batch_max entries with the widest command (all fields set).
inline std::vector<uint8_t> largest_inputs() {
  std::vector<InputEntry> inputs;
  for (uint32_t i = 0; i < input_batch_max; ++i) {
    inputs.push_back(
        InputEntry{0xfffffff0U + i, ~uint64_t{0} - i,
                   sim::PlaceCommand{sim::PlayerId{0xffffff}, 0xffffffffU, sim::CellPos{-2147483647, 2147483647},
                                     sim::Layer::active, sim::to_underlying(sim::Block::chest),
                                     sim::LwwStamp{~uint64_t{0}, sim::RegionId{0xffff}}}});
  }
  std::vector<uint8_t> out;
  encode_inputs(inputs, out);
  return out;
}

// The longest chat line: chat_text_bytes_max bytes of 4-byte UTF-8.
inline std::string longest_chat() {
  std::string text;
  while (text.size() + 4 <= chat_text_bytes_max) text += "\xf0\x9f\x98\x80";
  return text;
}

// A kind byte and a packed body of zero runs (tag 0x00, count 0xff: 2 bytes that unpack to 256
// words, 2 kB): the cheapest way to make a decoder allocate. `bytes` of body.
inline std::vector<uint8_t> zero_runs(MessageKind kind, size_t bytes) {
  std::vector<uint8_t> out(1 + bytes / 2 * 2, 0xff);
  out[0] = static_cast<uint8_t>(kind);
  for (size_t i = 1; i < out.size(); i += 2) out[i] = 0x00;
  return out;
}

// A well-formed observer tick whose input is `input_bytes` of zeros: a server -> client kind a
// client sends to make a server that reads every kind unpack and copy megabytes (packed, ~16 kB
// for 16 MiB).
inline std::vector<uint8_t> fat_observer_tick(size_t input_bytes) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::ObserverTick>();
  root.setTick(1);
  root.initInput(static_cast<unsigned>(input_bytes));
  kj::VectorOutputStream output;
  capnp::writePackedMessage(output, message);
  std::vector<uint8_t> out(1 + output.getArray().size());
  out[0] = static_cast<uint8_t>(MessageKind::observer_tick);
  std::copy(output.getArray().begin(), output.getArray().end(), out.begin() + 1);
  return out;
}

}  // namespace strata::view::test
