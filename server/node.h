// server/node.h — the regional node: one tick of DESIGN.md's data path, sans I/O. The caller (main,
// or a test on simulated time) feeds datagrams with receive(), calls tick() at the tick rate and
// flush() to send; the node owns the netchannel server endpoint, the input scheduler and HLC, the
// simulation and interest management, and writes every tick to the session log it is given.
//
// Ports: the node learns the time from a Clock (server/clock.h: the caller's now_us for the
// simulation, the Clock for phase timings and snapshot build figures), draws unpredictable bytes
// from a net::Random (net/random.h: the challenge key, connection ids) and writes ticks to a
// replay::SessionLog (replay/session_log.h). It reads no clock, draws no OS randomness, sleeps
// nowhere and keeps no global; it creates threads only when its Options ask for them
// (snapshot_threads > 0, observer_encode_thread), and then only to build snapshots and encode
// observers' worlds (the SessionLog implementation may have threads of its own: the RocksDB
// writer does, the memory log does not). Run with a ManualClock, a DeterministicRandom, a
// MemorySessionLog, snapshot_threads = 0 and observer_encode_thread = false, on one thread, two
// runs with the same inputs send the same bytes.
//
// Per tick T: net events and messages -> scheduler; TickInput(T) built (system, players, remote);
// sim::step; the log appends input + hashes (+ snapshot when due) in one group commit; chunk
// checksums, change log and interest index are updated; each client in the world gets its delta
// snapshot (unreliable channel), stamped with T, its AOI checksum, the world quick hash and its
// last processed input sequence.
//
// What a logged-in client can make the node do is bounded: a tick's commands (the scheduler's
// parts, so every record decodes), the decode of its messages (client kinds only, per-kind budgets),
// chat deliveries per tick, mismatch reports per client, and observers (a capped number, each
// started from a world encoded off the tick thread and fed through a queue bounded in bytes).
//
// Construction: the caller opens or recovers the log and rebuilds the world from it (NodeStart;
// server/node_start.h does it for a RocksDB directory or a memory disk) and hands both to create().
// Why the node does not open the log itself: which store, and what to do when there is a log to
// recover, is main()'s choice (a simulation recovers from a memory disk after a crash it staged),
// and a node handed an open log has no failure path of its own for storage it does not own.
// Players left in a recovered world have no session any more, so the first tick makes them leave
// (logged like any input).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/random.h"
#include "net/server.h"
#include "replay/session_log.h"
#include "schema/client/messages.h"
#include "server/aoi.h"
#include "server/clock.h"
#include "server/config.h"
#include "server/input_scheduler.h"
#include "server/limits.h"
#include "server/snapshots.h"
#include "server/world_encoder.h"

namespace strata::server {

class PlayerSaves;  // server/player_saves.h

class RegionLink;

// The node's counters, listed once (net/counters.h: X(member, series, help), XA for the arrays
// by reason); series "" is strata_node_events_total{event="member"}, the node's bounds and events.
#define STRATA_NODE_COUNTERS(X, XA)                                                                            \
  X(ticks, "", "ticks run")                                                                                    \
  X(joins, "", "players that joined the world")                                                                \
  X(leaves, "", "players that left it")                                                                        \
  X(snapshots_sent, "", "snapshot messages handed to the netchannel")                                          \
  X(snapshot_bytes, "strata_snapshot_bytes_total", "Bytes of AOI snapshots sent to clients")                   \
  X(snapshots_not_sent, "", "the netchannel refused (queue full, too large, client gone)")                     \
  X(checksum_mismatches, "strata_checksum_mismatches_total", "AOI checksum mismatches reported by clients")    \
  X(checksum_reports_refused, "", "reports within a client's interval: not counted above")                     \
  X(tick_commands_refused, "", "beyond what the log decodes (0: the scheduler caps a tick)")                   \
  XA(messages_refused, view::MessageError, 1, "strata_client_messages_refused_total{reason}",                  \
     "Client messages the node refused, by reason")                                                            \
  X(chat_relayed, "strata_chat_lines_total{outcome=relayed}", "Chat lines from clients, by outcome")           \
  X(chat_rate_limited, "strata_chat_lines_total{outcome=rate_limited}", "Chat lines from clients, by outcome") \
  X(chat_deliveries, "strata_chat_deliveries_total", "Chat lines delivered to hearers")                        \
  X(chat_deferred, "", "lines left for a later tick: the tick's deliveries were used up")                      \
  X(chat_withheld, "", "(line, hearer) pairs not sent: the speaker is hidden from the hearer")                 \
  X(observers_refused, "", "beyond observers_max: disconnected (server_full)")                                 \
  X(observers_dropped_slow, "", "fell behind beyond their bound: disconnected (kicked)")                       \
  X(observer_world_encodings, "", "starting worlds encoded (off the tick thread)")                             \
  X(log_failures, "", "ticks the session log could not write")                                                 \
  X(reliable_send_failures, "", "the reliable channel refused (queue full): e.g. an observer falls behind")    \
  X(inbox_overflow, "", "client messages dropped: the sim thread fell that far behind")                        \
  X(joins_waited, "", "joins held until the player's save was loaded (Options::player_saves)")                 \
  X(join_load_timeouts, "", "joins whose save did not load within join_wait_ticks: the last known state")      \
  X(join_loads_refused, "", "joins whose save could not be asked for (queue full): the last known state")      \
  X(join_waits_abandoned, "", "clients that left while their join waited for its save: no join, no leave")     \
  X(joins_refused_unloaded, "", "joins refused: the save was not loaded and the player may be held elsewhere") \
  XA(rejected, sim::RejectReason, 1, "strata_commands_rejected_total{reason}", "Commands the rules rejected, by reason")

struct NodeCounters {
  STRATA_NODE_COUNTERS(STRATA_COUNTER_FIELD_, STRATA_COUNTER_ARRAY_FIELD_)
  NodeCounters& operator+=(const NodeCounters& other) {
    STRATA_NODE_COUNTERS(STRATA_COUNTER_ADD_, STRATA_COUNTER_ARRAY_ADD_)
    return *this;
  }
  bool operator==(const NodeCounters&) const = default;
};

// The parts of one tick, timed on the sim thread's own CPU clock (a preempted thread's wait is not
// counted): which part a slow tick spent its time in.
enum class TickPhase : uint8_t {
  inbox,      // net events and client messages decoded and handed to the scheduler
  schedule,   // TickInput(T) built
  step,       // sim::step
  log,        // appended to the session log (hashes; a snapshot when due)
  frame,      // chunk checksums, change log, interest index
  snapshots,  // snapshot jobs handed to the builders (and welcomes)
  relay,      // observer stream, chat, sends handed to the network side
  count
};
inline constexpr size_t tick_phase_count = static_cast<size_t>(TickPhase::count);
[[nodiscard]] const char* name(TickPhase phase);
struct TickPhaseTimes {
  std::array<uint64_t, tick_phase_count> cpu_ns{};   // the sim thread's CPU time
  std::array<uint64_t, tick_phase_count> wall_ns{};  // elapsed: CPU time plus waits (locks, I/O, a core)
};

// What a node starts from: its session log, open for appending after its last tick, and the world
// at that tick (a new world at its start tick for a new log).
struct NodeStart {
  std::unique_ptr<replay::SessionLog> log;
  std::unique_ptr<sim::Simulation> sim;
};

class RegionalNode {
 public:
  struct Options {
    ServerConfig config;
    net::ServerConfig net;
    // The ports (required; they must outlive the node). `clock` times the tick's phases and the
    // snapshot builds (figures, never decisions); with snapshot_threads > 0 the builders read it
    // from their threads, so it must then be thread-safe (SystemClock). `random` is the
    // netchannel's (drawn on the network side).
    const Clock* clock = nullptr;
    net::Random* random = nullptr;
    // Threads building client snapshots; 0 builds them inside tick() (deterministic, for tests).
    size_t snapshot_threads = 0;
    int snapshot_threads_nice = 0;  // added to the builder threads' nice value
    // Observers at once (each re-simulates the whole region from the input stream); more are
    // disconnected with server_full.
    size_t observers_max = limits::observers_max_default;
    // Bytes of tick messages one observer may have queued (a world being encoded for it, or the
    // netchannel's window full); beyond it the observer is disconnected (kicked). Its starting
    // world's parts are not counted: one encoding shared by the observers that start from it.
    size_t observer_backlog_bytes_max = limits::observer_backlog_bytes_default;
    // Encode observers' starting worlds on a thread of their own; false: inline (tests).
    bool observer_encode_thread = true;
    // (line, hearer) chat pairs sent per tick: 1024 lines x 1000 hearers would be a million sends
    // on the sim thread. A line is relayed whole; lines left when the budget is spent wait for the
    // next tick (chat_deferred), so one tick sends at most this plus one line's hearers.
    size_t chat_deliveries_per_tick = limits::chat_deliveries_per_tick_default;
    // The region's side of the event bus (server/region_link.h), or none (one region alone): each
    // tick takes the other regions' messages before its input is built, and hands over its own
    // writes and samples once it is logged. Must outlive the node.
    RegionLink* link = nullptr;
    // Called on the tick thread after each tick is logged (and after `link`): the map snapshots'
    // publisher (server/map_snapshots.h) copies the world from it when one is due. May be empty.
    std::function<void(const sim::Simulation&)> after_tick;
    // Player persistence (issue 16; server/player_saves.h, must outlive the node). A joining
    // player's JoinCommand waits until its save is loaded off the tick thread, at most
    // join_wait_ticks (then it carries player_saves->last_known(): this process's last save of the
    // player, or nothing, a fresh start); after each logged tick the state of every player that left
    // is handed to it. Null: joins are fresh and at once (tests, strata-vopr).
    PlayerSaves* player_saves = nullptr;
    uint32_t join_wait_ticks = 40;
  };
  // The node over `start` (its log positioned at its world's tick). nullptr and `error` when the
  // options or the start do not fit (no clock or random, a world of another tick than the log's).
  [[nodiscard]] static std::unique_ptr<RegionalNode> create(const Options& options, NodeStart start,
                                                            std::string& error);
  ~RegionalNode();
  RegionalNode(const RegionalNode&) = delete;
  RegionalNode& operator=(const RegionalNode&) = delete;

  // Threads: receive(), transport_closed(), flush() and shutdown() belong to the network side (the
  // only one touching the netchannel); tick() and the accessors below it to the sim thread. They
  // meet in an inbox (events, client messages) and an outbox (reliable messages, disconnects, built
  // snapshots), each swapped under its own mutex: neither side waits on the other's work.
  // Called on one thread in order (receive, tick, flush), the node is fully deterministic.
  void receive(net::TransportKind kind, const net::Address& from, std::span<const uint8_t> bytes, uint64_t now_us,
               net::DatagramSink& sink);
  // One simulation tick. False when the session log could not be written (the node must stop:
  // the log is the source of truth, a tick it does not hold must not be shown to anyone).
  [[nodiscard]] bool tick(uint64_t now_us) { return tick(now_us, false); }
  // A TCP stream closed under a client.
  void transport_closed(net::TransportKind kind, const net::Address& address) { net_.transport_closed(kind, address); }
  // Hands the snapshots built so far to the netchannel, then its housekeeping and sending.
  void flush(uint64_t now_us, net::DatagramSink& sink);
  // Network side, before a turn: the wall clock (Unix µs), when the `now_us` given to receive(),
  // flush() and shutdown() is monotonic (the runtime's). Connect-token expiry and the sessions'
  // connection times are read from it; timeouts run on `now_us`, so a stepped wall clock neither
  // keeps dead connections alive nor times everyone out. Without it `now_us` is both (tests).
  void set_wall_clock_us(uint64_t wall_us) {
    io_wall_us_ = wall_us;
    net_.set_wall_clock_us(wall_us);
  }
  // Graceful stop: tells every client, runs a last tick in which their players leave, and ends the
  // log with a full snapshot of that tick. False when the log could not be written.
  [[nodiscard]] bool shutdown(uint64_t now_us, net::DatagramSink& sink);

  [[nodiscard]] const sim::Simulation& simulation() const { return *sim_; }
  // The map cells the last tick wrote (sim::Effects::changed_cells; valid until the next tick).
  [[nodiscard]] std::span<const sim::CellChange> last_changed_cells() const {
    return last_effects_ != nullptr ? std::span<const sim::CellChange>(last_effects_->changed_cells)
                                    : std::span<const sim::CellChange>();
  }
  [[nodiscard]] NodeCounters counters() const;
  [[nodiscard]] const InputScheduler& scheduler() const { return scheduler_; }
  // The CPU and wall time of each phase of the last tick (sim thread).
  [[nodiscard]] const TickPhaseTimes& last_tick_phases() const { return phases_; }
  // Network side only (tests on one thread may use it too).
  [[nodiscard]] const net::Server& net_server() const { return net_; }
  // The netchannel's counters and per-session statistics, as the network side last published
  // them (every 100 ms, and at shutdown): safe from any thread.
  struct SessionInfo {
    uint64_t client = 0;  // the player id the login assigned
    bool observer = false;
    net::Address address;
    net::TransportKind transport = net::TransportKind::datagram;
    uint64_t connected_us = 0;
    net::ConnectionStats stats;
  };
  struct NetStats {
    net::HandshakeCounters handshake;
    net::DropCounters drops;
    std::vector<SessionInfo> sessions;
  };
  [[nodiscard]] NetStats net_stats() const;
  // The counters only (no per-session copy): cheap enough for every tick.
  struct NetCounters {
    net::HandshakeCounters handshake;
    net::DropCounters drops;
  };
  [[nodiscard]] NetCounters net_counters() const;
  [[nodiscard]] size_t sessions() const { return session_slot_.size(); }
  [[nodiscard]] uint64_t recovered_from_tick() const { return recovered_from_tick_; }
  // The newest tick the log holds under its fsync policy: nothing about a later one has been sent.
  [[nodiscard]] uint64_t durable_tick() const;
  [[nodiscard]] SnapshotBuilderCounters snapshot_builders() const { return builders_->counters(); }
  [[nodiscard]] uint64_t snapshots_dropped_unsent() const { return outbox_.dropped(); }

 private:
  struct Session {
    uint64_t client = 0;  // 0: a free slot of sessions_
    sim::PlayerId player{};
    uint64_t epoch = 0;       // this session's number (the snapshot builders' state is per epoch)
    uint64_t acked_tick = 0;  // the newest snapshot the client acknowledged
    bool welcomed = false;
    bool observer = false;              // receives the input stream instead of playing
    bool observer_started = false;      // its starting world was sent
    bool observer_waiting = false;      // waits for the world being encoded (then its backlog)
    uint64_t chat_tat = 0;              // chat rate limit: the theoretical arrival time (GCRA), in ticks
    uint64_t mismatch_report_tick = 0;  // the tick of the last mismatch report counted (0: none)
  };
  struct InboundEvent {
    net::ServerEvent event;
    bool observer = false;  // the token's user data says observer (read while the client existed)
  };
  // A client's message as the network side decoded it: the sim thread only applies it.
  struct ClientMessage {
    uint64_t client = 0;
    view::MessageKind kind = view::MessageKind::ack;
    view::MessageError error = view::MessageError::none;  // refused by the decoder: counted, not applied
    uint64_t ack_tick = 0;
    uint32_t inputs_begin = 0;  // inputs: [begin, begin + count) of Inbound::inputs
    uint32_t inputs_count = 0;
    std::string chat;
  };
  struct Inbound {
    std::vector<InboundEvent> events;
    std::vector<ClientMessage> messages;
    std::vector<view::InputEntry> inputs;  // the messages' inputs, one after another (no allocation per message)
  };
  struct Outbound {
    struct Reliable {
      uint64_t client = 0;
      uint64_t tick = 0;  // the tick it derives from: sent once the log holds that tick durably
      size_t offset = 0;  // the message is bytes[offset, offset + size)
      size_t size = 0;
    };
    std::vector<Reliable> reliable;
    std::vector<uint8_t> bytes;  // the reliable messages, one after another (no allocation per message)
    std::vector<std::pair<uint64_t, net::DisconnectReason>> disconnects;
    // The observers' stream, shared buffers (a tick's message is the same for every observer).
    struct Observed {
      uint64_t client = 0;
      SharedMessage message;
      bool start_part = false;  // a part of its starting world (not counted in its backlog bound)
      uint64_t tick = 0;        // sent once the log holds this tick durably
    };
    std::vector<Observed> observed;
    void reset();                  // empty
    void append(Outbound& later);  // `later`'s sends after these (its observed messages moved), then it is reset
    [[nodiscard]] bool empty() const { return reliable.empty() && disconnects.empty() && observed.empty(); }
  };
  // (Chat's rate and per-tick bounds, the mismatch report interval: server/limits.h.)
  void relay_chat(const TickFrame& frame);
  // Whether a line from `speaker` may reach `hearer_rank`: the rule of the snapshots (aoi.h), so a
  // player hidden indoors is not named to a hearer outside, who does not see it.
  [[nodiscard]] static bool hears(const ViewerState& speaker, const InterestIndex& index, uint32_t hearer_rank);
  struct IoCounters {
    std::atomic<uint64_t> snapshots_sent{0};
    std::atomic<uint64_t> snapshot_bytes{0};
    std::atomic<uint64_t> snapshots_not_sent{0};
    std::atomic<uint64_t> reliable_send_failures{0};
    std::atomic<uint64_t> inbox_overflow{0};
    std::atomic<uint64_t> observers_dropped_slow{0};
  };

  void send_observer_stream();
  void start_observers();                                 // cap, then the world encoding they wait for
  void finish_observer_start(const EncodedWorld& world);  // parts and backlog to the waiting ones
  void drop_observer(Session& session, net::DisconnectReason reason);
  void send_observed(uint64_t client, const SharedMessage& message, bool start_part);
  void drain_observers(uint64_t now_us, uint64_t durable_tick);  // network side
  RegionalNode(const Options& options, std::unique_ptr<sim::Simulation> sim, std::unique_ptr<replay::SessionLog> log);
  bool tick(uint64_t now_us, bool final_snapshot);
  void handle_events(const std::vector<InboundEvent>& events);
  void handle_message(Session& session, const ClientMessage& message, std::span<const view::InputEntry> inputs);
  Session* find_session(uint64_t client);
  Session& add_session(uint64_t client);  // replaces the client's session if it has one
  void erase_session(uint64_t client);
  void begin_join(sim::PlayerId player);   // at once, or after its save is loaded (player_saves)
  void release_joins(uint64_t tick);       // the waiting joins whose save is loaded or whose wait ran out
  void refuse_join(sim::PlayerId player);  // PlayerSaves::may_join_unloaded said no: the client goes
  void send_reliable(uint64_t client, std::span<const uint8_t> bytes);
  void pump_inbound();                  // network side
  void pump_outbound(uint64_t now_us);  // network side
  void publish_net_stats();             // network side
  void send_snapshots(std::shared_ptr<const TickFrame> frame);

  Options options_;
  net::Server net_;
  Hlc hlc_;
  InputScheduler scheduler_;
  std::unique_ptr<sim::Simulation> sim_;
  const sim::Effects* last_effects_ = nullptr;  // the last step's (they live in the simulation)
  std::unique_ptr<replay::SessionLog> log_;
  FramePublisher frames_{limits::frame_history_ticks};  // change history: an ack older than this gets a full snapshot
  SnapshotOutbox outbox_;
  std::unique_ptr<SnapshotBuilders> builders_;
  uint64_t epochs_ = 0;
  Inbound sim_inbox_;                         // sim thread: the inbox swapped out
  std::vector<view::ChatLine> chat_pending_;  // said since the last tick, relayed after it
  Outbound sim_outbound_;                     // sim thread: this tick's sends, handed over at its end

  // Network side.
  std::vector<SessionInfo> io_clients_;  // connected, from the events popped (stats filled when published)
  Inbound io_inbound_;                   // events and decoded messages, staged outside the inbox lock
  std::vector<std::pair<uint64_t, uint64_t>> io_acks_;  // snapshot acks (client, tick) for the builders
  Outbound io_outbound_;  // taken from outbound_; what is not durable yet stays here, in order
  std::vector<BuiltSnapshot> ready_;
  std::vector<BuiltSnapshot> held_;  // built, of a tick the log does not hold durably yet
  uint64_t next_stats_us_ = 0;
  uint64_t io_now_us_ = 0;              // the network side's clock at its last flush
  std::optional<uint64_t> io_wall_us_;  // set_wall_clock_us(); unset: io_now_us_ is the wall clock
  IoCounters io_counters_;

  std::mutex inbox_mutex_;
  Inbound inbox_;
  std::mutex outbound_mutex_;
  Outbound outbound_;
  mutable std::mutex net_stats_mutex_;
  NetStats net_stats_;
  // The sessions in slots: the tick walks them as one array (5000 map nodes were cache misses),
  // in slot order, which the same events always give. A leaving session's slot is reused.
  std::vector<Session> sessions_;
  std::vector<uint32_t> free_slots_;
  std::unordered_map<uint64_t, uint32_t> session_slot_;      // net client id -> slot
  std::unordered_map<uint32_t, uint64_t> client_of_player_;  // player id -> net client id
  std::set<uint64_t> observer_clients_;                      // clients of the observers' sessions
  NodeCounters counters_;
  // Joins waiting for their save (player -> the tick their wait runs out), in player order.
  std::map<uint32_t, uint64_t> waiting_joins_;
  TickPhaseTimes phases_{};
  sim::TickInput input_;
  std::vector<uint8_t> scratch_;
  uint64_t recovered_from_tick_ = 0;
  // Observers (sim thread): the world being encoded for the waiting ones, and the tick messages
  // since its tick, which they get after it.
  WorldEncoder observer_encoder_;
  std::vector<SharedMessage> observer_backlog_;
  size_t observer_backlog_bytes_ = 0;
  bool observer_backlog_lost_ = false;  // dropped beyond its bound: the world being encoded goes to nobody
  // Observers (network side): each one's queue, fed to the netchannel as its window allows.
  struct ObserverQueue {
    std::deque<Outbound::Observed> messages;
    size_t backlog_bytes = 0;  // of its tick messages (not its starting world's parts)
  };
  std::unordered_map<uint64_t, ObserverQueue> io_observer_queues_;
};

}  // namespace strata::server
