// net/sdk/game_client.h — the client SDK's game session over the netchannel, sans I/O (bytes and
// `now` in, datagrams out), used by strata-bot and by game clients.
//  - connect with a connect token (from the HTTP login); UDP, or TCP via ClientConfig::transport;
//  - every snapshot is applied to the view it names as baseline, its AOI checksum verified (a
//    mismatch is counted and reported to the server), and acknowledged so the next delta is small;
//  - inputs are stamped with the tick they are meant for (the server tick estimated from the last
//    snapshot, plus an input delay adapted to the measured RTT and jitter) and resent in every
//    packet until a snapshot says the server processed them;
//  - the local player is predicted with the sim's own movement rule (sim::move_box on the view's
//    chunks): from the server's state at the newest snapshot, its unprocessed moves are re-applied
//    up to the present tick (reconciliation); the visible correction is smoothed out; remote
//    entities are interpolated between snapshots, two ticks in the past.
// Prediction tolerance: a prediction is exact unless the server applied a move at another tick
// than the client meant (the input arrived late) or stamina ran out while running; the error is
// then bounded by run speed times the ticks of lateness. tests/server/node_test checks it.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "net/client.h"
#include "schema/client/messages.h"
#include "sim/fixed.h"
#include "sim/motion.h"

namespace strata::sdk {

struct GameClientConfig {
  net::ClientConfig net = net::default_client_config();
  // Added to the estimated server tick: covers one-way delay and jitter. Recomputed from the RTT.
  uint32_t input_delay_ticks_min = 1;
  uint32_t input_delay_ticks_max = 20;
  // Views kept as possible baselines (the server deltas against the newest one it knows we have).
  size_t views_kept = 64;
  // Unprocessed inputs are resent at most this often (new inputs go out at once): redundancy
  // against loss without flooding the server when update() is called at a high frame rate.
  uint64_t input_resend_us = 25'000;
  // Light mode, for load generators only: snapshots are decrypted and acknowledged like any
  // client's (so the server's work is the same: deltas against what we acknowledged), but only
  // their header is decoded (tick, baseline, processed input) and nothing is applied: no view
  // (view() stays nullptr), no AOI checksum verified, no prediction, chat counted but not read
  // (chat() stays empty). Counted in
  // GameClientStats::snapshots_unverified. Game clients keep it false.
  bool light = false;
};
[[nodiscard]] GameClientConfig default_game_client_config();

struct PredictionStats {
  uint64_t checked = 0;   // predicted ticks later confirmed by a snapshot
  uint64_t exact = 0;     // ... whose prediction equalled the server's position
  int32_t error_max = 0;  // largest error (Chebyshev, 1/256 tile)
  uint64_t error_sum = 0;
  uint64_t corrections = 0;  // reconciliations that moved the present prediction
  uint64_t correction_sum = 0;
};

struct GameClientStats {
  uint64_t snapshots_received = 0;
  uint64_t snapshots_applied = 0;     // reconstructed and verified against the AOI checksum
  uint64_t snapshots_unverified = 0;  // light mode: decoded and acknowledged, not applied
  uint64_t header_only = 0;           // light mode: ... of which only the header was decoded
  uint64_t snapshot_bytes = 0;
  uint64_t full_snapshots = 0;
  uint64_t checksum_mismatches = 0;
  uint64_t missing_baseline = 0;  // the named baseline was no longer kept
  uint64_t stale_snapshots = 0;   // older than the newest applied one
  uint64_t refused_messages = 0;  // undecodable or inapplicable
  uint64_t inputs_submitted = 0;
  uint64_t input_packets_sent = 0;
  uint64_t chat_sent = 0;
  uint64_t chat_received = 0;
};

class GameClient {
 public:
  explicit GameClient(const GameClientConfig& config);
  bool connect(std::span<const uint8_t> token, uint64_t now_us);
  // Over TCP (config.net.transport == stream): `stream_peer` is the far end of the caller's stream,
  // the address its frames are passed to receive() with (see net::Client::connect_stream).
  bool connect_stream(std::span<const uint8_t> token, const net::Address& stream_peer, uint64_t now_us);
  void receive(const net::Address& from, std::span<const uint8_t> datagram, uint64_t now_us);
  // Processes what arrived, acknowledges the newest view, resends unprocessed inputs.
  void update(uint64_t now_us);
  void send_packets(uint64_t now_us, net::DatagramSink& sink);
  void disconnect(uint64_t now_us) { net_.disconnect(net::DisconnectReason::requested, now_us); }

  // Queues a command of the local player (its player field is filled by the server); returns its
  // sequence. Ignored (0) before the welcome.
  uint32_t submit(const sim::Command& command, uint64_t now_us);

  // Says a line of chat to the players around (reliable; relayed by the server, not simulated).
  // False when the text is not a valid chat line (view::valid_chat_text) or cannot be queued.
  bool say(std::string_view text);
  // Chat lines heard, oldest first (the newest chat_kept are kept); take_chat() empties it.
  [[nodiscard]] const std::deque<view::ChatLine>& chat() const { return chat_; }
  std::deque<view::ChatLine> take_chat() { return std::exchange(chat_, {}); }

  [[nodiscard]] net::ClientState state() const { return net_.state(); }
  [[nodiscard]] const net::Client& net_client() const { return net_; }
  [[nodiscard]] const std::optional<view::Welcome>& welcome() const { return welcome_; }
  [[nodiscard]] const view::ClientView* view() const {
    return views_count_ == 0 ? nullptr : &view_at(views_count_ - 1);
  }
  [[nodiscard]] uint32_t last_processed_seq() const { return last_processed_seq_; }
  [[nodiscard]] uint64_t last_world_quick_hash() const { return last_world_quick_hash_; }
  [[nodiscard]] uint32_t input_delay_ticks() const { return input_delay_ticks_; }
  [[nodiscard]] uint64_t estimated_server_tick(uint64_t now_us) const;
  // The tick of the newest snapshot accepted (0 before the first).
  [[nodiscard]] uint64_t newest_tick() const { return newest_tick_; }
  [[nodiscard]] const GameClientStats& stats() const { return stats_; }
  // Inputs submitted since the last update() (they go out with the next one).
  [[nodiscard]] bool inputs_pending() const { return inputs_new_; }

  // The local player predicted at predicted_tick() (nullopt before it is seen in a snapshot).
  [[nodiscard]] const std::optional<sim::Vec2>& predicted_position() const { return predicted_; }
  [[nodiscard]] uint64_t predicted_tick() const { return predicted_tick_; }
  // The prediction plus what is left of the last correction (decays by 1/8 a frame): draw this.
  [[nodiscard]] std::optional<sim::Vec2> smoothed_position() const;
  // A remote entity's position interpolated two ticks in the past (nullopt when not in view).
  [[nodiscard]] std::optional<sim::Vec2> interpolated_position(const view::EntityKey& key, uint64_t now_us) const;
  [[nodiscard]] const PredictionStats& prediction_stats() const { return prediction_; }
  // The server's motion state of the local player (heading, mode, stamina) at the newest view.
  [[nodiscard]] const sim::MotionState& base_motion() const { return base_motion_; }

 private:
  struct OwnMove {
    uint32_t seq = 0;
    uint64_t tick = 0;
    uint8_t direction = 0;
    uint8_t mode = 0;
  };
  void predict(uint64_t now_us);
  void decay_correction();
  void check_prediction(const view::ClientView& confirmed);
  void handle(const view::Message& message, size_t bytes, uint64_t now_us);
  void apply(const view::ClientSnapshot& snapshot, uint64_t now_us);
  // The snapshot is the newest: its tick, hash, processed inputs and our motion state.
  void accept(const view::ClientSnapshot& snapshot, uint64_t now_us);
  void adapt_input_delay();
  // Kept views, i = 0 the oldest .. views_count_ - 1 the newest (ticks increasing).
  [[nodiscard]] const view::ClientView& view_at(size_t i) const { return views_[(views_first_ + i) % views_.size()]; }
  [[nodiscard]] const view::ClientView* find_view(uint64_t tick) const;

  GameClientConfig config_;
  net::Client net_;
  std::optional<view::Welcome> welcome_;
  // The kept views as a ring of config_.views_kept slots; a view leaving it becomes next_view_,
  // into which the next snapshot is applied, so their storage is reused, not reallocated.
  std::vector<view::ClientView> views_;
  size_t views_first_ = 0;
  size_t views_count_ = 0;
  view::ClientView next_view_;
  std::deque<view::InputEntry> pending_;  // submitted, not yet processed by the server
  static constexpr size_t chat_kept = 256;
  std::deque<view::ChatLine> chat_;
  uint32_t next_seq_ = 1;
  uint32_t last_processed_seq_ = 0;
  uint64_t last_world_quick_hash_ = 0;
  uint64_t newest_tick_ = 0;
  uint64_t newest_tick_at_us_ = 0;
  uint64_t acked_tick_ = 0;
  uint64_t inputs_sent_at_us_ = 0;
  bool inputs_new_ = false;
  uint32_t input_delay_ticks_ = 2;
  uint64_t tick_us_ = 50'000;
  GameClientStats stats_;
  std::vector<uint8_t> scratch_;
  std::deque<OwnMove> moves_;                   // moves submitted, until older than the processed ones
  std::map<uint64_t, sim::Vec2> predicted_at_;  // tick -> its prediction when it was the present
  sim::MotionState base_motion_;                // the server's motion state of ours at the newest view
  std::optional<sim::Vec2> predicted_;
  uint64_t moves_submitted_ = 0;
  std::array<uint64_t, 3> predicted_from_{};  // base view tick, present tick, moves_submitted_
  uint64_t predicted_tick_ = 0;
  int32_t offset_x_ = 0;  // visible correction still to smooth out
  int32_t offset_y_ = 0;
  PredictionStats prediction_;
};

}  // namespace strata::sdk
