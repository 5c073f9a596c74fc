// server/node.h — the regional node: one tick of DESIGN.md's data path, sans I/O. The caller (main,
// or a test on simulated time) feeds datagrams with receive(), calls tick() at the tick rate and
// flush() to send; the node owns the netchannel server endpoint, the input scheduler and HLC, the
// simulation, the session log (RocksDB) and interest management.
//
// Per tick T: net events and messages -> scheduler; TickInput(T) built (system, players, remote);
// sim::step; the log appends input + hashes (+ snapshot when due) in one group commit; chunk
// checksums, change log and interest index are updated; each client in the world gets its delta
// snapshot (unreliable channel), stamped with T, its AOI checksum, the world quick hash and its
// last processed input sequence.
//
// Recovery: when the log directory already holds a log, the node rebuilds the world at the log's
// last tick (snapshot + tail, verifying every recorded hash) and appends after it; players left in
// that world have no session any more, so the first tick makes them leave (logged like any input).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "net/server.h"
#include "schema/client/messages.h"
#include "server/aoi.h"
#include "server/config.h"
#include "server/input_scheduler.h"
#include "server/snapshots.h"

namespace strata::replay {
class LogWriter;
}

namespace strata::server {

struct NodeCounters {
  uint64_t ticks = 0;
  uint64_t joins = 0;
  uint64_t leaves = 0;
  uint64_t snapshots_sent = 0;
  uint64_t snapshot_bytes = 0;
  uint64_t snapshots_not_sent = 0;             // the netchannel refused (queue full, too large, client gone)
  uint64_t checksum_mismatches = 0;            // reported by clients
  std::array<uint64_t, 6> messages_refused{};  // by view::MessageError
  uint64_t log_failures = 0;
  uint64_t observer_send_failures = 0;  // the reliable channel refused (queue full): the observer falls behind
  std::array<uint64_t, sim::reject_reason_count> rejected{};  // commands the rules refused, by reason
};

class RegionalNode {
 public:
  struct Options {
    ServerConfig config;
    net::ServerConfig net;
    std::string log_dir;  // created if missing; recovered from if present
    // Threads building client snapshots; 0 builds them inside tick() (deterministic, for tests).
    size_t snapshot_threads = 0;
  };
  // Opens (or recovers) the node. nullptr and `error` when the log cannot be created or recovered.
  [[nodiscard]] static std::unique_ptr<RegionalNode> create(const Options& options, std::string& error);
  ~RegionalNode();
  RegionalNode(const RegionalNode&) = delete;
  RegionalNode& operator=(const RegionalNode&) = delete;

  void receive(net::TransportKind kind, const net::Address& from, std::span<const uint8_t> bytes, uint64_t now_us,
               net::DatagramSink& sink);
  // One simulation tick. False when the session log could not be written (the node must stop:
  // the log is the source of truth, a tick it does not hold must not be shown to anyone).
  [[nodiscard]] bool tick(uint64_t now_us) { return tick(now_us, false); }
  // A TCP stream closed under a client.
  void transport_closed(net::TransportKind kind, const net::Address& address) { net_.transport_closed(kind, address); }
  // Hands the snapshots built so far to the netchannel, then its housekeeping and sending.
  void flush(uint64_t now_us, net::DatagramSink& sink);
  // Graceful stop: tells every client, runs a last tick in which their players leave, and ends the
  // log with a full snapshot of that tick. False when the log could not be written.
  [[nodiscard]] bool shutdown(uint64_t now_us, net::DatagramSink& sink);

  [[nodiscard]] const sim::Simulation& simulation() const { return *sim_; }
  [[nodiscard]] const NodeCounters& counters() const { return counters_; }
  [[nodiscard]] const InputScheduler& scheduler() const { return scheduler_; }
  [[nodiscard]] const net::Server& net_server() const { return net_; }
  [[nodiscard]] size_t sessions() const { return sessions_.size(); }
  [[nodiscard]] uint64_t recovered_from_tick() const { return recovered_from_tick_; }
  [[nodiscard]] SnapshotBuilderCounters snapshot_builders() const { return builders_->counters(); }
  [[nodiscard]] uint64_t snapshots_dropped_unsent() const { return outbox_.dropped(); }

 private:
  struct Session {
    sim::PlayerId player{};
    uint64_t epoch = 0;       // this session's number (the snapshot builders' state is per epoch)
    uint64_t acked_tick = 0;  // the newest snapshot the client acknowledged
    bool welcomed = false;
    bool observer = false;          // receives the input stream instead of playing
    bool observer_started = false;  // its starting world was sent
  };
  void send_observer_stream();
  RegionalNode(const Options& options, std::unique_ptr<sim::Simulation> sim, std::unique_ptr<replay::LogWriter> log);
  bool tick(uint64_t now_us, bool final_snapshot);
  void handle_events(uint64_t now_us);
  void handle_messages(net::ClientId client, Session& session);
  void send_snapshots(const sim::Effects& effects);

  Options options_;
  net::Server net_;
  Hlc hlc_;
  InputScheduler scheduler_;
  std::unique_ptr<sim::Simulation> sim_;
  std::unique_ptr<replay::LogWriter> log_;
  FramePublisher frames_{64};  // change history: an ack older than this gets a full snapshot
  SnapshotOutbox outbox_;
  std::unique_ptr<SnapshotBuilders> builders_;
  std::vector<BuiltSnapshot> ready_;  // flush() scratch
  uint64_t epochs_ = 0;
  std::map<uint64_t, Session> sessions_;           // by net client id
  std::map<uint32_t, uint64_t> client_of_player_;  // player id -> net client id
  NodeCounters counters_;
  sim::TickInput input_;
  std::vector<uint8_t> scratch_;
  uint64_t recovered_from_tick_ = 0;
};

}  // namespace strata::server
