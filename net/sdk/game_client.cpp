// net/sdk/game_client.cpp — see game_client.h.
#include "net/sdk/game_client.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <span>

#include "schema/client/codec.h"
#include "sim/map.h"
#include "sim/movement.h"

namespace strata::sdk {

GameClientConfig default_game_client_config() { return GameClientConfig{}; }

namespace {

// The client's partial map for prediction: cells outside the chunks in view block (never walk
// into the unknown).
class ViewMap {
 public:
  explicit ViewMap(const view::ClientView& view) : view_(view) {}
  [[nodiscard]] bool blocks(sim::CellPos cell) const {
    if (cell.x < 0 || cell.y < 0) return true;
    const view::ViewChunk* in_view =
        view_.chunk(view::ChunkCoord{cell.x >> sim::limits::chunk_shift, cell.y >> sim::limits::chunk_shift});
    if (in_view == nullptr) return true;
    const size_t i = sim::TileMap::index_in_chunk(cell);
    const view::ChunkContent& chunk = in_view->content;
    return !sim::floor_walkable(static_cast<sim::Floor>(chunk.floor[i])) ||
           sim::block_solid(static_cast<sim::Block>(chunk.active[i]), chunk.active_state[i]);
  }

 private:
  const view::ClientView& view_;
};

const view::EntityState* own_entity(const view::ClientView& view, uint32_t player) {
  const view::EntityKey key{view::EntityKind::player, 0, player};
  auto it = std::lower_bound(view.entities.begin(), view.entities.end(), key,
                             [](const view::EntityState& e, const view::EntityKey& k) { return e.key < k; });
  return it != view.entities.end() && it->key == key ? &*it : nullptr;
}

constexpr uint64_t prediction_ticks_max = 64;  // bounds the re-simulation after a long stall

}  // namespace

void GameClient::check_prediction(const view::ClientView& confirmed) {
  if (!welcome_) return;
  const view::EntityState* me = own_entity(confirmed, welcome_->player);
  auto it = predicted_at_.find(confirmed.tick);
  if (me != nullptr && it != predicted_at_.end()) {
    const int32_t error = std::max(std::abs(it->second.x.raw() - me->x), std::abs(it->second.y.raw() - me->y));
    prediction_.checked += 1;
    prediction_.exact += error == 0 ? 1 : 0;
    prediction_.error_max = std::max(prediction_.error_max, error);
    prediction_.error_sum += static_cast<uint64_t>(error);
  }
  predicted_at_.erase(predicted_at_.begin(), predicted_at_.upper_bound(confirmed.tick));
}

void GameClient::predict(uint64_t now_us) {
  if (!welcome_ || views_count_ == 0) return;
  const view::ClientView& base = *view();
  const view::EntityState* me = own_entity(base, welcome_->player);
  if (me == nullptr) return;
  // From the server's state at the base tick, re-apply the moves it had not processed yet with the
  // sim's own rules: one move per tick (later ones are refused as duplicate_move), exhausted runs
  // refused, stamina spent and regained, collision on the view's map.
  while (!moves_.empty() && moves_.front().seq <= last_processed_seq_) moves_.pop_front();
  sim::MotionState motion = base_motion_;
  const uint64_t present =
      std::min(estimated_server_tick(now_us) + input_delay_ticks_, base.tick + prediction_ticks_max);
  // The same base view, moves and present tick predict the same position: a client updated at a
  // high frame rate re-simulates only when one of them changed (the smoothing still decays).
  const std::array<uint64_t, 3> inputs{base.tick, present, moves_submitted_};
  if (predicted_ && inputs == predicted_from_) {
    decay_correction();
    return;
  }
  predicted_from_ = inputs;
  const ViewMap map(base);
  sim::Vec2 pos{sim::Fixed::from_raw(me->x), sim::Fixed::from_raw(me->y)};
  size_t next = 0;
  for (uint64_t t = base.tick + 1; t <= present; ++t) {
    bool moved = false;
    for (; next < moves_.size() && moves_[next].tick <= t; ++next) {  // late ones apply at once
      if (moved) continue;
      moved = sim::accept_move(motion, static_cast<sim::Direction>(moves_[next].direction),
                               static_cast<sim::MoveMode>(moves_[next].mode)) == sim::RejectReason::none;
    }
    pos = sim::advance(motion, map, pos);
    // What the player saw for t: the prediction made while t was the present (inputs for t can be
    // submitted until then); frozen once the present moves past it.
    if (t >= predicted_tick_) predicted_at_[t] = pos;
  }
  // Smoothing: what was on screen stays on screen; the jump decays over the next frames.
  if (predicted_ && predicted_tick_ == present && (*predicted_ != pos)) {
    offset_x_ += predicted_->x.raw() - pos.x.raw();
    offset_y_ += predicted_->y.raw() - pos.y.raw();
    prediction_.corrections += 1;
    prediction_.correction_sum += static_cast<uint64_t>(std::max(std::abs(offset_x_), std::abs(offset_y_)));
  }
  if (std::max(std::abs(offset_x_), std::abs(offset_y_)) > 2 * sim::limits::fixed_one)
    offset_x_ = offset_y_ = 0;  // snap
  decay_correction();
  predicted_ = pos;
  predicted_tick_ = present;
}

void GameClient::decay_correction() {
  offset_x_ -= offset_x_ / 8;
  offset_y_ -= offset_y_ / 8;
}

std::optional<sim::Vec2> GameClient::smoothed_position() const {
  if (!predicted_) return std::nullopt;
  return sim::Vec2{sim::Fixed::from_raw(predicted_->x.raw() + offset_x_),
                   sim::Fixed::from_raw(predicted_->y.raw() + offset_y_)};
}

std::optional<sim::Vec2> GameClient::interpolated_position(const view::EntityKey& key, uint64_t now_us) const {
  if (views_count_ == 0 || newest_tick_ == 0) return std::nullopt;
  // Render time in thousandths of a tick, two ticks behind the newest estimate.
  const uint64_t elapsed_milli = (now_us - newest_tick_at_us_) * 1000 / tick_us_;
  const uint64_t render_milli = newest_tick_ * 1000 + std::min<uint64_t>(elapsed_milli, 1000) - 2000;
  auto find = [&](const view::ClientView& v) -> const view::EntityState* {
    auto it = std::lower_bound(v.entities.begin(), v.entities.end(), key,
                               [](const view::EntityState& e, const view::EntityKey& k) { return e.key < k; });
    return it != v.entities.end() && it->key == key ? &*it : nullptr;
  };
  // The first kept view after the render tick, and the one before it.
  size_t after = 0;
  while (after < views_count_ && view_at(after).tick <= render_milli / 1000) ++after;
  if (after == 0) after = 1;
  if (after >= views_count_) {
    const view::EntityState* e = find(*view());
    if (e == nullptr) return std::nullopt;
    return sim::Vec2{sim::Fixed::from_raw(e->x), sim::Fixed::from_raw(e->y)};
  }
  const view::ClientView& before_view = view_at(after - 1);
  const view::ClientView& after_view = view_at(after);
  const view::EntityState* a = find(before_view);
  const view::EntityState* b = find(after_view);
  if (a == nullptr || b == nullptr) {
    const view::EntityState* e = b != nullptr ? b : a;
    if (e == nullptr) return std::nullopt;
    return sim::Vec2{sim::Fixed::from_raw(e->x), sim::Fixed::from_raw(e->y)};
  }
  const auto span = static_cast<int64_t>((after_view.tick - before_view.tick) * 1000);
  const auto into =
      std::clamp<int64_t>(static_cast<int64_t>(render_milli) - static_cast<int64_t>(before_view.tick * 1000), 0, span);
  auto lerp = [&](int32_t from, int32_t to) {
    return static_cast<int32_t>(from + (static_cast<int64_t>(to - from) * into) / span);
  };
  return sim::Vec2{sim::Fixed::from_raw(lerp(a->x, b->x)), sim::Fixed::from_raw(lerp(a->y, b->y))};
}

GameClient::GameClient(const GameClientConfig& config)
    : config_(config), net_(config.net), views_(std::max<size_t>(1, config.views_kept)) {}

const view::ClientView* GameClient::find_view(uint64_t tick) const {
  size_t lo = 0, hi = views_count_;  // binary search: ticks increase from the oldest
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (view_at(mid).tick < tick) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < views_count_ && view_at(lo).tick == tick ? &view_at(lo) : nullptr;
}

bool GameClient::connect(std::span<const uint8_t> token, uint64_t now_us) { return net_.connect(token, now_us); }

bool GameClient::connect_stream(std::span<const uint8_t> token, const net::Address& stream_peer, uint64_t now_us) {
  return net_.connect_stream(token, stream_peer, now_us);
}

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
  const uint64_t tick = estimated_server_tick(now_us) + input_delay_ticks_;
  pending_.push_back(view::InputEntry{seq, tick, command});
  inputs_new_ = true;
  if (const auto* move = std::get_if<sim::MoveCommand>(&command)) {
    moves_.push_back(OwnMove{seq, tick, sim::to_underlying(move->direction), sim::to_underlying(move->mode)});
    moves_submitted_ += 1;
    while (moves_.size() > 256) moves_.pop_front();
  }
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
  stats_.full_snapshots += snapshot.baseline_tick == 0 ? 1 : 0;
  if (config_.light) {
    stats_.snapshots_unverified += 1;  // acknowledged (update()), never applied
    accept(snapshot, now_us);
    return;
  }
  const view::ClientView* base = nullptr;
  if (snapshot.baseline_tick != 0) {
    base = find_view(snapshot.baseline_tick);
    if (base == nullptr) {
      stats_.missing_baseline += 1;
      return;
    }
  }
  if (!view::apply_snapshot_into(base, snapshot, next_view_).empty()) {
    stats_.refused_messages += 1;
    return;
  }
  const uint64_t actual = view::view_checksum(next_view_);
  if (actual != snapshot.aoi_checksum) {
    stats_.checksum_mismatches += 1;
    view::encode_checksum_report(view::ChecksumReport{snapshot.tick, snapshot.aoi_checksum, actual}, scratch_);
    (void)net_.send(net::Channel::reliable_ordered, scratch_);
    return;  // never build on a view we know is wrong: the next full or delta from an older one fixes it
  }
  stats_.snapshots_applied += 1;
  check_prediction(next_view_);
  // Into the ring; the view leaving it (the oldest, when full) takes next_view_'s place.
  if (views_count_ == views_.size()) {
    std::swap(views_[views_first_], next_view_);
    views_first_ = (views_first_ + 1) % views_.size();
  } else {
    std::swap(views_[(views_first_ + views_count_) % views_.size()], next_view_);
    views_count_ += 1;
  }
  accept(snapshot, now_us);
}

void GameClient::accept(const view::ClientSnapshot& snapshot, uint64_t now_us) {
  base_motion_ = sim::MotionState{static_cast<sim::Direction>(snapshot.viewer_heading),
                                  static_cast<sim::MoveMode>(snapshot.viewer_mode), snapshot.viewer_stamina};
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
    case view::MessageKind::chat:
      stats_.chat_received += 1;
      chat_.push_back(message.chat);
      while (chat_.size() > chat_kept) chat_.pop_front();
      break;
    default: stats_.refused_messages += 1; break;
  }
}

bool GameClient::say(std::string_view text) {
  if (!view::valid_chat_text(text) || net_.state() != net::ClientState::connected) return false;
  view::encode_chat_send(text, scratch_);
  if (net_.send(net::Channel::reliable_ordered, scratch_) != net::SendResult::ok) return false;
  stats_.chat_sent += 1;
  return true;
}

void GameClient::update(uint64_t now_us) {
  net_.update(now_us);
  net::Message message;
  while (net_.pop_message(message)) {
    if (config_.light) {
      const std::span<const uint8_t> bytes(message.data);
      if (const auto header = !bytes.empty() && bytes[0] == static_cast<uint8_t>(view::MessageKind::snapshot)
                                  ? view::decode_client_snapshot_header(bytes.subspan(1))
                                  : std::nullopt) {
        stats_.snapshots_received += 1;
        stats_.snapshot_bytes += message.data.size();
        stats_.header_only += 1;
        apply(*header, now_us);
        continue;
      }
      if (!message.data.empty() && message.data[0] == static_cast<uint8_t>(view::MessageKind::chat)) {
        stats_.chat_received += 1;  // heard, not read: a light client keeps no chat
        continue;
      }
    }
    auto decoded = view::decode_message(message.data);
    if (!decoded.message) {
      stats_.refused_messages += 1;
      continue;
    }
    handle(*decoded.message, message.data.size(), now_us);
  }
  if (net_.state() != net::ClientState::connected) return;
  adapt_input_delay();
  if (!config_.light) predict(now_us);
  if (newest_tick_ > acked_tick_) {
    view::encode_ack(newest_tick_, scratch_);
    if (net_.send(net::Channel::unreliable_sequenced, scratch_) == net::SendResult::ok) acked_tick_ = newest_tick_;
  }
  if (!pending_.empty() && (inputs_new_ || now_us - inputs_sent_at_us_ >= config_.input_resend_us)) {
    const std::vector<view::InputEntry> batch(pending_.begin(), pending_.end());
    view::encode_inputs(batch, scratch_);
    if (net_.send(net::Channel::unreliable_sequenced, scratch_) == net::SendResult::ok) {
      stats_.input_packets_sent += 1;
      inputs_sent_at_us_ = now_us;
      inputs_new_ = false;
    }
  }
}

void GameClient::send_packets(uint64_t now_us, net::DatagramSink& sink) { net_.send_packets(now_us, sink); }

}  // namespace strata::sdk
