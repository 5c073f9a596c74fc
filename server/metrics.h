// server/metrics.h — the node's Prometheus metrics: one prometheus::Registry holding every family the
// node exports, typed methods to update them, and render() for the text exposition format (served by
// HttpServer on the metrics port; prometheus-cpp's own civetweb Exposer is not used).
//
// Invariants: names follow the Prometheus conventions (strata_ prefix, base units, _total on
// counters); every label value comes from a fixed list known here (input verdicts, sim reject
// reasons, net drop reasons, directions), never from client data, so the number of series is bounded.
// A label value outside the list is not exported: the call returns false and bumps
// unknown_label_values().
//
// Threads: every method may be called from any thread (prometheus-cpp metrics are atomic and the
// registry locks), so the tick thread updates while the HTTP thread renders.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/counters.h"
#include "schema/client/messages.h"
#include "sim/types.h"

namespace strata::server {

struct MetricsConfig {
  // Upper bounds of strata_tick_duration_seconds, strictly increasing. The default spans 0.1 ms to
  // 100 ms: a 20 Hz tick has a 50 ms budget, so the top buckets show overruns.
  std::vector<double> tick_duration_buckets_seconds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                       0.01,   0.02,    0.03,   0.05,  0.075,  0.1};
};
[[nodiscard]] MetricsConfig default_metrics_config();

// Bucket count limit: every bucket is a series per scrape.
inline constexpr size_t metrics_tick_buckets_max = 32;

// The values of strata_inputs_total{verdict}: the names of server::InputVerdict (input_scheduler.h),
// in its order (a test checks they agree).
inline constexpr std::array<std::string_view, 7> input_verdict_names = {
    "accepted", "late", "too_early", "duplicate", "queue_full", "not_player", "clock_ahead"};

enum class NetDirection : uint8_t { in, out };

class Metrics {
 public:
  // Null (with the reason in `error`) when the config is invalid (buckets not strictly increasing,
  // not positive, or more than metrics_tick_buckets_max).
  [[nodiscard]] static std::unique_ptr<Metrics> create(const MetricsConfig& config, std::string& error);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One tick took `seconds` of wall time; `overrun` when it missed its deadline.
  void observe_tick(double seconds, bool overrun);
  void set_tick(uint64_t tick);  // the tick just completed
  void set_players(uint64_t connected);
  // `verdict` is one of input_verdict_names (pass server::name(InputVerdict)).
  bool add_input(std::string_view verdict, uint64_t count = 1);
  // sim::RejectReason::none and ::count are not reasons: false.
  bool add_command_rejected(sim::RejectReason reason, uint64_t count = 1);
  void add_net_bytes(NetDirection direction, uint64_t bytes);
  void add_net_packets(NetDirection direction, uint64_t packets);
  bool add_net_dropped(net::DropReason reason, uint64_t count = 1);
  // Adds every reason of `delta` (the difference between two reads of the netchannel's counters).
  void add_net_dropped(const net::DropCounters& delta);
  void add_snapshot_bytes(uint64_t bytes);
  void add_checksum_mismatches(uint64_t count = 1);  // reported by clients
  // Client messages the node refused, by view::MessageError (none and count are not reasons: false).
  bool add_message_refused(view::MessageError reason, uint64_t count = 1);
  // Chat lines relayed or refused by the rate limit, and lines delivered to hearers.
  void add_chat(uint64_t relayed, uint64_t rate_limited, uint64_t deliveries);

  // The Prometheus text exposition (format 0.0.4) of every family.
  [[nodiscard]] std::string render() const;
  // Content-Type to serve render() with.
  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

  [[nodiscard]] uint64_t unknown_label_values() const { return unknown_label_values_.load(); }

 private:
  struct Families;
  explicit Metrics(const MetricsConfig& config);

  std::unique_ptr<Families> families_;
  std::atomic<uint64_t> unknown_label_values_{0};
};

}  // namespace strata::server
