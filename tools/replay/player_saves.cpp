// tools/replay/player_saves.cpp: see player_saves.h.
#include "tools/replay/player_saves.h"

#include <algorithm>
#include <unordered_set>
#include <variant>

#include "replay/replayer.h"
#include "schema/log_codec.h"
#include "sim/assert.h"
#include "sim/simulation.h"

namespace strata::tools {
namespace {

void joined(const sim::JoinCommand& join, const sim::World& world, size_t log, uint64_t tick, SavesReport& report) {
  report.joins += 1;
  if (report.keep_events) report.events.push_back(SaveEvent{log, tick, join.player, false, join.save});
  const uint32_t id = sim::raw(join.player);
  auto found = report.last.find(id);
  if (found == report.last.end()) {
    auto player = std::lower_bound(world.players.begin(), world.players.end(), join.player,
                                   [](const sim::Player& p, sim::PlayerId wanted) { return p.id < wanted; });
    if (player != world.players.end() && player->id == join.player) report.first_items.emplace(id, player->inventory);
    report.first_joins += 1;
    report.first_joins_saved += join.save ? 1 : 0;
    return;
  }
  LastLeave& last = found->second;
  last.in_world = true;
  last.returns += 1;
  if (join.save && *join.save == last.save) {
    report.returns_matched += 1;
    return;
  }
  report.mismatches.push_back(ReturnMismatch{log, tick, join.player, last.log, last.tick, last.save, join.save});
}

void left(sim::PlayerId player, const sim::PlayerSave& save, size_t log, uint64_t tick, SavesReport& report) {
  report.leaves += 1;
  if (report.keep_events) report.events.push_back(SaveEvent{log, tick, player, true, save});
  LastLeave& last = report.last[sim::raw(player)];
  last = LastLeave{log, tick, save, false, last.returns};
}

// One tick: its applied joins and leaves in command order (a player may leave and join again in one
// tick), then the leaves no command asked for (evictions with nowhere to go, by remote writes).
void scan_tick(const sim::TickInput& input, const sim::Effects& effects, const sim::World& world, size_t log,
               SavesReport& report) {
  std::unordered_set<uint32_t> rejected;
  for (const sim::Rejection& r : effects.rejections) rejected.insert(r.command_index);
  std::vector<bool> taken(effects.left_saves.size(), false);
  for (size_t i = 0; i < input.commands.size(); ++i) {
    const sim::Command& command = input.commands[i];
    const bool applied = !rejected.contains(static_cast<uint32_t>(i));
    if (const auto* join = std::get_if<sim::JoinCommand>(&command)) {
      if (applied) {
        joined(*join, world, log, input.tick, report);
      } else {
        report.joins_rejected += 1;
      }
    } else if (const auto* leave = std::get_if<sim::LeaveCommand>(&command); leave != nullptr && applied) {
      bool saved = false;
      for (size_t k = 0; k < effects.left_saves.size() && !saved; ++k) {
        if (taken[k] || effects.left_saves[k].first != leave->player) continue;
        taken[k] = saved = true;
        left(leave->player, effects.left_saves[k].second, log, input.tick, report);
      }
      // The rules hand over the state of every player an applied leave removed (sim/simulation.h).
      STRATA_ASSERT(saved, input.tick, sim::raw(leave->player));
    }
  }
  for (size_t k = 0; k < effects.left_saves.size(); ++k) {
    if (!taken[k]) left(effects.left_saves[k].first, effects.left_saves[k].second, log, input.tick, report);
  }
}

}  // namespace

replay::Status scan_player_saves(replay::LogSource& log, size_t index, SavesReport& report) {
  report.logs = std::max(report.logs, index + 1);
  const uint64_t first = log.header().start_tick;
  replay::StateAt start = replay::load_snapshot(log, first);
  if (!start.status.ok()) return start.status;
  sim::Simulation& sim = *start.sim;
  // A player in the start snapshot's world joined before this log: it is in the world.
  for (const sim::Player& p : sim.world().players) {
    auto found = report.last.find(sim::raw(p.id));
    if (found != report.last.end()) found->second.in_world = true;
  }
  const uint64_t refused = sim.world().counters.saves_refused;
  const uint64_t relocated = sim.world().counters.saves_relocated;
  if (log.last_tick() > first) {
    std::unique_ptr<replay::TickReader> reader = log.read_ticks(first + 1, log.last_tick());
    schema::TickRecord record;
    for (uint64_t tick = first + 1; tick <= log.last_tick(); ++tick) {
      if (replay::Status s = reader->next(record); !s.ok()) return s;
      const sim::Effects& effects = sim.step(record.input);
      if (sim.quick_hash() != record.quick_hash) {
        return replay::Status::error(replay::Code::hash_mismatch, "the replay differs from the recorded quick hash",
                                     tick);
      }
      scan_tick(record.input, effects, sim.world(), index, report);
    }
  }
  report.saves_refused += sim.world().counters.saves_refused - refused;
  report.saves_relocated += sim.world().counters.saves_relocated - relocated;
  report.in_world_at_end.clear();
  for (const sim::Player& p : sim.world().players) report.in_world_at_end.push_back(sim::raw(p.id));
  return {};
}

size_t players_with_changed_items(const SavesReport& report) {
  size_t changed = 0;
  for (const auto& [player, last] : report.last) {
    auto first = report.first_items.find(player);
    changed += first != report.first_items.end() && first->second != last.save.inventory ? 1 : 0;
  }
  return changed;
}

std::string describe(const sim::PlayerSave& save) {
  std::string out = "x=" + std::to_string(save.pos.x.raw()) + " y=" + std::to_string(save.pos.y.raw()) +
                    " facing=" + std::to_string(static_cast<unsigned>(save.facing)) +
                    " stamina=" + std::to_string(save.stamina) + " health=" + std::to_string(save.health) + " items=";
  for (size_t i = 0; i < save.inventory.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(save.inventory[i]);
  }
  return out;
}

}  // namespace strata::tools
