// fuzz/server_client_path.cpp — the path a logged-in client's bytes take into the log: client
// messages (decode_client_message) -> the input scheduler -> TickInput(T) -> the log record encoder
// -> the log record decoder. Whatever the bytes, every tick built stays within the codec's limit
// and its record decodes to exactly the input the sim stepped (else replay and recovery would stop).
//
// Input layout: a sequence of frames, each `op u8, len u16le, len bytes`:
//   op 0:          build the next tick (the bytes are ignored)
//   op 1..255:     a message from player `op` (any bytes: decoded as the server does)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "schema/client/messages.h"
#include "schema/codec.h"
#include "schema/log_codec.h"
#include "server/input_scheduler.h"

namespace {

using namespace strata;

bool same_commands(const sim::TickInput& a, const sim::TickInput& b) {
  if (a.tick != b.tick || a.commands.size() != b.commands.size()) return false;
  for (size_t i = 0; i < a.commands.size(); ++i) {
    // Commands are flat structs of integers, encoded field by field: equal encodings, equal commands.
    if (schema::encode_command(a.commands[i]) != schema::encode_command(b.commands[i])) return false;
  }
  return true;
}

void build_and_check(server::InputScheduler& scheduler, uint64_t tick, std::vector<uint8_t>& bytes) {
  sim::TickInput input;
  scheduler.build(tick, 1000 + tick, input);
  if (input.commands.size() > sim::limits::commands_per_tick_max) std::abort();
  schema::encode_tick_record(input, tick * 31, std::nullopt, bytes);
  auto decoded = schema::decode_tick_record(bytes);
  if (!decoded.ok()) std::abort();  // the log would hold a record nobody can read back
  if (!same_commands(decoded.value->input, input)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  strata::server::Hlc hlc(1000);
  strata::server::InputSchedulerConfig config;
  // Small parts so that short inputs reach the caps and the fair share.
  config.player_commands_per_tick = 12;
  config.commands_per_player_per_tick = 5;
  strata::server::InputScheduler scheduler(config, strata::sim::RegionId{1}, hlc);
  std::vector<uint8_t> record;
  uint64_t tick = 1;
  size_t i = 0;
  while (i + 3 <= size) {
    const uint8_t op = data[i];
    const size_t length = std::min<size_t>(data[i + 1] | size_t{data[i + 2]} << 8, size - i - 3);
    const std::span<const uint8_t> message(data + i + 3, length);
    i += 3 + length;
    if (op == 0) {
      build_and_check(scheduler, tick++, record);
      continue;
    }
    auto decoded = strata::view::decode_client_message(message);
    if (!decoded.message) continue;
    if (!strata::view::client_to_server(decoded.message->kind)) std::abort();
    if (decoded.message->inputs.size() > strata::view::input_batch_max) std::abort();
    for (const strata::view::InputEntry& e : decoded.message->inputs)
      (void)scheduler.submit_player(strata::sim::PlayerId{op}, e.seq, e.tick, e.command, tick);
  }
  build_and_check(scheduler, tick, record);
  return 0;
}
