// server/region_link.h — a region's side of the event bus (DESIGN.md "Regions"; issue 15 items 2-5):
// what its ticks publish, what it consumes from the other regions, and what it learns of them.
//
// Two sides, which meet in two hand-overs, each swapped under its own mutex (neither waits on the
// other's work):
//   tick thread   on_tick() after the tick is logged: the tick's local writes (player commands'
//                 and the owned chunks' rule writes), a presence sample every presence_every_ticks,
//                 and a health point (map hash, applied vector) every health_every_ms of ticks.
//                 take_remote() before TickInput(T) is built: the decoded messages of the other
//                 regions go to the scheduler, whole, in (origin, stream sequence) order.
//   bus side      pump(): encodes (and compresses) what the ticks handed over, publishes through
//                 the BusOutbox (world batches never dropped, samples thinned), polls the Bus,
//                 decodes and judges deliveries, follows the peers' health. The runtime's bus
//                 thread calls it (NatsBus may wait); strata-vopr and tests call it on their one
//                 thread. It reads no clock: `now_us` is passed in.
//
// Durability: a tick's batch is published only once the session log holds that tick durably
// (pump's `durable_tick`): a region never tells others of a write its own log could lose.
//
// Order: one world message in flight (BusOutbox), so the stream holds a prefix of our batches, in
// tick order. The ticks that became ready while one was in flight go out merged in the next
// message (up to one message's writes): catching up after a cut costs round trips per message,
// not per tick. Before it publishes anything, the link asks the stream for our last stored batch
// (Bus::last_stored, again until answered); after a restart (use_log) it publishes every tick the
// log recovered after that batch's tick, read back from the log, then the new ticks. The log is the
// record of truth: a batch the link does not hold in memory (a restart lost it, or more than
// world_batches_max were waiting during a long partition) is read from the log again, never lost.
//
// Resuming: start() subscribes to every other region after the sequence its world recorded
// (World::bus_applied: the log holds it, so a restarted or partitioned region resumes exactly where
// its map is). A message at or below that sequence is a duplicate; the scheduler's own check
// catches the same after a consumer restart.
//
// Divergence: a health point (tick, applied vector including our own batches' sequences, map hash)
// is kept in a short history; a peer's point at the same vector with another hash is a desync:
// counted, logged with both regions and the vector, and reported to the on_desync callback (which
// writes the bundle). Equal vectors mean the same set of events applied: LWW makes the maps equal.
// The map hash is the map's cell sum (sim::map_cell_sum), which the map history follows per tick.
// During play two regions almost never hold the same vector at a health moment, so a peer's point
// with no equal one of ours goes to the tick thread, which judges it (at the next tick) by hashing
// our map as it stood (or would have stood) at the peer's vector (server/map_history.h):
// our own sequence in it is first turned into the tick through which it holds our batches (the bus
// side knows the acks), and a point waits (bounded, newest kept) until we applied all of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "schema/bus_codec.h"
#include "server/bus.h"
#include "server/bus_outbox.h"
#include "server/input_scheduler.h"
#include "server/map_history.h"
#include "sim/simulation.h"

namespace strata::server {

namespace region_link_limits {
// Peer health points waiting, per peer, for their vector to be judged (on the bus side for our
// acks, on the tick thread for our world to apply all of it): the newest are kept, older ones
// dropped and counted (health_unjudged_superseded).
inline constexpr size_t judge_waiting_per_peer = 4;
// Peer points judged in one tick at most (each costs the writes since its vector): a burst of
// points spreads over ticks instead of lengthening one.
inline constexpr size_t judgments_per_tick_max = 2;
// Our recent ticks' world batches and their stream sequences (bus side), to turn our sequence in
// a peer's vector into a tick; the oldest are folded into one "all through this sequence".
inline constexpr size_t own_ticks_max = 4 * map_history_limits::window_ticks_max;
static_assert(own_ticks_max >= map_history_limits::window_ticks_max, "as many as the map history holds ticks");
}  // namespace region_link_limits

// What the link reads from the log: each tick that wrote, with its writes, in tick order.
struct OwnWritesRead {
  std::vector<std::pair<uint64_t, std::vector<sim::BlockWrite>>> ticks;
  uint64_t next = 0;        // the first tick not read
  uint64_t first_held = 0;  // the log's first tick, when `from` was before it (those ticks are gone)
  std::string error;        // the read stopped (the link tries again later)
};
// The region's own writes read back from its session log (server/region_bus.h: LogOwnWrites).
// Called on the bus side only; may take a while (it re-simulates the ticks).
class OwnWritesSource {
 public:
  virtual ~OwnWritesSource() = default;
  // Ticks from..to (at most ticks_max of them scanned): those that wrote, with their writes.
  [[nodiscard]] virtual OwnWritesRead read(uint64_t from, uint64_t to, size_t ticks_max) = 0;
};

struct RegionLinkConfig {
  sim::RegionId region{1};
  std::vector<sim::RegionId> regions;  // every region of the deployment, this one included
  int32_t map_cells_x = 0;             // remote cells outside the map are refused
  int32_t map_cells_y = 0;
  uint32_t tick_rate_hz = 20;
  uint64_t health_every_ms = 2000;
  uint32_t presence_every_ticks = 10;
  size_t world_batches_max =
      65536;                       // held until acked (BusOutbox), and as many waiting: beyond, read again from the log
  size_t log_ticks_per_pump = 32;  // ticks re-simulated from the log per pump, at most
  size_t inbound_messages_max = 4096;  // decoded, waiting for the tick thread: the bus is not polled beyond it
  size_t deliveries_per_pump = 1024;
  size_t health_history = 64;  // own health points kept to compare with the peers'
  // Map history kept to judge peers' points at their vectors (0: 4 x health_every_ms + 2 s), at
  // most map_history_limits::window_ticks_max ticks; and its entries (writes and changes) at most.
  uint64_t health_window_ms = 0;
  size_t history_entries_max = map_history_limits::entries_max;
  schema::BusEncodeOptions encode;
};

// Every counter of the link, listed once: X(member, help); XA for arrays by reason.
#define STRATA_REGION_LINK_COUNTERS(X)                                                               \
  X(world_batches_published, "world batches (parts) handed to the outbox")                           \
  X(world_writes_published, "block writes in them")                                                  \
  X(world_bytes_published, "payload bytes of them")                                                  \
  X(world_overflow, "world batches dropped: world_batches_max held and no log to read them again")   \
  X(world_republished_after_restart, "batches of recovered ticks read from the log after a restart") \
  X(world_let_go, "waiting world batches let go of memory, to be read from the log again")           \
  X(world_read_from_log, "world batches read from the log (after a restart or let go)")              \
  X(world_ticks_merged, "ticks' batches sent in the message of an earlier tick (catching up)")       \
  X(health_skipped, "health points of ours dropped: a message merged ticks across them")             \
  X(log_read_errors, "reads of our own writes from the log that failed (tried again)")               \
  X(log_ticks_lost, "ticks after our last stored batch that the log no longer holds")                \
  X(own_ids_ahead, "restarts whose stream held a batch of ours newer than the recovered log")        \
  X(presence_published, "presence samples offered")                                                  \
  X(health_published, "health points offered")                                                       \
  X(messages_consumed, "messages of other regions accepted")                                         \
  X(world_batches_consumed, "world batches of other regions handed to the scheduler")                \
  X(remote_writes_consumed, "remote block writes handed to the scheduler")                           \
  X(presence_consumed, "presence samples of other regions applied")                                  \
  X(health_consumed, "health points of other regions read")                                          \
  X(bytes_consumed, "payload bytes of messages consumed")                                            \
  X(consumed_duplicate, "messages at or below the sequence already applied: dropped")                \
  X(refused_wrong_channel, "messages whose payload kind is not their subject's channel")             \
  X(refused_clock_ahead, "remote writes stamped beyond the clock-offset limit: dropped")             \
  X(presence_thinned, "presence samples dropped: the scheduler had no room")                         \
  X(scheduler_full, "ticks a world batch waited: the scheduler had no room")                         \
  X(health_agree, "peer health points at a vector we held, with the same map hash")                  \
  X(desyncs, "peer health points at a vector we held, with another map hash")                        \
  X(health_judged_at_vector, "peer points judged at their vector from the map history (also above)") \
  X(health_unjudged_too_old, "peer points lacking events older than the map history: not judged")    \
  X(health_unjudged_superseded, "peer points dropped waiting to be judged: newer ones came")         \
  X(health_unjudged_own_order, "peer points naming part of a tick of ours: not judged")              \
  X(judge_cells_reverted, "cell layers set to their value at a peer's vector (judging cost)")        \
  X(subscribe_failures, "subscriptions the bus refused (retried)")

struct RegionLinkCounters {
#define STRATA_REGION_LINK_FIELD(name, help) uint64_t name = 0;
  STRATA_REGION_LINK_COUNTERS(STRATA_REGION_LINK_FIELD)
#undef STRATA_REGION_LINK_FIELD
  std::array<uint64_t, schema::bus_decode_error_count> refused_decode{};
  friend bool operator==(const RegionLinkCounters&, const RegionLinkCounters&) = default;
};

// Publish latency (outbox hand-over to stored ack), microseconds: upper bounds of the buckets.
inline constexpr std::array<uint64_t, 10> publish_latency_buckets_us{500,    1000,   2000,    5000,    10'000,
                                                                     20'000, 50'000, 100'000, 500'000, 2'000'000};
struct LatencyHistogram {
  std::array<uint64_t, publish_latency_buckets_us.size() + 1> counts{};  // last: above every bound
  uint64_t sum_us = 0;
  uint64_t count = 0;
  void add(uint64_t us);
};

enum class Agreement : uint8_t { unknown, agree, disagree };
[[nodiscard]] const char* name(Agreement agreement);

struct PeerStatus {
  sim::RegionId region{};
  uint64_t last_seq = 0;      // the last stream sequence delivered from it (any channel)
  uint64_t applied_seq = 0;   // its last world batch our world applied
  uint64_t reported_seq = 0;  // its own last world batch, as its health says
  uint64_t lag = 0;           // reported_seq - applied_seq (world batches' sequences, not counts)
  bool health_known = false;  // a health point of it was read
  uint64_t health_tick = 0;   // its tick at its last health point
  uint64_t health_map_hash = 0;
  std::vector<schema::BusAppliedSeq> health_applied;
  Agreement agreement = Agreement::unknown;  // of its last health point we could compare
  uint64_t last_heard_us = 0;                // our monotonic time of its last message (0: never)
};

struct RegionLinkStatus {
  sim::RegionId region{};
  BusState bus_state = BusState::connecting;
  BusCounters bus;
  BusOutboxCounters outbox;
  RegionLinkCounters counters;
  LatencyHistogram publish_latency;
  uint64_t tick = 0;                           // of the last health point
  uint64_t map_hash = 0;                       // at that tick
  std::vector<schema::BusAppliedSeq> applied;  // at that tick, our own batches included
  uint64_t own_acked_seq = 0;                  // our last world batch stored
  uint64_t world_held = 0;                     // our world batches not acked yet (ticks, for those in the log)
  bool own_mark_known = false;                 // the stream told us our last stored batch
  std::string last_log_error;                  // the last failed read of our writes from the log
  uint64_t inbound_waiting = 0;                // decoded messages not yet taken by a tick (held ones too)
  MapHistoryCounters history;                  // the tick thread's map history, as of its last health point
  std::vector<PeerStatus> peers;               // by region
};

// What a desync report names.
struct Desync {
  sim::RegionId peer{};
  std::vector<schema::BusAppliedSeq> applied;
  uint64_t our_tick = 0;
  uint64_t our_hash = 0;
  uint64_t peer_tick = 0;
  uint64_t peer_hash = 0;
  // our_hash is our map taken back to `applied` (map_history.h) at our tick our_tick, not our map
  // of that tick: a map written at the next tick holds later events too.
  bool at_vector = false;
};

class RegionLink {
 public:
  explicit RegionLink(RegionLinkConfig config);

  // Tick thread --------------------------------------------------------------------------------
  // After tick `sim.tick()` was logged (`effects` of sim.step(input)): hands over its writes, and
  // its samples when due; records the map's changes; at a health point, judges the peers' points.
  void on_tick(const sim::Simulation& sim, const sim::TickInput& input, const sim::Effects& effects);
  // Before TickInput(T) is built: the waiting messages of other regions, whole, in order, as far
  // as the scheduler takes them (an origin whose message did not fit waits with its later ones).
  void take_remote(InputScheduler& scheduler, uint64_t physical_ms);

  // Bus side -------------------------------------------------------------------------------------
  // Subscribes to every other region after the sequence `world` recorded for it (again for the
  // ones that failed, at each pump).
  void start(Bus& bus, const sim::World& world, uint64_t now_us);
  // Our log, read back for what the link does not hold (before start). `recovered_tick` > 0: the
  // node recovered up to it, and every recovered tick after our last stored batch is published
  // again from the log (its original message id: a copy the stream stored meanwhile is a
  // duplicate). Without a log, waiting batches beyond world_batches_max are dropped (counted).
  void use_log(OwnWritesSource* source, uint64_t recovered_tick);
  // Publishes, polls, decodes; `durable_tick`: the newest tick the log holds durably.
  void pump(Bus& bus, uint64_t now_us, uint64_t durable_tick);
  // Called on the bus side, at the end of the pump that found it (no lock held), for each desync.
  void set_on_desync(std::function<void(const Desync&)> callback) { on_desync_ = std::move(callback); }

  // Any thread -----------------------------------------------------------------------------------
  [[nodiscard]] RegionLinkStatus status() const;
  [[nodiscard]] const RegionLinkConfig& config() const { return config_; }

 private:
  struct TickBatch {
    uint64_t tick = 0;
    std::vector<sim::BlockWrite> writes;
  };
  struct HealthPoint {
    uint64_t tick = 0;
    uint64_t map_hash = 0;
    std::vector<schema::BusAppliedSeq> applied;  // other origins (from the world)
  };
  struct PeerPoint {  // a peer's health point to judge at its vector (bus side -> tick thread)
    sim::RegionId peer{};
    uint64_t tick = 0;
    uint64_t map_hash = 0;
    std::vector<schema::BusAppliedSeq> applied;  // as the peer sent it
    VectorAt vector;                             // its translation for our map history
  };
  struct Judged {
    PeerPoint point;
    HashAt result;
    uint64_t our_tick = 0;
  };
  struct Handover {  // tick thread -> bus side
    std::vector<TickBatch> batches;
    std::optional<schema::BusPresence> presence;
    std::vector<HealthPoint> health;
    std::vector<Judged> judged;
    uint64_t tick = 0;
  };
  struct OwnTick {               // one message's world batch parts (bus side), by its last tick
    std::vector<uint64_t> seqs;  // stream sequence of each part (0: not acked yet)
    uint64_t first_tick = 0;     // the first tick it holds (catching up, a message merges ticks)
  };
  enum class OwnThrough : uint8_t { ok, wait, too_old, out_of_order };
  struct Inbound {  // bus side -> tick thread: one message, decoded into commands
    sim::RegionId origin{};
    uint64_t seq = 0;
    bool world_batch = false;
    bool held_clock_ahead = false;  // already counted as held for a stamp too far ahead
    std::vector<sim::Command> commands;
  };

  void encode_batches(std::vector<TickBatch>& batches, uint64_t now_us);
  void learn_own_mark(Bus& bus, uint64_t now_us);
  void push_own_batches(uint64_t now_us, uint64_t durable_tick);
  [[nodiscard]] uint64_t first_unpushed_tick() const;
  void publish_health(uint64_t now_us);
  void consume(const Delivery& delivery, uint64_t now_us);
  void on_peer_health(const schema::BusHealth& health, uint64_t now_us);
  void compare(PeerStatus& peer, const HealthPoint& ours, const std::vector<schema::BusAppliedSeq>& ours_full);
  void judge_waiting(const sim::World& world, std::vector<Judged>& judged);
  void translate_waiting();
  void settle(const Judged& judged);
  [[nodiscard]] OwnThrough own_through(uint64_t seq, uint64_t& through) const;
  static void keep_newest(std::deque<PeerPoint>& points, uint64_t& dropped);
  [[nodiscard]] std::vector<schema::BusAppliedSeq> full_vector(const HealthPoint& point) const;
  [[nodiscard]] PeerStatus* peer(sim::RegionId region);
  [[nodiscard]] bool known(sim::RegionId region) const;

  RegionLinkConfig config_;
  uint64_t health_every_ticks_ = 1;
  std::function<void(const Desync&)> on_desync_;

  // Tick thread.
  uint64_t next_health_tick_ = 0;
  std::vector<Inbound> tick_inbound_;  // taken from inbound_, not yet taken by the scheduler
  MapHistory history_map_;
  std::deque<PeerPoint> judge_waiting_;  // not applied all of their vector yet

  std::mutex judge_mutex_;
  std::vector<PeerPoint> judge_in_;  // bus side -> tick thread

  std::mutex handover_mutex_;
  Handover handover_;

  std::mutex inbound_mutex_;
  std::deque<Inbound> inbound_;

  // Bus side.
  BusOutbox outbox_;
  Handover bus_handover_;
  std::deque<TickBatch> waiting_durable_;  // handed over, not in the outbox yet (not durable, or not its turn)
  std::deque<TickBatch> from_log_;         // read from the log, not in the outbox yet (before waiting_durable_)
  uint64_t outbox_first_tick_ = 0;         // the first tick of the message in the outbox
  OwnWritesSource* log_ = nullptr;
  uint64_t recovered_tick_ = 0;
  bool own_mark_known_ = false;    // we asked the stream for our last stored batch, and were told
  bool own_stored_any_ = false;    // the stream held a batch of ours when we asked
  uint64_t next_mark_ask_us_ = 0;  // (asked again every 250 ms until told)
  uint64_t log_from_ = 1;          // ticks log_from_..log_to_ are read from the log before waiting_durable_
  uint64_t log_to_ = 0;            // (none when log_from_ > log_to_)
  uint64_t next_log_read_us_ = 0;  // after a failed read: a pause
  std::string last_log_error_;
  std::map<std::pair<uint64_t, uint32_t>, uint64_t> pushed_us_;  // (tick, part) -> when handed to the outbox
  std::map<uint64_t, uint64_t> own_seq_by_tick_;                 // acked own world batches: tick -> seq (pruned)
  std::map<uint64_t, OwnTick> own_ticks_;                        // our recent ticks' batches (own_ticks_max)
  uint64_t own_pruned_seq_ = 0;              // every batch of ours before own_ticks_ is at or below this
  uint64_t last_handover_tick_ = 0;          // the last tick the bus side heard of
  std::deque<PeerPoint> translate_waiting_;  // waiting for acks of ours to place our sequence
  std::deque<HealthPoint> health_waiting_;   // ours, waiting for our batches up to its tick to be acked
  std::deque<std::pair<HealthPoint, std::vector<schema::BusAppliedSeq>>> history_;  // ours, full vectors
  std::vector<Desync> desyncs_;                                                     // found during this pump
  std::map<uint16_t, SubscriptionId> subscriptions_;
  std::map<uint16_t, uint64_t> resume_after_;  // origin -> subscribe after this seq (for retries)
  BusPoll poll_;
  std::vector<uint8_t> scratch_;

  mutable std::mutex status_mutex_;
  RegionLinkStatus status_;
  size_t tick_held_ = 0;  // (under status_mutex_) messages the scheduler did not take yet: held or full
  LatencyHistogram latency_;
  RegionLinkCounters counters_;  // bus side, added to status_ at the end of each pump
};

}  // namespace strata::server
