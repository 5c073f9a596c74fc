// net/sdk/game_client.h — the client SDK's game session over the netchannel, sans I/O (bytes and
// `now` in, datagrams out), used by strata-bot and by game clients.
//  - connect with a connect token (from the HTTP login); UDP, or TCP via ClientConfig::transport;
//  - every snapshot is applied to the view it names as baseline, its AOI checksum verified (a
//    mismatch is counted and reported to the server), and acknowledged so the next delta is small;
//  - inputs are stamped with the tick they are meant for (the server tick estimated from the last
//    snapshot, plus an input delay adapted to the measured RTT and jitter) and resent in every
//    packet until a snapshot says the server processed them.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "net/client.h"
#include "schema/client/messages.h"

namespace strata::sdk {

struct GameClientConfig {
  net::ClientConfig net = net::default_client_config();
  // Added to the estimated server tick: covers one-way delay and jitter. Recomputed from the RTT.
  uint32_t input_delay_ticks_min = 1;
  uint32_t input_delay_ticks_max = 20;
  // Views kept as possible baselines (the server deltas against the newest one it knows we have).
  size_t views_kept = 64;
};
[[nodiscard]] GameClientConfig default_game_client_config();

struct GameClientStats {
  uint64_t snapshots_received = 0;
  uint64_t snapshots_applied = 0;
  uint64_t snapshot_bytes = 0;
  uint64_t full_snapshots = 0;
  uint64_t checksum_mismatches = 0;
  uint64_t missing_baseline = 0;  // the named baseline was no longer kept
  uint64_t stale_snapshots = 0;   // older than the newest applied one
  uint64_t refused_messages = 0;  // undecodable or inapplicable
  uint64_t inputs_submitted = 0;
  uint64_t input_packets_sent = 0;
};

class GameClient {
 public:
  explicit GameClient(const GameClientConfig& config);
  bool connect(std::span<const uint8_t> token, uint64_t now_us);
  void receive(const net::Address& from, std::span<const uint8_t> datagram, uint64_t now_us);
  // Processes what arrived, acknowledges the newest view, resends unprocessed inputs.
  void update(uint64_t now_us);
  void send_packets(uint64_t now_us, net::DatagramSink& sink);
  void disconnect(uint64_t now_us) { net_.disconnect(net::DisconnectReason::requested, now_us); }

  // Queues a command of the local player (its player field is filled by the server); returns its
  // sequence. Ignored (0) before the welcome.
  uint32_t submit(const sim::Command& command, uint64_t now_us);

  [[nodiscard]] net::ClientState state() const { return net_.state(); }
  [[nodiscard]] const net::Client& net_client() const { return net_; }
  [[nodiscard]] const std::optional<view::Welcome>& welcome() const { return welcome_; }
  [[nodiscard]] const view::ClientView* view() const { return views_.empty() ? nullptr : &views_.rbegin()->second; }
  [[nodiscard]] uint32_t last_processed_seq() const { return last_processed_seq_; }
  [[nodiscard]] uint64_t last_world_quick_hash() const { return last_world_quick_hash_; }
  [[nodiscard]] uint32_t input_delay_ticks() const { return input_delay_ticks_; }
  [[nodiscard]] uint64_t estimated_server_tick(uint64_t now_us) const;
  [[nodiscard]] const GameClientStats& stats() const { return stats_; }

 private:
  void handle(const view::Message& message, size_t bytes, uint64_t now_us);
  void apply(const view::ClientSnapshot& snapshot, uint64_t now_us);
  void adapt_input_delay();

  GameClientConfig config_;
  net::Client net_;
  std::optional<view::Welcome> welcome_;
  std::map<uint64_t, view::ClientView> views_;  // by tick
  std::deque<view::InputEntry> pending_;        // submitted, not yet processed by the server
  uint32_t next_seq_ = 1;
  uint32_t last_processed_seq_ = 0;
  uint64_t last_world_quick_hash_ = 0;
  uint64_t newest_tick_ = 0;
  uint64_t newest_tick_at_us_ = 0;
  uint64_t acked_tick_ = 0;
  uint32_t input_delay_ticks_ = 2;
  uint64_t tick_us_ = 50'000;
  GameClientStats stats_;
  std::vector<uint8_t> scratch_;
};

}  // namespace strata::sdk
