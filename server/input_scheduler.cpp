// server/input_scheduler.cpp — see input_scheduler.h.
#include "server/input_scheduler.h"

#include <algorithm>
#include <cstddef>
#include <span>

#include "sim/assert.h"

namespace strata::server {

using namespace strata::sim;

InputSchedulerConfig default_input_scheduler_config() { return InputSchedulerConfig{}; }

const char* name(InputVerdict verdict) {
  switch (verdict) {
    case InputVerdict::accepted: return "accepted";
    case InputVerdict::late: return "late";
    case InputVerdict::too_early: return "too_early";
    case InputVerdict::duplicate: return "duplicate";
    case InputVerdict::queue_full: return "queue_full";
    case InputVerdict::not_player: return "not_player";
    case InputVerdict::clock_ahead: return "clock_ahead";
    case InputVerdict::count: break;
  }
  return "invalid";
}

namespace {
// The configured parts, never beyond the limits (a config file must not be able to make a tick
// undecodable), and at least one command per player per tick.
InputSchedulerConfig clamped(InputSchedulerConfig config) {
  namespace l = scheduler_limits;
  config.commands_per_player_per_tick =
      std::clamp<uint32_t>(config.commands_per_player_per_tick, 1, l::commands_per_player_per_tick_max);
  config.player_commands_per_tick = std::min(config.player_commands_per_tick, l::player_commands_per_tick_max);
  config.system_commands_per_tick = std::min(config.system_commands_per_tick, l::system_commands_per_tick_max);
  config.remote_commands_per_tick = std::min(config.remote_commands_per_tick, l::remote_commands_per_tick_max);
  return config;
}
}  // namespace

InputScheduler::InputScheduler(const InputSchedulerConfig& config, RegionId region, Hlc& hlc)
    : config_(clamped(config)), region_(region), hlc_(hlc) {}

namespace {
// Sets the command's player to the session's; false for kinds a player may not submit.
bool bind_player(Command& command, PlayerId player, uint32_t seq) {
  return std::visit(
      [&](auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, MoveCommand> || std::is_same_v<T, PlaceCommand> ||
                      std::is_same_v<T, BreakCommand> || std::is_same_v<T, InteractCommand>) {
          c.player = player;
          c.seq = seq;
          return true;
        } else {
          return false;
        }
      },
      command);
}

// The (player, seq) of a player's command; false for other kinds.
bool player_key(const Command& command, uint32_t& player, uint32_t& seq) {
  return std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, MoveCommand> || std::is_same_v<T, PlaceCommand> ||
                      std::is_same_v<T, BreakCommand> || std::is_same_v<T, InteractCommand>) {
          player = raw(c.player);
          seq = c.seq;
          return true;
        } else {
          return false;
        }
      },
      command);
}

// Read back from a built tick: the players' commands [first, last) are ordered by (player, seq),
// strictly (no duplicate), and no player has more than `per_player` of them.
void assert_players_ordered(std::span<const Command> commands, uint32_t per_player) {
  uint32_t previous_player = 0;
  uint32_t previous_seq = 0;
  uint32_t run = 0;
  bool any = false;
  for (const Command& command : commands) {
    uint32_t player = 0;
    uint32_t seq = 0;
    STRATA_ASSERT(player_key(command, player, seq), "a player's command in the players' part");
    const bool same = any && player == previous_player;
    STRATA_ASSERT(!any || player > previous_player || (same && seq > previous_seq), previous_player, previous_seq,
                  player, seq);
    run = same ? run + 1 : 1;
    STRATA_ASSERT(run <= per_player, player, run, per_player);
    previous_player = player;
    previous_seq = seq;
    any = true;
  }
}
}  // namespace

InputVerdict InputScheduler::submit_player(PlayerId player, uint32_t seq, uint64_t wanted_tick, Command command,
                                           uint64_t current_tick) {
  if (!bind_player(command, player, seq)) return count(InputVerdict::not_player);
  if (wanted_tick > current_tick + config_.max_lead_ticks) return count(InputVerdict::too_early);
  const auto id_pos = std::lower_bound(player_ids_.begin(), player_ids_.end(), raw(player));
  const auto index = id_pos - player_ids_.begin();
  if (id_pos == player_ids_.end() || *id_pos != raw(player)) {
    if (player_ids_.size() >= config_.max_pending_players) return count(InputVerdict::queue_full);
    player_ids_.insert(id_pos, raw(player));
    queues_.insert(queues_.begin() + index, PlayerQueue{});
  }
  PlayerQueue& queue = queues_[static_cast<size_t>(index)];
  if (seq <= queue.last_scheduled) return count(InputVerdict::duplicate);
  auto pos = std::lower_bound(queue.pending.begin(), queue.pending.end(), seq,
                              [](const Pending& p, uint32_t key) { return p.seq < key; });
  if (pos != queue.pending.end() && pos->seq == seq) return count(InputVerdict::duplicate);
  if (queue.pending.size() >= config_.max_pending_per_player) return count(InputVerdict::queue_full);
  const bool late = wanted_tick < current_tick;
  queue.pending.insert(pos, Pending{seq, std::max(wanted_tick, current_tick), command});
  STRATA_ASSERT(player_ids_.size() == queues_.size(), player_ids_.size(), queues_.size());
  return count(late ? InputVerdict::late : InputVerdict::accepted);
}

InputVerdict InputScheduler::submit_system(Command command) {
  if (system_.size() >= config_.max_pending_system) return count(InputVerdict::queue_full);
  system_.push_back(command);
  return count(InputVerdict::accepted);
}

InputScheduler::RemoteSubmit InputScheduler::submit_remote(RegionId origin, uint64_t stream_seq,
                                                           std::span<const Command> commands, bool world_batch,
                                                           uint64_t physical_ms) {
  uint64_t& applied = applied_remote_[raw(origin)];
  if (stream_seq <= applied) return {count(InputVerdict::duplicate), 0};
  if (remote_.size() + commands.size() + 1 > config_.max_pending_remote) return {count(InputVerdict::queue_full), 0};
  RemoteSubmit result;
  for (const Command& command : commands) {
    if (const auto* write = std::get_if<RemoteBlockWriteCommand>(&command)) {
      if (!hlc_.receive(write->stamp.hlc, physical_ms)) {
        count(InputVerdict::clock_ahead);
        result.clock_ahead += 1;
        continue;
      }
    }
    remote_.push_back(Remote{raw(origin), stream_seq, command});
  }
  if (world_batch) remote_.push_back(Remote{raw(origin), stream_seq, RemoteBatchCommand{origin, stream_seq}});
  applied = stream_seq;
  count(InputVerdict::accepted);
  return result;
}

void InputScheduler::stamp(Command& command, uint64_t physical_ms) {
  std::visit(
      [&](auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, PlaceCommand> || std::is_same_v<T, BreakCommand> ||
                      std::is_same_v<T, InteractCommand>) {
          c.stamp = LwwStamp{hlc_.now(physical_ms), region_};
        }
      },
      command);
}

void InputScheduler::build(uint64_t tick, uint64_t physical_ms, TickInput& out) {
  out.tick = tick;
  out.commands.clear();
  // Each part within its cap (the caps sum to at most what the log decodes: scheduler_limits).
  take_system(out);
  const size_t system_end = out.commands.size();
  STRATA_ASSERT(system_end <= config_.system_commands_per_tick, system_end, config_.system_commands_per_tick);
  take_players(tick, physical_ms, out);
  const size_t players_end = out.commands.size();
  STRATA_ASSERT(players_end - system_end <= config_.player_commands_per_tick, players_end - system_end,
                config_.player_commands_per_tick);
  assert_players_ordered(std::span<const Command>(out.commands).subspan(system_end, players_end - system_end),
                         config_.commands_per_player_per_tick);
  take_remote(out);
  STRATA_ASSERT(out.commands.size() - players_end <= config_.remote_commands_per_tick,
                out.commands.size() - players_end, config_.remote_commands_per_tick);
  STRATA_ASSERT(out.commands.size() <= sim::limits::commands_per_tick_max, "a tick beyond what the log decodes",
                out.commands.size());
}

// Arrival order; what does not fit waits at the front for the next tick.
void InputScheduler::take_system(TickInput& out) {
  const size_t taken = std::min<size_t>(system_.size(), config_.system_commands_per_tick);
  out.commands.insert(out.commands.end(), system_.begin(), system_.begin() + static_cast<ptrdiff_t>(taken));
  deferrals_.system_cap += system_.size() - taken;
  system_.erase(system_.begin(), system_.begin() + static_cast<ptrdiff_t>(taken));
}

void InputScheduler::take_players(uint64_t tick, uint64_t physical_ms, TickInput& out) {
  share_players(tick);
  for (size_t i = 0; i < queues_.size(); ++i) {
    PlayerQueue& queue = queues_[i];
    const uint32_t taken = taken_[i];
    STRATA_ASSERT(taken <= due_[i] && due_[i] <= queue.pending.size(), "took more than was due", taken, due_[i],
                  queue.pending.size());
    STRATA_ASSERT(i == 0 || player_ids_[i - 1] < player_ids_[i], i, player_ids_[i]);  // queues by player
    for (uint32_t k = 0; k < taken; ++k) {
      Pending& p = queue.pending[k];
      STRATA_ASSERT(p.seq > queue.last_scheduled, player_ids_[i], p.seq, queue.last_scheduled);
      stamp(p.command, physical_ms);
      out.commands.push_back(p.command);
      queue.last_scheduled = p.seq;
    }
    queue.pending.erase(queue.pending.begin(), queue.pending.begin() + taken);
  }
}

void InputScheduler::share_players(uint64_t tick) {
  const size_t n = queues_.size();
  due_.assign(n, 0);
  taken_.assign(n, 0);
  const uint32_t cap = config_.commands_per_player_per_tick;
  uint64_t wanted = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t due = 0;
    for (const Pending& p : queues_[i].pending) {
      if (p.wanted_tick > tick) break;  // keep sequence order: later inputs wait behind an early one
      if (due == cap) {
        deferrals_.player_cap += 1;  // due beyond the per-player cap: next tick
        continue;
      }
      due += 1;
    }
    due_[i] = due;
    wanted += due;
  }
  const uint64_t budget = config_.player_commands_per_tick;
  if (wanted <= budget) {
    taken_ = due_;
    return;
  }
  // Water filling: the largest share s with sum(min(due, s)) <= budget, then one more each for the
  // players still wanting, starting at a place that moves with the tick (nobody is always last).
  uint32_t share = cap;
  uint64_t sum = wanted;
  while (share > 0 && sum > budget) {
    share -= 1;
    sum = 0;
    for (size_t i = 0; i < n; ++i) sum += std::min(due_[i], share);
  }
  uint64_t extra = budget - sum;
  for (size_t i = 0; i < n; ++i) taken_[i] = std::min(due_[i], share);
  const size_t start = static_cast<size_t>(tick % n);
  for (size_t k = 0; k < n && extra > 0; ++k) {
    const size_t i = (start + k) % n;
    if (due_[i] > taken_[i]) {
      taken_[i] += 1;
      extra -= 1;
    }
  }
  STRATA_ASSERT(extra == 0, extra, share, budget);  // share + 1 for everyone wanting more would not fit
  deferrals_.fair_share += wanted - budget;
  deferrals_.ticks_shared += 1;
}

// Ordered by (origin, stream sequence); what does not fit waits for the next tick, still in order.
void InputScheduler::take_remote(TickInput& out) {
  std::stable_sort(remote_.begin(), remote_.end(), [](const Remote& a, const Remote& b) {
    return a.origin != b.origin ? a.origin < b.origin : a.stream_seq < b.stream_seq;
  });
  const size_t taken = std::min<size_t>(remote_.size(), config_.remote_commands_per_tick);
  for (size_t i = 0; i < taken; ++i) out.commands.push_back(remote_[i].command);
  deferrals_.remote_cap += remote_.size() - taken;
  remote_.erase(remote_.begin(), remote_.begin() + static_cast<ptrdiff_t>(taken));
}

ptrdiff_t InputScheduler::find(uint32_t player) const {
  const auto pos = std::lower_bound(player_ids_.begin(), player_ids_.end(), player);
  return pos != player_ids_.end() && *pos == player ? pos - player_ids_.begin() : -1;
}

void InputScheduler::forget_player(PlayerId player) {
  if (const ptrdiff_t i = find(raw(player)); i >= 0) {
    player_ids_.erase(player_ids_.begin() + i);
    queues_.erase(queues_.begin() + i);
  }
}

uint32_t InputScheduler::last_scheduled_seq(PlayerId player) const {
  const ptrdiff_t i = find(raw(player));
  return i < 0 ? 0 : queues_[static_cast<size_t>(i)].last_scheduled;
}

size_t InputScheduler::pending() const {
  size_t n = system_.size() + remote_.size();
  for (const PlayerQueue& queue : queues_) n += queue.pending.size();
  return n;
}

}  // namespace strata::server
