// schema/wire_detail.h — internal to schema/: conversions between sim types and generated capnp
// builders/readers, shared by the command, snapshot and log codecs. Readers never count (the public
// decode_* functions do) and never throw on their own (capnp may; callers catch).
#pragma once

#include "schema/codec.h"
#include "schema/commands.capnp.h"
#include "schema/snapshot.capnp.h"

namespace strata::schema::detail {

void command_to_wire(const sim::Command& command, wire::Command::Builder out);
void tick_input_to_wire(const sim::TickInput& input, wire::TickInput::Builder out);
[[nodiscard]] DecodeResult<sim::TickInput> tick_input_from_wire(wire::TickInput::Reader in, EnumPolicy policy);
// The same into `out`, whose command vector keeps its capacity (a log reader's record).
[[nodiscard]] DecodeStatus tick_input_into(wire::TickInput::Reader in, EnumPolicy policy, sim::TickInput& out);

void params_to_wire(const sim::WorldParams& params, wire::WorldParams::Builder out);
[[nodiscard]] sim::WorldParams params_from_wire(wire::WorldParams::Reader in);

template <class T>
DecodeResult<T> refused(DecodeError code, std::string error) {
  DecodeResult<T> result;
  result.code = code;
  result.error = std::move(error);
  return result;
}

}  // namespace strata::schema::detail
