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
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <vector>

#include "server/hlc.h"
#include "sim/command.h"

namespace strata::server {

struct InputSchedulerConfig {
  uint32_t max_lead_ticks = 20;          // how far ahead a client may schedule an input
  uint32_t max_pending_per_player = 64;  // inputs waiting per player (early ones and this tick's)
  uint32_t max_pending_players = 16384;  // players with pending inputs
  uint32_t max_pending_system = 4096;    // joins/leaves/admin waiting for the next tick
  uint32_t max_pending_remote = 65536;   // remote events waiting for the next tick
};
[[nodiscard]] InputSchedulerConfig default_input_scheduler_config();

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
  // An event from another region, with its stream sequence (per origin).
  InputVerdict submit_remote(sim::RegionId origin, uint64_t stream_seq, sim::Command command, uint64_t physical_ms);

  // Builds TickInput(tick) from everything due, stamping local block writes at physical_ms.
  void build(uint64_t tick, uint64_t physical_ms, sim::TickInput& out);

  // Forgets a player's pending inputs and sequence (after it left).
  void forget_player(sim::PlayerId player);
  // Highest client sequence taken into a tick for this player (0 when none).
  [[nodiscard]] uint32_t last_scheduled_seq(sim::PlayerId player) const;
  // Highest stream sequence taken from each origin: what the log records to resume consumers.
  [[nodiscard]] const std::map<uint16_t, uint64_t>& applied_stream_seqs() const { return applied_remote_; }
  void restore_applied_stream_seq(sim::RegionId origin, uint64_t seq) { applied_remote_[raw(origin)] = seq; }

  [[nodiscard]] const std::array<uint64_t, input_verdict_count>& counters() const { return counters_; }
  [[nodiscard]] size_t pending() const;

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
  // The queue of a player, or -1.
  [[nodiscard]] std::ptrdiff_t find(uint32_t player) const;

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
};

}  // namespace strata::server
