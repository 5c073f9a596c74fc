// tests/schema/write_seeds.cpp — writes small seed inputs for the schema fuzzers from real encodings:
//   schema_write_seeds <fuzz/corpus dir>
// creates schema_command/, schema_tick_input/, schema_snapshot/ under it.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "schema/codec.h"
#include "sim/simulation.h"
#include "sim/state_codec.h"
#include "tools/scenario/scenario.h"

namespace {

void write(const std::filesystem::path& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace strata;
  if (argc != 2) {
    std::fprintf(stderr, "usage: schema_write_seeds <fuzz/corpus dir>\n");
    return 2;
  }
  const std::filesystem::path root = argv[1];
  scenario::ScenarioConfig config;
  config.seed = 3;
  config.players = 6;
  config.join_ramp_ticks = 4;
  config.build_per_mille = 200;
  config.break_per_mille = 100;
  config.interact_per_mille = 100;
  config.remote_regions = 1;
  config.remote_writes_per_tick = 1;
  config.remote_presence_per_tick = 1;
  config.hostile_per_mille = 50;
  sim::WorldParams params = scenario::world_for(3, 1, 2);
  sim::Simulation sim(params);
  scenario::ScenarioGenerator generator(config);
  sim::TickInput input;
  size_t commands_written = 0;
  std::vector<bool> kinds(sim::command_kind_count, false);
  for (int t = 0; t < 40; ++t) {
    generator.next(sim.world(), input);
    if (t % 8 == 0)
      write(root / "schema_tick_input", "tick_" + std::to_string(t + 1), schema::encode_tick_input(input));
    for (const sim::Command& c : input.commands) {
      if (kinds[c.index()]) continue;
      kinds[c.index()] = true;
      write(root / "schema_command", "kind_" + std::to_string(c.index()), schema::encode_command(c));
      commands_written += 1;
    }
    sim.step(input);
  }
  write(root / "schema_snapshot", "tick_40", schema::encode_snapshot(sim.world()));
  std::vector<uint8_t> state;
  sim::encode_state(sim.world(), state);
  write(root / "schema_snapshot", "raw_state_tick_40", state);  // the fuzzer also feeds decode_state
  std::printf("wrote %zu command kinds, 5 tick inputs, 2 snapshot seeds\n", commands_written);
  return 0;
}
