// server/runtime.h — what drives a RegionalNode: "the loop". One tick per period of the Clock's
// monotonic time, the network turn (receive, hand over, flush, send), the bookkeeping after each
// tick (metrics, tick statistics, the Status the HTTP threads read, a log line every few seconds)
// and the shutdown sequence (tell the clients, log the final tick, close the log, then the
// services that must stop after it, in order).
//
// Two drivers of the same turn:
//   run()        real time (SystemClock): a sim thread ticks, the calling thread runs the network
//                loop; the only place that sleeps or waits.
//   step()       one thread, no waiting: receive -> tick when due -> flush and send; run_until()
//                steps a ManualClock from tick to tick. Tests and strata-vopr drive the node on
//                simulated time with it, and get the same ticks a real run would.
// The node's bytes come and go through a NetworkPort: the UDP/TCP transports in production
// (server/transports.h), an in-memory link in tests and the simulator.
// Time: ticks are due by the Clock's monotonic reading; the node is handed its wall reading (the
// HLC, token expiry). Destroying a Runtime without stop() closes the node without the shutdown's
// final tick; a simulated crash is staged by the log store (replay/memory_log.h), not here.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "net/endpoint.h"
#include "server/bus.h"
#include "server/clock.h"
#include "server/node.h"
#include "server/tick_stats.h"

namespace strata::server {

class Bus;
class RegionLink;
class Metrics;
struct Status;

struct RuntimeConfig {
  uint32_t tick_rate_hz = 20;
  uint64_t run_for_us = 0;  // stop after this much monotonic time (0: until asked to)
  // Real time: a network turn at most this often (what arrives meanwhile is taken in one batch).
  uint64_t net_loop_min_us = 1000;
  int net_thread_nice = 0;                  // added to the network thread's nice value (run() only)
  uint64_t report_interval_us = 5'000'000;  // the "tick N: ..." log line
  uint64_t status_interval_ticks = 10;      // sessions and player cells copied for the status
  // Set by a signal handler (or anyone): the runtime stops at its next turn. May be null.
  const std::atomic<bool>* stop_signal = nullptr;
};

// The configuration's tick rate, network loop pacing and thread priority.
[[nodiscard]] RuntimeConfig runtime_config(const ServerConfig& config);

// Where the node's datagrams and frames come from and go to.
class NetworkPort {
 public:
  virtual ~NetworkPort() = default;
  // Hands the node what has arrived (RegionalNode::receive per datagram or frame).
  virtual void receive(RegionalNode& node, uint64_t now_us) = 0;
  // Where RegionalNode::flush and ::shutdown write.
  [[nodiscard]] virtual net::DatagramSink& sink() = 0;
  // Sends what the sink holds (frames that arrive meanwhile still go to `node`).
  virtual void send(RegionalNode& node, uint64_t now_us) = 0;
  // Real-time driver only: waits up to `timeout_us` for something to receive.
  virtual void wait(uint64_t timeout_us) { (void)timeout_us; }
  // Real-time driver, once per network turn: the transports' reports and their statistics for the
  // status (`status` may be null). `monotonic_us` is the turn's start.
  virtual void housekeeping(uint64_t monotonic_us, Status* status) {
    (void)monotonic_us;
    (void)status;
  }
};

// Reads the node after each tick on the sim thread, and once in stop() after the final tick is
// logged, before the node closes (the storage service: live positions, saves, the session's end).
// after_tick must not block or call a store: it copies what it needs and queues it.
class TickObserver {
 public:
  virtual ~TickObserver() = default;
  virtual void after_tick(const RegionalNode& node) = 0;
  virtual void at_stop(const RegionalNode& node) = 0;
};

// How the runtime ended.
struct RuntimeStop {
  uint64_t final_tick = 0;
  uint64_t final_hash = 0;    // the full hash of the world at final_tick
  bool log_failed = false;    // a tick could not be written to the session log: the node stopped
  bool final_logged = false;  // shutdown's last tick (the players leaving) is in the log
  [[nodiscard]] int exit_code() const { return log_failed || !final_logged ? 1 : 0; }
};

// The region's side of the event bus, when it has one (server/region_link.h): step() pumps it
// after each turn; run() on a thread of its own (the "bus thread"), every pump_every_us, which
// also calls `maintain` (NatsBus::maintain: requests to the server, which may wait) every
// maintain_every_us. stop() pumps after the final tick until the outbox is empty or drain_us
// passed, so a region's last writes reach the stream.
struct RuntimeBus {
  Bus* bus = nullptr;
  RegionLink* link = nullptr;
  std::function<void(uint64_t now_us)> maintain;
  uint64_t pump_every_us = 2'000;
  // A consumer nats.c reports broken (3.4.1 reports a consumer made before its origin's first
  // message as mismatched at its first heartbeat) delivers nothing until maintain() recreates it.
  uint64_t maintain_every_us = 250'000;
  uint64_t drain_us = 3'000'000;
};

class Runtime {
 public:
  // `metrics` and `status` may be null (nothing published); they, `clock` and `network` must
  // outlive the runtime. The runtime owns the node until stop() closes it.
  Runtime(const RuntimeConfig& config, const Clock& clock, std::unique_ptr<RegionalNode> node, NetworkPort& network,
          Metrics* metrics, Status* status);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Real time: ticks on a sim thread, the network loop on this one, until stopped (signal,
  // request_stop(), run_for, or a log failure); then stop().
  RuntimeStop run();

  // One thread, simulated or real time, never waiting: receive -> tick when due -> flush and
  // send. False (and nothing done) once the runtime is stopping.
  bool step();
  // Steps until `clock` reads `until_us`, advancing it to each next tick (and to `until_us`).
  // `clock` must be the clock this runtime reads.
  void run_until(ManualClock& clock, uint64_t until_us);
  // The monotonic time the next tick is due at.
  [[nodiscard]] uint64_t next_tick_us() const { return next_tick_us_; }

  // Before run()/step(): the bus (its pointers must outlive the runtime).
  void attach_bus(RuntimeBus bus) { bus_ = std::move(bus); }

  void request_stop() { stop_.store(true); }  // any thread
  [[nodiscard]] bool stopping() const;
  // Services that must stop after the node's log is closed (the login, then the HTTP listeners),
  // run by stop() in the order added.
  void add_stop_step(std::function<void()> step) { stop_steps_.push_back(std::move(step)); }
  // Before run() or the first step(); `observer` must outlive the runtime's stop().
  void add_tick_observer(TickObserver& observer) { tick_observers_.push_back(&observer); }
  // The shutdown sequence: tells every client, logs the final tick and sends; closes the node (its
  // log); runs the stop steps; logs "stopped at tick". Once (later calls return the same).
  RuntimeStop stop();

  [[nodiscard]] RegionalNode& node();                      // until stop()
  [[nodiscard]] uint64_t ticks() const { return ticks_; }  // run by this runtime

 private:
  bool tick_once(uint64_t monotonic_us);  // false: the log failed (the runtime is stopping)
  void after_tick(uint64_t monotonic_us, uint64_t tick_us, uint64_t cpu_ns);
  void publish_counters();  // every tick: the counter lists' values
  void publish_status();
  void sim_loop();
  void network_loop();
  void bus_loop();
  void pump_bus(uint64_t now_us);
  void report_bus(uint64_t now_us);
  void drain_bus();
  [[nodiscard]] bool run_for_elapsed(uint64_t monotonic_us) const;

  RuntimeConfig config_;
  const Clock& clock_;
  std::unique_ptr<RegionalNode> node_;
  NetworkPort& network_;
  Metrics* metrics_;
  Status* status_;
  uint64_t period_us_;
  uint64_t start_us_;
  uint64_t next_tick_us_;
  uint64_t last_report_us_;
  uint64_t ticks_ = 0;
  TickStats tick_stats_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> log_failed_{false};
  std::vector<std::function<void()>> stop_steps_;
  std::vector<TickObserver*> tick_observers_;
  bool stopped_ = false;
  RuntimeStop result_;
  RuntimeBus bus_;
  BusState bus_last_state_ = BusState::connecting;  // (bus side)
  uint64_t bus_next_report_us_ = 0;
  uint64_t bus_last_refused_ = 0;
};

}  // namespace strata::server
