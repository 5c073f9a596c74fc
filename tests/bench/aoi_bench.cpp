// tests/bench/aoi_bench.cpp — interest management figures (issue 5):
//   server/aoi/clients:N/ack_ticks:A   building and encoding every client's delta snapshot for one
//                          tick, with counters: visible entities per client, bytes per client per
//                          second at 20 Hz, and the share of full snapshots.
// Players are packed so that about 100 entities are within a client's 24-cell radius; 5% of them
// turn every tick; acks arrive A ticks after each snapshot (2: a client nearby; 9: what the
// 5000-bot load run on a 2-core box measures, its bots starved of CPU).
#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>

#include "net/limits.h"
#include "net/packet.h"
#include "schema/client/codec.h"
#include "schema/client/messages.h"
#include "server/aoi.h"
#include "sim/movement.h"

namespace {

using namespace strata;
using namespace strata::sim;

std::unique_ptr<Simulation> crowd(uint32_t players) {
  WorldParams params;
  params.seed = 77;
  params.chunks_x = 32;
  params.chunks_y = 32;
  params.npc_count = 0;
  World world = Simulation(params).world();
  Rng rng = Rng::seeded(3, 3);
  // Density for ~100 visible in a 49x49 square (2401 cells): one player per 24 cells.
  const auto side = static_cast<uint32_t>(std::min(1000.0, std::sqrt(players * 24.0)));
  for (uint32_t i = 0; i < players; ++i) {
    Player p;
    p.id = PlayerId{i + 1};
    for (;;) {
      const CellPos cell{static_cast<int32_t>(512 - side / 2 + rng.below(side)),
                         static_cast<int32_t>(512 - side / 2 + rng.below(side))};
      if (world.map.blocks(cell)) continue;
      p.pos = cell_centre(cell);
      break;
    }
    p.stamina = limits::stamina_max;
    p.health = limits::health_max;
    p.heading = static_cast<Direction>(1 + rng.below(8));
    p.vel = velocity_for(p.heading, limits::walk_speed);
    world.players.push_back(p);
  }
  return std::make_unique<Simulation>(std::move(*Simulation::from_world(std::move(world))));
}

void BM_Aoi(benchmark::State& state) {
  const auto players = static_cast<uint32_t>(state.range(0));
  const auto ack_ticks = static_cast<size_t>(state.range(1));
  auto sim = crowd(players);
  server::FramePublisher frames(64);
  (void)frames.publish(sim->world(), {}, sim->quick_hash());
  std::vector<server::ClientInterest> clients(players);
  std::vector<std::vector<uint64_t>> pending_acks(players);
  server::AoiParams aoi;
  TickInput input;
  std::vector<uint8_t> wire;
  view::ClientSnapshot snapshot;
  uint64_t bytes = 0;
  uint64_t snapshots = 0;
  uint64_t full = 0;
  uint64_t full_bytes = 0;
  uint64_t visible = 0;
  uint64_t deltas = 0;  // entity deltas in delta snapshots
  uint64_t cells = 0;   // cell updates in delta snapshots
  uint64_t round = 0;
  // One tick: step (not timed), then every client's snapshot. Counted only when timed.
  const auto one_round = [&](benchmark::State* timed) {
    if (timed != nullptr) timed->PauseTiming();
    input.tick = sim->tick() + 1;
    input.commands.clear();
    for (uint32_t k = 0; k < players / 20; ++k) {
      const uint32_t id = 1 + static_cast<uint32_t>((round * (players / 20) + k) % players);
      input.commands.emplace_back(MoveCommand{PlayerId{id}, static_cast<uint32_t>(round + 1),
                                              static_cast<Direction>(1 + (id + round) % 8), MoveMode::walk});
    }
    ++round;
    const Effects& effects = sim->step(input);
    if (timed != nullptr) timed->ResumeTiming();
    auto frame = frames.publish(sim->world(), effects.changed_cells, sim->quick_hash());
    for (size_t i = 0; i < sim->world().players.size(); ++i) {
      const Player& p = sim->world().players[i];
      const size_t c = raw(p.id) - 1;
      auto& acks = pending_acks[c];
      if (acks.size() >= ack_ticks) {  // acks arrive ack_ticks later
        clients[c].acknowledge(acks.front());
        acks.erase(acks.begin());
      }
      server::build_client_snapshot(*frame, clients[c], *frame->viewer(raw(p.id)), aoi, snapshot);
      view::encode_snapshot_message(snapshot, wire);
      acks.push_back(snapshot.tick);
      if (timed == nullptr) continue;
      if (snapshot.baseline_tick == 0) {
        full += 1;
        full_bytes += wire.size();
      } else {
        bytes += wire.size();
        snapshots += 1;
        deltas += snapshot.entities.size();
        cells += snapshot.cells.size();
      }
      size_t seen = 0;
      frame->index.query(p.pos.x.tile() - aoi.radius_cells, p.pos.y.tile() - aoi.radius_cells,
                         p.pos.x.tile() + aoi.radius_cells, p.pos.y.tile() + aoi.radius_cells,
                         [&](uint32_t) { ++seen; });
      visible += seen;
    }
  };
  // Not timed: every client past its first full snapshot and the acks flowing (Google Benchmark's
  // warm-up runs the function afresh, so it cannot do this).
  for (size_t i = 0; i < ack_ticks + 3; ++i) one_round(nullptr);
  for (auto _ : state) one_round(&state);
  // Deltas (steady state) and full snapshots (first contact, or an ack older than the history)
  // are reported apart.
  state.counters["visible_per_client"] = static_cast<double>(visible) / static_cast<double>(snapshots + full);
  state.counters["delta_bytes_per_client_per_s_20hz"] =
      static_cast<double>(bytes) / static_cast<double>(snapshots) * 20.0;
  // With what the netchannel adds to each snapshot (a packet of its own: header, MAC, entry header).
  const double per_packet = static_cast<double>(net::packet_header_size + net::mac_size +
                                                net::entry_header_size(net::EntryTag::unreliable_message));
  state.counters["delta_wire_bytes_per_client_per_s_20hz"] =
      (static_cast<double>(bytes) / static_cast<double>(snapshots) + per_packet) * 20.0;
  state.counters["entity_deltas_per_snapshot"] = static_cast<double>(deltas) / static_cast<double>(snapshots);
  state.counters["cells_per_snapshot"] = static_cast<double>(cells) / static_cast<double>(snapshots);
  state.counters["full_snapshot_bytes"] = full > 0 ? static_cast<double>(full_bytes) / static_cast<double>(full) : 0.0;
}
BENCHMARK(BM_Aoi)
    ->Name("server/aoi")
    ->ArgNames({"clients", "ack_ticks"})
    ->Args({1000, 2})
    ->Args({5000, 2})
    ->Args({5000, 9})
    ->Unit(benchmark::kMillisecond);

}  // namespace
