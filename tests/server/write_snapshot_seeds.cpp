// tests/server/write_snapshot_seeds.cpp — writes seed inputs for fuzz_client_snapshot (a full and a
// delta snapshot from a real scenario). Run by hand: write_snapshot_seeds fuzz/corpus/client_snapshot
#include <cstdio>
#include <string>

#include "schema/client/codec.h"
#include "server/aoi.h"
#include "tools/scenario/scenario.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  using namespace strata;
  sim::Simulation sim(scenario::world_for(4, 2, 6));
  scenario::ScenarioConfig config;
  config.players = 12;
  config.join_ramp_ticks = 2;
  scenario::ScenarioGenerator generator(config);
  server::InterestIndex index;
  server::ChunkChecksums checksums;
  server::MapChangeLog changes(64);
  server::ClientInterest client;
  sim::TickInput input;
  checksums.rebuild(sim.world());
  for (int t = 0; t < 40; ++t) {
    generator.next(sim.world(), input);
    const auto& effects = sim.step(input);
    checksums.update(sim.world(), effects.changed_cells);
    changes.record(sim.world(), effects.changed_cells);
    index.rebuild(sim.world());
    if (t < 20 || sim.world().players.empty()) continue;
    auto s = server::build_client_snapshot(sim.world(), index, checksums, changes, client, sim.world().players[0],
                                           server::AoiParams{8}, sim.quick_hash());
    client.acknowledge(s.tick);
    if (t != 20 && t != 39) continue;
    std::vector<uint8_t> wire;
    view::encode_client_snapshot(s, wire);
    const std::string path = std::string(argv[1]) + (t == 20 ? "/full.bin" : "/delta.bin");
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return 1;
    std::fwrite(wire.data(), 1, wire.size(), f);
    std::fclose(f);
  }
  return 0;
}
