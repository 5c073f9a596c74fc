// tests/server/log_property_test.cpp — the log cannot be poisoned: whatever logged-in clients send,
// at any scale (players, floods of inputs aimed at one tick, stale, early and duplicate sequences),
// every record the node's path writes (client message decoder -> scheduler -> TickInput -> step ->
// the real session log in a temp dir) decodes, the log replays with every hash verified, and it
// recovers for appending (the path a restart takes).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <cstddef>

#include <filesystem>

#include "replay/replayer.h"
#include "replay/rocks_log.h"
#include "schema/client/messages.h"
#include "server/input_scheduler.h"
#include "sim/simulation.h"

namespace strata::server {
namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("strata-log-property-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

replay::LogConfig log_config() {
  replay::LogConfig config;
  config.full_hash_every = 3;
  config.snapshot_every = 4;
  return config;
}

sim::Command any_command(uint32_t kind, uint32_t x) {
  const sim::CellPos cell{static_cast<int32_t>(x % 200), static_cast<int32_t>(x / 200 % 200)};
  switch (kind % 4) {
    case 0: return sim::MoveCommand{{}, 0, static_cast<sim::Direction>(x % 9), sim::MoveMode::run};
    case 1: return sim::PlaceCommand{{}, 0, cell, sim::Layer::active, sim::to_underlying(sim::Block::wood_wall), {}};
    case 2: return sim::BreakCommand{{}, 0, cell, sim::Layer::active, {}};
    default: return sim::InteractCommand{{}, 0, cell, {}};
  }
}

// One client's messages for this tick, as a client would send them: batches of at most
// input_batch_max inputs, through the server's decoder.
void send_inputs(InputScheduler& scheduler, uint32_t player, std::vector<view::InputEntry>& entries,
                 uint64_t current_tick) {
  std::vector<uint8_t> bytes;
  for (size_t begin = 0; begin < entries.size(); begin += view::input_batch_max) {
    const size_t end = std::min(entries.size(), begin + view::input_batch_max);
    view::encode_inputs(std::vector<view::InputEntry>(entries.begin() + static_cast<ptrdiff_t>(begin),
                                                      entries.begin() + static_cast<ptrdiff_t>(end)),
                        bytes);
    auto decoded = view::decode_client_message(bytes);
    RC_ASSERT(decoded.message.has_value());
    for (const view::InputEntry& e : decoded.message->inputs)
      (void)scheduler.submit_player(sim::PlayerId{player}, e.seq, e.tick, e.command, current_tick);
  }
}

struct Scenario {
  uint32_t players = 1;
  uint32_t joined = 0;
  uint64_t ticks = 2;
  uint32_t flood_percent = 0;  // clients sending 64 inputs in a tick
  uint64_t seed = 1;
};

// Runs the path for `s`; RC_ASSERT throws on failure (a GoogleTest failure outside a property).
// Returns the most inputs clients aimed at one tick.
uint64_t run(const Scenario& s) {
  const uint32_t players = s.players;
  const uint32_t joined = s.joined;
  const uint64_t ticks = s.ticks;
  const uint32_t flood_percent = s.flood_percent;
  const uint64_t seed = s.seed;
  TempDir dir;
  sim::WorldParams params;
  params.seed = seed;
  params.chunks_x = 8;
  params.chunks_y = 8;
  sim::Simulation sim(params);
  replay::Status status;
  auto log = replay::LogWriter::create(dir.path.string(), sim.world(), log_config(), status);
  RC_ASSERT(log != nullptr);
  Hlc hlc(1000);
  InputScheduler scheduler(default_input_scheduler_config(), params.region, hlc);
  for (uint32_t p = 1; p <= joined; ++p)
    RC_ASSERT(scheduler.submit_system(sim::JoinCommand{sim::PlayerId{p}}) == InputVerdict::accepted);

  std::vector<uint32_t> next_seq(players + 1, 1);
  uint64_t x = seed | 1;
  auto next = [&] {  // xorshift: cheap per-input randomness (rapidcheck per input would be slow at scale)
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return static_cast<uint32_t>(x);
  };
  sim::TickInput input;
  std::vector<view::InputEntry> entries;
  uint64_t aimed_max = 0;  // inputs clients aimed at one tick (what the log once took whole)
  for (uint64_t tick = 1; tick <= ticks; ++tick) {
    uint64_t aimed = 0;
    for (uint32_t p = 1; p <= players; ++p) {
      entries.clear();
      const bool flood = next() % 100 < flood_percent;
      const uint32_t count = flood ? 64 : next() % 3;
      for (uint32_t k = 0; k < count; ++k) {
        const uint32_t r = next();
        // Aimed at this tick mostly; some stale, some early, some far beyond the lead, some resent.
        uint64_t wanted = tick;
        if (r % 7 == 1) wanted = tick + r % 25;
        if (r % 11 == 2) wanted = tick > 3 ? tick - 3 : 0;
        const uint32_t seq = r % 13 == 3 && next_seq[p] > 1 ? next_seq[p] - 1 : next_seq[p]++;
        entries.push_back(view::InputEntry{seq, wanted, any_command(r >> 8, next())});
      }
      for (const view::InputEntry& e : entries) aimed += e.tick <= tick ? 1 : 0;
      send_inputs(scheduler, p, entries, tick);
    }
    aimed_max = std::max(aimed_max, aimed);
    scheduler.build(tick, 1000 + tick, input);
    RC_ASSERT(input.commands.size() <= sim::limits::commands_per_tick_max);
    (void)sim.step(input);
    const replay::Status appended = log->append(input, sim);
    RC_ASSERT(appended.ok());
  }
  RC_ASSERT(log->flush().ok());
  log.reset();

  // Every record decodes, and the log replays with every hash verified.
  {
    auto source = replay::open_rocks_log(dir.path.string(), status);
    RC_ASSERT(source != nullptr);
    RC_ASSERT(source->last_tick() == ticks);
    auto reader = source->read_ticks(1, ticks);
    schema::TickRecord record;
    for (uint64_t tick = 1; tick <= ticks; ++tick) {
      const replay::Status read = reader->next(record);
      RC_ASSERT(read.ok());
      RC_ASSERT(record.input.tick == tick);
    }
    const replay::ReplayResult replayed = replay::replay(*source, replay::ReplayOptions{});
    RC_ASSERT(replayed.status.ok());
    RC_ASSERT(replayed.last_tick == ticks);
  }
  // And it recovers: a restart rebuilds the last tick and appends after it.
  replay::Recovered recovered = replay::recover(dir.path.string(), log_config());
  RC_ASSERT(recovered.writer != nullptr);
  RC_ASSERT(recovered.sim.has_value());
  RC_ASSERT(recovered.sim->quick_hash() == sim.quick_hash());
  sim::TickInput empty;
  empty.tick = ticks + 1;
  (void)recovered.sim->step(empty);
  RC_ASSERT(recovered.writer->append(empty, *recovered.sim).ok());
  return aimed_max;
}

RC_GTEST_PROP(LogPoisoning, AnyClientBehaviourAtAnyScaleLeavesALogThatDecodesReplaysAndRecovers, ()) {
  // Mostly small, sometimes past the old poisoning point (~1,025 sessions x 64 inputs in one tick)
  // and past the scale where the players' part must be shared (5,120 x 8).
  const uint32_t scale = *rc::gen::element<uint32_t>(3, 40, 300, 1100, 6000);
  Scenario s;
  s.players = *rc::gen::inRange<uint32_t>(1, scale + 1);
  s.joined = *rc::gen::inRange<uint32_t>(0, std::min<uint32_t>(s.players, 200) + 1);
  s.ticks = *rc::gen::inRange<uint64_t>(2, scale > 1000 ? 4 : 9);
  s.flood_percent = *rc::gen::element<uint32_t>(0, 5, 50, 100);
  s.seed = *rc::gen::arbitrary<uint64_t>();
  const uint64_t aimed = run(s);
  RC_CLASSIFY(aimed > sim::limits::commands_per_tick_max, "clients aimed more than the codec takes at one tick");
}

// The finding itself, always: 1,200 sessions x 64 inputs, ~66,000 of them aimed at one tick, and
// 6,000 flooding players, whose share of the players' part is cut.
TEST(LogPoisoning, TheFloodThatOncePoisonedTheLogIsScheduledWithinTheLimit) {
  EXPECT_GT(run(Scenario{1200, 50, 3, 100, 7}), sim::limits::commands_per_tick_max);
  EXPECT_GT(run(Scenario{6000, 0, 2, 100, 8}), sim::limits::commands_per_tick_max);
}

// The writer itself refuses a tick the codec would not decode, before writing anything.
TEST(LogPoisoning, TheLogWriterRefusesATickBeyondTheCodecLimit) {
  TempDir dir;
  sim::WorldParams params;
  params.chunks_x = 2;
  params.chunks_y = 2;
  sim::Simulation sim(params);
  replay::Status status;
  auto log = replay::LogWriter::create(dir.path.string(), sim.world(), log_config(), status);
  ASSERT_TRUE(log) << status.describe();
  sim::TickInput input;
  input.tick = 1;
  input.commands.assign(sim::limits::commands_per_tick_max + 1,
                        sim::MoveCommand{sim::PlayerId{1}, 1, sim::Direction::n, sim::MoveMode::walk});
  (void)sim.step(input);  // the sim looks at the first commands_per_tick_max only
  const replay::Status refused = log->append(input, sim);
  EXPECT_EQ(refused.code, replay::Code::invalid_argument) << refused.describe();
  EXPECT_EQ(log->last_tick(), 0U) << "nothing was written";
  input.commands.resize(sim::limits::commands_per_tick_max);
  EXPECT_TRUE(log->append(input, sim).ok());
}

}  // namespace
}  // namespace strata::server
