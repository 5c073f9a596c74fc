// net/sdk/game_client.cpp — see game_client.h.
#include "net/sdk/game_client.h"

#include <algorithm>
#include <cmath>

namespace strata::sdk {

GameClientConfig default_game_client_config() { return GameClientConfig{}; }

GameClient::GameClient(const GameClientConfig& config) : config_(config), net_(config.net) {}

bool GameClient::connect(std::span<const uint8_t> token, uint64_t now_us) { return net_.connect(token, now_us); }

void GameClient::receive(const net::Address& from, std::span<const uint8_t> datagram, uint64_t now_us) {
  net_.receive(from, datagram, now_us);
}

uint64_t GameClient::estimated_server_tick(uint64_t now_us) const {
  if (newest_tick_ == 0) return 0;
  return newest_tick_ + (now_us - newest_tick_at_us_) / tick_us_;
}

uint32_t GameClient::submit(const sim::Command& command, uint64_t now_us) {
  if (!welcome_) return 0;
  const uint32_t seq = next_seq_++;
  pending_.push_back(view::InputEntry{seq, estimated_server_tick(now_us) + input_delay_ticks_, command});
  while (pending_.size() > view::input_batch_max) pending_.pop_front();  // far behind: oldest lost
  stats_.inputs_submitted += 1;
  return seq;
}

void GameClient::adapt_input_delay() {
  const net::ConnectionStats* s = net_.stats();
  if (s == nullptr) return;
  // One-way delay (half the RTT) plus two jitters, rounded up to ticks, plus one tick of margin.
  const double lead_us = (s->rtt_ms / 2.0 + 2.0 * s->jitter_ms) * 1000.0;
  const auto ticks = static_cast<uint32_t>(std::ceil(lead_us / static_cast<double>(tick_us_))) + 1;
  input_delay_ticks_ = std::clamp(ticks, config_.input_delay_ticks_min, config_.input_delay_ticks_max);
}

void GameClient::apply(const view::ClientSnapshot& snapshot, uint64_t now_us) {
  if (snapshot.tick <= newest_tick_) {
    stats_.stale_snapshots += 1;
    return;
  }
  const view::ClientView* base = nullptr;
  if (snapshot.baseline_tick != 0) {
    auto it = views_.find(snapshot.baseline_tick);
    if (it == views_.end()) {
      stats_.missing_baseline += 1;
      return;
    }
    base = &it->second;
  } else {
    stats_.full_snapshots += 1;
  }
  auto applied = view::apply_snapshot(base, snapshot);
  if (!applied.view) {
    stats_.refused_messages += 1;
    return;
  }
  const uint64_t actual = view::view_checksum(*applied.view);
  if (actual != snapshot.aoi_checksum) {
    stats_.checksum_mismatches += 1;
    view::encode_checksum_report(view::ChecksumReport{snapshot.tick, snapshot.aoi_checksum, actual}, scratch_);
    (void)net_.send(net::Channel::reliable_ordered, scratch_);
    return;  // never build on a view we know is wrong: the next full or delta from an older one fixes it
  }
  stats_.snapshots_applied += 1;
  views_[snapshot.tick] = std::move(*applied.view);
  while (views_.size() > config_.views_kept) views_.erase(views_.begin());
  newest_tick_ = snapshot.tick;
  newest_tick_at_us_ = now_us;
  last_world_quick_hash_ = snapshot.world_quick_hash;
  last_processed_seq_ = std::max(last_processed_seq_, snapshot.last_input_seq);
  while (!pending_.empty() && pending_.front().seq <= last_processed_seq_) pending_.pop_front();
}

void GameClient::handle(const view::Message& message, size_t bytes, uint64_t now_us) {
  switch (message.kind) {
    case view::MessageKind::welcome:
      welcome_ = message.welcome;
      tick_us_ = 1'000'000 / std::max<uint32_t>(1, message.welcome.tick_rate_hz);
      if (newest_tick_ == 0) {
        newest_tick_ = 0;
        newest_tick_at_us_ = now_us;
      }
      break;
    case view::MessageKind::snapshot:
      stats_.snapshots_received += 1;
      stats_.snapshot_bytes += bytes;
      apply(message.snapshot, now_us);
      break;
    default: stats_.refused_messages += 1; break;
  }
}

void GameClient::update(uint64_t now_us) {
  net_.update(now_us);
  net::Message message;
  while (net_.pop_message(message)) {
    auto decoded = view::decode_message(message.data);
    if (!decoded.message) {
      stats_.refused_messages += 1;
      continue;
    }
    handle(*decoded.message, message.data.size(), now_us);
  }
  if (net_.state() != net::ClientState::connected) return;
  adapt_input_delay();
  if (newest_tick_ > acked_tick_) {
    view::encode_ack(newest_tick_, scratch_);
    if (net_.send(net::Channel::unreliable_sequenced, scratch_) == net::SendResult::ok) acked_tick_ = newest_tick_;
  }
  if (!pending_.empty()) {
    const std::vector<view::InputEntry> batch(pending_.begin(), pending_.end());
    view::encode_inputs(batch, scratch_);
    if (net_.send(net::Channel::unreliable_sequenced, scratch_) == net::SendResult::ok) stats_.input_packets_sent += 1;
  }
}

void GameClient::send_packets(uint64_t now_us, net::DatagramSink& sink) { net_.send_packets(now_us, sink); }

}  // namespace strata::sdk
