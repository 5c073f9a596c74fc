// server/input_scheduler.h — turns what arrives from sessions, the admin API and the event bus into
// the ordered TickInput(T) that the log records and sim::step applies (DESIGN.md, "One tick"):
//   1. system commands (joins, leaves, admin) in arrival order;
//   2. player commands ordered by (player id, client sequence);
//   3. remote events ordered by (origin region, stream sequence).
// A player command wanted for a tick already past is late: it goes to the current tick. One wanted
// for the future waits, up to max_lead_ticks ahead; further is refused. A sequence at or below one
// already scheduled, or already pending, is a duplicate (inputs are resent until acknowledged).
// The command's player is always the session's player, and every local block write gets its LWW
// stamp from the HLC here, so the stamp is an input, never something the sim reads from a clock.
// Remote events carry their origin's stamp; the HLC merges it (refusing clocks too far ahead), and
// a stream sequence at or below one already taken from that origin is a duplicate.
//
// A tick holds at most what the log codec decodes (sim::limits::commands_per_tick_max): the tick's
// budget is split between system, player and remote commands (scheduler_limits below), and a
// player gets at most what the sim applies (commands_per_player_per_tick_max) and, when the players
// together want more than their part, a fair share of it. What does not fit stays pending, in
// order, for the next tick (counted as deferrals): a tick's record always decodes, so the log
// always recovers, whatever the clients send.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "server/hlc.h"
#include "server/limits.h"
#include "sim/command.h"
#include "sim/limits.h"

namespace strata::server {

// The parts of a tick's commands (defined, with their relations, in server/limits.h).
namespace scheduler_limits {
using limits::commands_per_player_per_tick_max;
using limits::full_share_players;
using limits::player_commands_per_tick_max;
using limits::remote_commands_per_tick_max;
using limits::system_commands_per_tick_max;
}  // namespace scheduler_limits

struct InputSchedulerConfig {
  // The scheduler's memory bounds (server/limits.h says why each).
  uint32_t max_lead_ticks = limits::lead_ticks_default;
  uint32_t max_pending_per_player = limits::pending_per_player_default;
  uint32_t max_pending_players = limits::pending_players_default;
  uint32_t max_pending_system = limits::pending_system_default;
  uint32_t max_pending_remote = limits::pending_remote_default;
  // Per-tick parts (at most the scheduler_limits of the same name: larger values are clamped).
  uint32_t commands_per_player_per_tick = scheduler_limits::commands_per_player_per_tick_max;
  uint32_t player_commands_per_tick = scheduler_limits::player_commands_per_tick_max;
  uint32_t system_commands_per_tick = scheduler_limits::system_commands_per_tick_max;
  uint32_t remote_commands_per_tick = scheduler_limits::remote_commands_per_tick_max;
};
[[nodiscard]] InputSchedulerConfig default_input_scheduler_config();

// Inputs due in a tick that were left for a later one, by cause. Each tick an input waits counts
// once. Listed once (net/counters.h): X(member, event name, what it counts); they are published
// as strata_node_events_total{event}.
#define STRATA_DEFERRAL_COUNTERS(X)                                                                           \
  X(player_cap, inputs_deferred_player_cap, "beyond commands_per_player_per_tick")                            \
  X(fair_share, inputs_deferred_fair_share, "the players together wanted more than player_commands_per_tick") \
  X(system_cap, inputs_deferred_system_cap, "beyond system_commands_per_tick")                                \
  X(remote_cap, inputs_deferred_remote_cap, "beyond remote_commands_per_tick")                                \
  X(ticks_shared, ticks_fair_shared, "ticks in which the fair share cut someone")

#define STRATA_DEFERRAL_FIELD_(member, event, help) uint64_t member = 0;
#define STRATA_DEFERRAL_ADD_(member, event, help) member += other.member;
struct DeferralCounters {
  STRATA_DEFERRAL_COUNTERS(STRATA_DEFERRAL_FIELD_)
  DeferralCounters& operator+=(const DeferralCounters& other) {
    STRATA_DEFERRAL_COUNTERS(STRATA_DEFERRAL_ADD_)
    return *this;
  }
  bool operator==(const DeferralCounters&) const = default;
};
#undef STRATA_DEFERRAL_FIELD_
#undef STRATA_DEFERRAL_ADD_

enum class InputVerdict : uint8_t {
  accepted,
  late,         // accepted, moved to the current tick
  too_early,    // wanted tick beyond max_lead_ticks: refused
  duplicate,    // sequence already scheduled or pending: dropped
  queue_full,   // a pending limit was reached: refused
  not_player,   // a system or remote command kind submitted as a player input
  clock_ahead,  // remote stamp too far ahead of our clock
  count
};
inline constexpr size_t input_verdict_count = static_cast<size_t>(InputVerdict::count);
[[nodiscard]] const char* name(InputVerdict verdict);

class InputScheduler {
 public:
  InputScheduler(const InputSchedulerConfig& config, sim::RegionId region, Hlc& hlc);

  // A player's input (move, place, break, interact) for `wanted_tick`, seen while `current_tick` is
  // the next tick to be built.
  InputVerdict submit_player(sim::PlayerId player, uint32_t seq, uint64_t wanted_tick, sim::Command command,
                             uint64_t current_tick);
  // Join, leave, admin: applied in the next tick, in arrival order.
  InputVerdict submit_system(sim::Command command);
  // One message of another region, at `stream_seq` of the stream: its commands in order (remote
  // writes, presence) and, for a world batch, the sim::RemoteBatchCommand that marks it applied
  // after them. All or nothing: duplicate when stream_seq is not above the last one taken from
  // `origin`, queue_full when the pending remote commands have no room for all of it (the caller
  // keeps it, and the origin's later messages, for the next tick). A remote write stamped further
  // ahead of physical_ms than the HLC allows is dropped and counted in `clock_ahead` (and in
  // counters()[clock_ahead]); the rest of the message goes on.
  struct RemoteSubmit {
    InputVerdict verdict = InputVerdict::accepted;
    uint32_t clock_ahead = 0;
  };
  RemoteSubmit submit_remote(sim::RegionId origin, uint64_t stream_seq, std::span<const sim::Command> commands,
                             bool world_batch, uint64_t physical_ms);

  // Builds TickInput(tick) from everything due, within the tick's parts (the rest waits), stamping
  // local block writes at physical_ms. Never more than sim::limits::commands_per_tick_max commands.
  void build(uint64_t tick, uint64_t physical_ms, sim::TickInput& out);

  // Forgets a player's pending inputs and sequence (after it left).
  void forget_player(sim::PlayerId player);
  // Highest client sequence taken into a tick for this player (0 when none).
  [[nodiscard]] uint32_t last_scheduled_seq(sim::PlayerId player) const;
  // Highest stream sequence taken from each origin (any channel; the log records world batches).
  [[nodiscard]] const std::map<uint16_t, uint64_t>& applied_stream_seqs() const { return applied_remote_; }
  void restore_applied_stream_seq(sim::RegionId origin, uint64_t seq) { applied_remote_[raw(origin)] = seq; }

  [[nodiscard]] const std::array<uint64_t, input_verdict_count>& counters() const { return counters_; }
  [[nodiscard]] const DeferralCounters& deferrals() const { return deferrals_; }
  [[nodiscard]] size_t pending() const;
  // The configuration in force (after clamping to scheduler_limits).
  [[nodiscard]] const InputSchedulerConfig& config() const { return config_; }

 private:
  struct Pending {
    uint32_t seq = 0;
    uint64_t wanted_tick = 0;
    sim::Command command;
  };
  struct PlayerQueue {
    uint32_t last_scheduled = 0;
    std::vector<Pending> pending;  // sorted by seq
  };
  struct Remote {
    uint16_t origin = 0;
    uint64_t stream_seq = 0;
    sim::Command command;
  };
  InputVerdict count(InputVerdict verdict) {
    counters_[static_cast<size_t>(verdict)] += 1;
    return verdict;
  }
  void stamp(sim::Command& command, uint64_t physical_ms);
  void take_system(sim::TickInput& out);
  void take_players(uint64_t tick, uint64_t physical_ms, sim::TickInput& out);
  void take_remote(sim::TickInput& out);
  // How many of each player's due inputs go into this tick (taken_), within the players' part.
  void share_players(uint64_t tick);
  // The queue of a player, or -1.
  [[nodiscard]] ptrdiff_t find(uint32_t player) const;

  InputSchedulerConfig config_;
  sim::RegionId region_;
  Hlc& hlc_;
  // Ordered by player id, the order of the tick: two flat arrays, since each tick walks them all and
  // every input looks one up (5000 map nodes were cache misses); a join inserts in the middle.
  std::vector<uint32_t> player_ids_;
  std::vector<PlayerQueue> queues_;  // queues_[i] is player_ids_[i]'s
  std::vector<sim::Command> system_;
  std::vector<Remote> remote_;
  std::map<uint16_t, uint64_t> applied_remote_;  // origin -> highest stream seq taken or pending
  std::array<uint64_t, input_verdict_count> counters_{};
  DeferralCounters deferrals_;
  std::vector<uint32_t> due_;    // per queue: inputs due this tick (within the per-player cap)
  std::vector<uint32_t> taken_;  // per queue: inputs taken this tick
};

}  // namespace strata::server
