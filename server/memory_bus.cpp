// server/memory_bus.cpp — the in-memory JetStream twin (see memory_bus.h for what it models).
// Everything is ordered (std::map, std::deque) and every fault comes from the caller or from a
// splitmix64 stream seeded by MemoryBusFaults::seed, so the same calls give the same results.
#include "server/memory_bus.h"

#include <algorithm>

#include "server/bus_limits.h"
#include "sim/assert.h"

namespace strata::server {

// ---- MemoryStream ----

MemoryStream::StoreResult MemoryStream::store(BusSubject subject, BusMessageId id, std::span<const uint8_t> payload,
                                              uint64_t now_us) {
  expire_ids(now_us);
  if (const auto found = ids_.find(id); found != ids_.end()) return {AckKind::duplicate, found->second};
  STRATA_REQUIRE(messages_.size() < bus_limits::memory_stream_messages_max, "the twin's stream is full",
                 messages_.size());
  const uint64_t seq = messages_.size() + 1;
  messages_.push_back(Message{seq, subject, id, std::vector<uint8_t>(payload.begin(), payload.end()), now_us});
  ids_.emplace(id, seq);
  id_ages_.emplace_back(now_us, id);
  STRATA_ASSERT(ids_.size() == id_ages_.size(), "every id in the window has one age", ids_.size(), id_ages_.size());
  return {AckKind::stored, seq};
}

const MemoryStream::Message& MemoryStream::at(uint64_t seq) const {
  STRATA_REQUIRE(seq >= 1 && seq <= messages_.size(), "no message at this sequence", seq, messages_.size());
  const Message& message = messages_[seq - 1];
  STRATA_ASSERT(message.seq == seq, "a message sits at its sequence", message.seq, seq);
  return message;
}

void MemoryStream::expire_ids(uint64_t now_us) {
  // An id is remembered for dedup_window_us after the message that carried it was stored.
  while (!id_ages_.empty() && id_ages_.front().first + config_.dedup_window_us <= now_us) {
    const size_t erased = ids_.erase(id_ages_.front().second);
    STRATA_ASSERT(erased == 1, "an aged id was in the window", erased);
    id_ages_.pop_front();
  }
}

// ---- MemoryBus ----

MemoryBus::MemoryBus(MemoryStream& stream, MemoryBusConfig config, MemoryBusFaults faults)
    : stream_(stream), config_(config), faults_(faults), rng_state_(faults.seed) {
  STRATA_REQUIRE(config.pending_max >= 1 && config.pending_max <= bus_limits::pending_max, "pending_max out of range",
                 config.pending_max);
  STRATA_REQUIRE(config.publish_attempts >= 1 && config.publish_attempts <= bus_limits::publish_attempts_max,
                 "publish_attempts out of range", config.publish_attempts);
  STRATA_REQUIRE(config.consumer_window >= 1 && config.consumer_window <= bus_limits::memory_consumer_window_max,
                 "consumer_window out of range", config.consumer_window);
  STRATA_REQUIRE(config.ack_wait_us > 0, "a publish needs a MaxWait, or a lost ack is never noticed");
}

PublishVerdict MemoryBus::publish(BusSubject subject, BusMessageId id, std::span<const uint8_t> payload,
                                  uint64_t now_us) {
  STRATA_REQUIRE(subject.origin == id.origin && subject.channel == id.channel,
                 "a message's id names its subject's region and channel", subject.origin, id.origin, subject.channel,
                 id.channel);
  if (state_ == BusState::closed) {
    ++counters_.publish_refused_closed;
    return PublishVerdict::closed;
  }
  if (payload.size() > bus_limits::payload_bytes_max) {
    ++counters_.publish_refused_too_large;
    return PublishVerdict::too_large;
  }
  if (pending_.contains(id)) {
    ++counters_.publish_refused_id_pending;
    return PublishVerdict::id_pending;
  }
  if (pending_.size() >= config_.pending_max) {
    ++counters_.publish_refused_pending_full;
    return PublishVerdict::pending_full;
  }
  if (state_ != BusState::connected && reconnect_buffer_bytes_ + payload.size() > config_.reconnect_buffer_bytes) {
    ++counters_.publish_refused_buffer_full;
    return PublishVerdict::buffer_full;
  }
  const auto [it, inserted] = pending_.emplace(
      id, Pending{subject, std::vector<uint8_t>(payload.begin(), payload.end()), 1, now_us + config_.ack_wait_us});
  STRATA_ASSERT(inserted, "a pending id is refused above", id.tick);
  ++counters_.publishes;
  send(id, it->second, now_us);
  return PublishVerdict::accepted;
}

void MemoryBus::send(BusMessageId id, const Pending& pending, uint64_t now_us) {
  if (state_ != BusState::connected) {
    // nats.c keeps what is published while disconnected in its reconnect buffer; a send that does
    // not fit is lost (nats.c refuses it) and times out like any other.
    if (reconnect_buffer_bytes_ + pending.payload.size() > config_.reconnect_buffer_bytes) return;
    reconnect_buffer_bytes_ += pending.payload.size();
    reconnect_buffer_.push_back(Buffered{pending.subject, id, pending.payload, pending.attempts});
    return;
  }
  if (publishes_to_lose_ > 0) {
    --publishes_to_lose_;
    return;
  }
  if (draw(faults_.publish_loss_per_mille)) return;
  reach_server(pending.subject, id, pending.payload, pending.attempts, now_us);
}

void MemoryBus::reach_server(BusSubject subject, BusMessageId id, std::span<const uint8_t> payload, uint32_t attempt,
                             uint64_t now_us) {
  const MemoryStream::StoreResult result = stream_.store(subject, id, payload, now_us);
  if (acks_to_lose_ > 0) {
    --acks_to_lose_;
    return;
  }
  if (draw(faults_.ack_loss_per_mille)) return;
  acks_on_wire_.push_back(AckOnWire{id, attempt, result, now_us + config_.latency_us});
}

std::optional<SubscriptionId> MemoryBus::subscribe(BusFilter filter, uint64_t after_seq, uint64_t /*now_us*/) {
  if (state_ == BusState::closed || subscriptions_.size() >= bus_limits::subscriptions_max) return std::nullopt;
  const SubscriptionId id{next_subscription_++};
  Subscription subscription;
  subscription.filter = filter;
  subscription.scanned_seq = after_seq;
  subscription.last_received_seq = after_seq;
  subscriptions_.emplace(id, std::move(subscription));
  return id;
}

void MemoryBus::unsubscribe(SubscriptionId subscription) { subscriptions_.erase(subscription); }

void MemoryBus::poll(uint64_t now_us, size_t deliveries_max, BusPoll& out) {
  if (state_ == BusState::closed) return;
  receive_acks(now_us, out);
  expire_pending(now_us, out);
  if (state_ != BusState::connected) return;
  size_t budget = std::min(deliveries_max, bus_limits::deliveries_per_poll_max);
  for (auto& [id, subscription] : subscriptions_) {
    push_and_receive(subscription, now_us);
    while (budget > 0 && !subscription.received.empty()) {
      const MemoryStream::Message& message = stream_.at(subscription.received.front());
      subscription.received.pop_front();
      STRATA_ASSERT(filter_matches(subscription.filter, message.subject), "only matching messages are pushed",
                    message.seq);
      STRATA_ASSERT(out.deliveries.empty() || out.deliveries.back().subscription != id ||
                        out.deliveries.back().stream_seq < message.seq,
                    "a subscription delivers in stream order", message.seq);
      out.deliveries.push_back(Delivery{id, message.seq, message.subject, message.id, message.payload});
      ++counters_.deliveries;
      --budget;
    }
  }
}

void MemoryBus::receive_acks(uint64_t now_us, BusPoll& out) {
  while (!acks_on_wire_.empty() && acks_on_wire_.front().arrive_us <= now_us) {
    const AckOnWire ack = acks_on_wire_.front();
    acks_on_wire_.pop_front();
    const auto found = pending_.find(ack.id);
    // nats.c forgets a send when its MaxWait expires: the ack of an earlier attempt finds nothing.
    if (found == pending_.end() || found->second.attempts != ack.attempt) continue;
    out.acks.push_back(PublishAck{ack.id, ack.result.kind, ack.result.seq, ack.attempt});
    ++(ack.result.kind == AckKind::stored ? counters_.acks_stored : counters_.acks_duplicate);
    pending_.erase(found);
  }
}

void MemoryBus::expire_pending(uint64_t now_us, BusPoll& out) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    Pending& pending = it->second;
    if (pending.deadline_us > now_us) {
      ++it;
      continue;
    }
    if (pending.attempts >= config_.publish_attempts) {
      out.acks.push_back(PublishAck{it->first, AckKind::failed, 0, pending.attempts});
      ++counters_.acks_failed;
      it = pending_.erase(it);
      continue;
    }
    ++pending.attempts;
    pending.deadline_us = now_us + config_.ack_wait_us;
    ++counters_.resends;
    send(it->first, pending, now_us);
    ++it;
  }
}

void MemoryBus::push_and_receive(Subscription& subscription, uint64_t now_us) {
  // The server pushes while the flow-control window has room.
  while (subscription.wire.size() + subscription.received.size() < config_.consumer_window &&
         subscription.scanned_seq < stream_.last_seq()) {
    const uint64_t seq = ++subscription.scanned_seq;
    if (filter_matches(subscription.filter, stream_.at(seq).subject)) {
      subscription.wire.emplace_back(now_us + config_.latency_us, seq);
    }
  }
  while (!subscription.wire.empty() && subscription.wire.front().first <= now_us) {
    const uint64_t seq = subscription.wire.front().second;
    subscription.wire.pop_front();
    if (draw(faults_.delivery_loss_per_mille)) {
      // The next message's consumer sequence shows the gap; nats.c recreates the consumer after
      // the last sequence it received, and what was still on the wire is discarded.
      restart_consumer(subscription);
      ++counters_.consumer_resets;
      return;
    }
    STRATA_ASSERT(seq > subscription.last_received_seq, "the consumer receives in stream order", seq,
                  subscription.last_received_seq);
    subscription.received.push_back(seq);
    subscription.last_received_seq = seq;
  }
}

void MemoryBus::restart_consumer(Subscription& subscription) {
  subscription.wire.clear();
  subscription.scanned_seq = subscription.last_received_seq;
}

void MemoryBus::disconnect() {
  if (state_ != BusState::connected) return;
  state_ = BusState::reconnecting;
  ++counters_.disconnects;
  acks_on_wire_.clear();
  for (auto& [id, subscription] : subscriptions_) {
    if (!subscription.wire.empty()) ++counters_.consumer_resets;
    restart_consumer(subscription);
  }
}

void MemoryBus::reconnect(uint64_t now_us) {
  if (state_ != BusState::reconnecting) return;
  state_ = BusState::connected;
  ++counters_.reconnects;
  std::deque<Buffered> buffered;
  buffered.swap(reconnect_buffer_);
  reconnect_buffer_bytes_ = 0;
  for (const Buffered& send : buffered) reach_server(send.subject, send.id, send.payload, send.attempt, now_us);
}

void MemoryBus::close() {
  state_ = BusState::closed;
  pending_.clear();
  reconnect_buffer_.clear();
  reconnect_buffer_bytes_ = 0;
  acks_on_wire_.clear();
  subscriptions_.clear();
}

bool MemoryBus::draw(uint32_t per_mille) {
  if (per_mille == 0) return false;     // no draw: a run without this fault keeps its sequence
  rng_state_ += 0x9E3779B97F4A7C15ULL;  // splitmix64
  uint64_t z = rng_state_;
  z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
  z ^= z >> 31U;
  return z % 1000 < per_mille;
}

std::optional<StoredMark> MemoryBus::last_stored(BusSubject subject) {
  if (state_ != BusState::connected) return std::nullopt;  // a request needs the connection
  for (uint64_t seq = stream_.last_seq(); seq >= 1; --seq) {
    if (stream_.at(seq).subject == subject) return StoredMark{seq, stream_.at(seq).id};
  }
  return StoredMark{};
}

}  // namespace strata::server
