// net/connection.cpp: sequencing, acks, channels, packing and fragmentation of one connection.
// The entry layout is written in packet.cpp. Invariants:
//  - reliable ids in [oldest_unacked_id_, next_send_id_) that are not yet acked are claimed in
//    send_ring_ (chunked, see reliable_ring.h), and at most reliable_window of them are unacked
//    (unacked_count_ == send_ring_.used());
//    [oldest_unacked_id_, first_unsent_id_) have been sent at least once;
//  - reliable ids in [next_receive_id_, next_receive_id_ + ring_size_) may wait in receive_ring_
//    (so a peer can make it allocate at most ring_size_ slots);
//  - sent_ holds the packets [next_sequence_ - sent_.size(), next_sequence_) at sequence & (size - 1);
//    the received bitmap is valid for (most_recent_received_ - received_history_size,
//    most_recent_received_];
//    ids before next_receive_id_ were delivered (or are being reassembled) exactly once;
//  - an unreliable message is delivered only if its sequence is newer than the last delivered one.
#include "net/connection.h"
#include "sim/assert.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstring>

namespace strata::net {
namespace {
constexpr int sequence_half_space = -0x8000;  // sequence_difference of two sequences 32768 apart
}  // namespace

namespace {

constexpr size_t received_index(uint16_t sequence) { return sequence % received_history_size; }

[[maybe_unused]] bool is_power_of_two(size_t n) { return n != 0 && (n & (n - 1)) == 0; }

}  // namespace

ConnectionConfig default_connection_config() { return ConnectionConfig{}; }

Connection::Connection(const ConnectionConfig& config, ConnectionId id, uint64_t now_us)
    : config_(config),
      id_(id),
      next_sequence_(config.first_sequence),
      most_recent_received_(static_cast<uint16_t>(config.first_sequence - 1)),
      loss_cursor_(config.first_sequence),
      fast_loss_cursor_(config.first_sequence),
      sent_(sent_history_min),
      last_sent_us_(now_us),
      last_received_us_(now_us),
      ring_size_(reliable_span_factor * config.reliable_window),
      send_ring_(reliable_span_factor * config.reliable_window),
      oldest_unacked_id_(config.first_message_id),
      first_unsent_id_(config.first_message_id),
      next_send_id_(config.first_message_id),
      receive_ring_(reliable_span_factor * config.reliable_window),
      next_receive_id_(config.first_message_id),
      last_reliable_activity_us_(now_us),
      reassembly_(unreliable_reassembly_max),
      rate_window_start_us_(now_us) {
  // Configuration comes from our own code, not from the peer: a bad one is our bug.
  STRATA_REQUIRE(is_power_of_two(config.reliable_window), config.reliable_window);
  STRATA_REQUIRE(config.reliable_window <= reliable_window_max, config.reliable_window);
  STRATA_REQUIRE(config.reliable_window >= fragment_count_max, config.reliable_window);
}

size_t Connection::reliable_in_flight() const {
  STRATA_ASSERT(unacked_count_ == send_ring_.used(), unacked_count_, send_ring_.used());
  return unacked_count_;
}

SendResult Connection::send(Channel channel, std::span<const uint8_t> data) {
  if (state_ != ConnectionState::connected) return SendResult::not_connected;
  if (data.size() > message_size_max) return SendResult::too_large;
  const size_t pieces = data.size() <= unfragmented_size_max ? 1 : (data.size() + fragment_size - 1) / fragment_size;
  STRATA_ASSERT(pieces <= fragment_count_max, pieces, data.size());
  if (channel == Channel::reliable_ordered) {
    // Two bounds: unacked messages (flow control) and the id span from the oldest unacked one (the
    // rings). The span may exceed the count, so a lost message does not stall new ones at once.
    const size_t span = static_cast<uint16_t>(next_send_id_ - oldest_unacked_id_);
    if (pieces > config_.reliable_window - unacked_count_ || pieces > ring_size_ - span) return SendResult::queue_full;
    for (size_t i = 0; i < pieces; ++i) {
      const size_t begin = i * fragment_size;
      const size_t end = pieces == 1 ? data.size() : std::min(data.size(), begin + fragment_size);
      ReliableSlot& slot = send_ring_.claim(next_send_id_);
      slot.ever_sent = false;
      slot.last_sent_us = 0;
      acquire_buffer(slot.data);
      slot.tag = pieces == 1       ? EntryTag::reliable_message
                 : i + 1 == pieces ? EntryTag::reliable_fragment_last
                                   : EntryTag::reliable_fragment;
      slot.data.assign(data.begin() + static_cast<ptrdiff_t>(begin), data.begin() + static_cast<ptrdiff_t>(end));
      ++next_send_id_;
      ++unacked_count_;
    }
    // Written: the window bounds checked above hold for what was claimed.
    STRATA_ASSERT(unacked_count_ <= config_.reliable_window, unacked_count_, config_.reliable_window);
    STRATA_ASSERT(static_cast<uint16_t>(next_send_id_ - oldest_unacked_id_) <= ring_size_, next_send_id_,
                  oldest_unacked_id_, ring_size_);
    STRATA_ASSERT(unacked_count_ == send_ring_.used(), unacked_count_, send_ring_.used());
  } else {
    if (pieces > unreliable_send_queue_max - unreliable_queue_.size()) return SendResult::queue_full;
    const uint16_t sequence = next_unreliable_sequence_++;
    for (size_t i = 0; i < pieces; ++i) {
      const size_t begin = i * fragment_size;
      const size_t end = pieces == 1 ? data.size() : std::min(data.size(), begin + fragment_size);
      UnreliableItem item;
      item.tag = pieces == 1 ? EntryTag::unreliable_message : EntryTag::unreliable_fragment;
      item.sequence = sequence;
      item.fragment_index = static_cast<uint16_t>(i);
      item.fragment_count = static_cast<uint16_t>(pieces);
      item.data.assign(data.begin() + static_cast<ptrdiff_t>(begin), data.begin() + static_cast<ptrdiff_t>(end));
      unreliable_queue_.push_back(std::move(item));
    }
  }
  ++stats_.messages_sent;
  return SendResult::ok;
}

// --- receiving ---------------------------------------------------------------------------------

bool Connection::receive_packet(const PacketHeader& header, std::span<const uint8_t> payload, uint64_t now_us) {
  if (state_ == ConnectionState::disconnected) {
    stats_.drops.bump(DropReason::wrong_state);
    return false;
  }
  if (payload.size() > packet_payload_max) {
    stats_.drops.bump(DropReason::too_large);
    return false;
  }
  const int age = sequence_difference(most_recent_received_, header.sequence);
  // Exactly half the sequence space away is neither newer nor older (sequence_greater_than says
  // newer, the signed difference says older): refused like a packet older than the history.
  if (age >= static_cast<int>(received_history_size) || age == sequence_half_space ||
      (age >= 0 && received_bit(header.sequence))) {
    stats_.drops.bump(DropReason::replay);
    return false;
  }
  // Validate every entry before acting on any, so a malformed packet changes nothing.
  {
    EntryReader check(payload);
    Entry entry;
    while (check.next(entry)) {
    }
    if (check.error()) {
      stats_.drops.bump(DropReason::bad_header);
      return false;
    }
  }
  record_received(header.sequence, now_us);
  last_received_us_ = now_us;
  ++stats_.packets_received;
  stats_.bytes_received += packet_header_size + payload.size() + mac_size;
  process_acks(header, now_us);
  EntryReader reader(payload);
  Entry entry;
  bool any_entry = false;
  bool ack_now = false;
  while (reader.next(entry) && state_ != ConnectionState::disconnected) {
    any_entry = true;
    // Reliable data waits for its ack to be released (or resent): ack at the next send. An ack of
    // unreliable messages only feeds RTT and loss figures: it may ride on the next packet out.
    ack_now = ack_now || (entry.tag != EntryTag::unreliable_message && entry.tag != EntryTag::unreliable_fragment);
    if (!receive_entry(entry)) break;
  }
  if (ack_now) {
    ack_pending_ = true;
  } else if (any_entry && ack_due_us_ == UINT64_MAX) {
    ack_due_us_ = now_us + config_.ack_delay_max_us;
  }
  return true;
}

void Connection::record_received(uint16_t sequence, uint64_t now_us) {
  const int gap = sequence_difference(sequence, most_recent_received_);
  STRATA_ASSERT(gap != sequence_half_space, sequence, most_recent_received_);  // refused by receive_packet
  if (gap > 0) {
    // Forget history entries that the new most-recent sequence skips over.
    const int clear = std::min(gap, static_cast<int>(received_history_size));
    for (int i = 1; i < clear; ++i) set_received_bit(static_cast<uint16_t>(sequence - i), false);
    // The ack bits shift by the gap; the previous most recent becomes bit gap - 1.
    const auto shift = static_cast<uint32_t>(gap);
    ack_bits_ = shift >= ack_bits_count ? 0 : ack_bits_ << shift;
    if (shift <= ack_bits_count && received_bit(most_recent_received_)) ack_bits_ |= 1u << (shift - 1);
    most_recent_received_ = sequence;
    most_recent_received_us_ = now_us;
  } else {
    const int age = sequence_difference(most_recent_received_, sequence);
    if (age >= 1 && age <= static_cast<int>(ack_bits_count)) ack_bits_ |= 1u << (age - 1);
  }
  set_received_bit(sequence, true);
  STRATA_ASSERT(ack_bits_ == ack_bits_scan(), ack_bits_, ack_bits_scan(), most_recent_received_);
  if (++received_since_ack_ >= ack_bits_count / 2) {
    if (ack_snapshots_.size() == ack_snapshot_queue_max) ack_snapshots_.pop_front();
    ack_snapshots_.push_back(AckSnapshot{most_recent_received_, ack_bits_, most_recent_received_us_});
    received_since_ack_ = 0;
  }
}

bool Connection::received_bit(uint16_t sequence) const {
  const size_t i = received_index(sequence);
  return ((received_[i / 64] >> (i % 64)) & 1u) != 0;
}

void Connection::set_received_bit(uint16_t sequence, bool value) {
  const size_t i = received_index(sequence);
  const uint64_t mask = uint64_t{1} << (i % 64);
  received_[i / 64] = value ? received_[i / 64] | mask : received_[i / 64] & ~mask;
}

uint32_t Connection::ack_bits_scan() const {
  uint32_t bits = 0;
  for (uint32_t i = 0; i < ack_bits_count; ++i) {
    if (received_bit(static_cast<uint16_t>(most_recent_received_ - 1 - i))) bits |= 1u << i;
  }
  return bits;
}

void Connection::process_acks(const PacketHeader& header, uint64_t now_us) {
  // RTT: from the packet `ack` names only (when newly acked), less the time the peer held the ack;
  // the others in the ack bits arrived earlier, their wait is unknown (as QUIC's largest acked).
  if (process_ack(header.ack) && header.ack_delay < ack_delay_wire_max) {
    const uint64_t sent_us = sent_entry(header.ack).sent_us;
    const uint64_t raw = now_us >= sent_us ? now_us - sent_us : 0;
    const uint64_t delay = uint64_t{header.ack_delay} * ack_delay_unit_us;
    // A delay longer than the whole round trip is a bogus peer's: no sample.
    if (delay <= raw) add_rtt_sample(static_cast<double>(raw - delay));
  }
  // The ack bits repeat what the peer's earlier packets said: visit only the bits it had not yet
  // said (process_ack of an acked packet does nothing, so this only saves the walk).
  uint32_t fresh = header.ack_bits;
  const int ahead = any_peer_ack_ ? sequence_difference(header.ack, peer_ack_) : -1;
  if (ahead >= 0 && ahead <= static_cast<int>(ack_bits_count)) {
    const uint64_t said =
        ahead == 0 ? peer_ack_bits_ : (uint64_t{peer_ack_bits_} << ahead) | (uint64_t{1} << (ahead - 1));
    fresh &= ~static_cast<uint32_t>(said);
    peer_ack_bits_ = header.ack_bits | static_cast<uint32_t>(said);
    peer_ack_ = header.ack;
  } else if (ahead != -1 && ahead > 0) {  // far ahead: nothing in common
    peer_ack_bits_ = header.ack_bits;
    peer_ack_ = header.ack;
  } else if (!any_peer_ack_) {
    peer_ack_bits_ = header.ack_bits;
    peer_ack_ = header.ack;
    any_peer_ack_ = true;
  }  // an older ack (reordered): every bit visited, nothing remembered
  for (; fresh != 0; fresh &= fresh - 1) {
    const auto i = static_cast<uint32_t>(std::countr_zero(fresh));
    process_ack(static_cast<uint16_t>(header.ack - 1 - i));
  }
  detect_lost_packets(now_us);
  update_loss(now_us);  // judge acked packets at once: the history holds only undecided ones
  while (oldest_unacked_id_ != first_unsent_id_ && send_ring_.find(oldest_unacked_id_) == nullptr) {
    ++oldest_unacked_id_;
  }
}

void Connection::detect_lost_packets(uint64_t now_us) {
  if (!any_acked_ || config_.stream_transport) return;
  if (static_cast<uint16_t>(next_sequence_ - fast_loss_cursor_) > sent_.size()) {
    fast_loss_cursor_ = static_cast<uint16_t>(next_sequence_ - sent_.size());
  }
  while (fast_loss_cursor_ != next_sequence_ &&
         sequence_difference(highest_acked_, fast_loss_cursor_) >= fast_retransmit_threshold) {
    SentPacket& sent = sent_entry(fast_loss_cursor_);
    if (sent.valid && sent.sequence == fast_loss_cursor_ && !sent.acked) {
      // Reordering, not loss, until the packet is older than the learned reorder window.
      if (now_us < sent.sent_us + reorder_window_us_) return;
      sent.declared_lost = true;
      for (uint16_t id : sent.reliable_ids) {
        if (ReliableSlot* slot = send_ring_.find(id)) {
          slot->last_sent_us = 0;  // due now
          resend_scan_due_us_ = 0;
        }
      }
    }
    ++fast_loss_cursor_;
  }
}

bool Connection::process_ack(uint16_t sequence) {
  SentPacket& sent = sent_entry(sequence);
  if (!sent.valid || sent.sequence != sequence || sent.acked) return false;
  sent.acked = true;
  if (sent.declared_lost && have_rtt_) {
    // It was only late: a spurious fast retransmit. Widen the reorder window (as RACK does).
    reorder_window_us_ =
        std::min(reorder_window_us_ + static_cast<uint64_t>(rtt_us_ / 4) + 1000, static_cast<uint64_t>(rtt_us_));
  }
  ++stats_.packets_acked;
  if (!any_acked_ || sequence_greater_than(sequence, highest_acked_)) highest_acked_ = sequence;
  any_acked_ = true;
  for (uint16_t id : sent.reliable_ids) release_reliable(id);
  sent.reliable_ids.clear();
  return true;
}

void Connection::add_rtt_sample(double sample) {
  if (!have_rtt_) {
    rtt_us_ = sample;
    jitter_us_ = sample / 2;
    have_rtt_ = true;
  } else {
    jitter_us_ += (std::fabs(sample - rtt_us_) - jitter_us_) / 4;
    rtt_us_ += (sample - rtt_us_) / 8;
  }
  stats_.rtt_ms = rtt_us_ / 1000.0;
  stats_.jitter_ms = jitter_us_ / 1000.0;
}

void Connection::release_reliable(uint16_t id) {
  // Only a sent id: an old packet's id may alias (16-bit wrap) an unsent message of the same id.
  if (static_cast<uint16_t>(id - oldest_unacked_id_) >= static_cast<uint16_t>(first_unsent_id_ - oldest_unacked_id_))
    return;
  ReliableSlot* slot = send_ring_.find(id);
  if (slot == nullptr) return;  // acked before, by another copy
  release_buffer(slot->data);
  send_ring_.release(*slot);
  STRATA_ASSERT(unacked_count_ > 0, id);
  --unacked_count_;
  STRATA_ASSERT(unacked_count_ == send_ring_.used(), unacked_count_, send_ring_.used(), id);
}

bool Connection::receive_entry(const Entry& entry) {
  switch (entry.tag) {
    case EntryTag::reliable_message:
    case EntryTag::reliable_fragment:
    case EntryTag::reliable_fragment_last: return receive_reliable(entry);
    case EntryTag::unreliable_message:
      if (entry.data.size() > unfragmented_size_max) {
        protocol_error(DropReason::too_large);
        return false;
      }
      if (unreliable_delivered_any_ && !sequence_greater_than(entry.id, unreliable_last_delivered_)) {
        stats_.drops.bump(DropReason::stale_message);
        return true;
      }
      unreliable_delivered_any_ = true;
      unreliable_last_delivered_ = entry.id;
      deliver(Channel::unreliable_sequenced, entry.data);
      return true;
    case EntryTag::unreliable_fragment: return receive_unreliable_fragment(entry);
    case EntryTag::disconnect:
      state_ = ConnectionState::disconnected;
      disconnect_reason_ = entry.reason <= static_cast<uint8_t>(disconnect_reason_last)
                               ? static_cast<DisconnectReason>(entry.reason)
                               : DisconnectReason::requested;
      return false;
  }
  return false;
}

bool Connection::receive_reliable(const Entry& entry) {
  if (entry.data.size() > unfragmented_size_max ||
      (entry.tag != EntryTag::reliable_message && entry.data.size() > fragment_size)) {
    protocol_error(DropReason::too_large);
    return false;
  }
  const int ahead = sequence_difference(entry.id, next_receive_id_);
  if (ahead < 0 || ahead >= static_cast<int>(ring_size_)) {
    stats_.drops.bump(DropReason::stale_message);  // a resend we already have, or beyond our window
    return true;
  }
  if (receive_ring_.find(entry.id) != nullptr) {
    stats_.drops.bump(DropReason::stale_message);
    return true;
  }
  // Held out of order beyond the byte bound: dropped (the sender resends it). The next expected id
  // is always taken, so delivery never stalls on the bound.
  if (ahead > 0 && receive_ring_bytes_ + entry.data.size() > config_.reliable_receive_bytes_max) {
    // Over a stream nothing is resent: a dropped message would leave a gap for ever.
    if (config_.stream_transport) {
      protocol_error(DropReason::receive_buffer_full);
      return false;
    }
    stats_.drops.bump(DropReason::receive_buffer_full);
    return true;
  }
  STRATA_ASSERT(ahead >= 0 && static_cast<size_t>(ahead) < ring_size_, ahead, entry.id, next_receive_id_);
  ReliableSlot& slot = receive_ring_.claim(entry.id);  // within ring_size_ of next_receive_id_
  slot.tag = entry.tag;
  acquire_buffer(slot.data);
  slot.data.assign(entry.data.begin(), entry.data.end());
  receive_ring_bytes_ += slot.data.size();
  deliver_reliable();
  return state_ != ConnectionState::disconnected;
}

void Connection::deliver_reliable() {
  while (delivered_.size() < delivered_queue_max) {
    ReliableSlot* held = receive_ring_.find(next_receive_id_);
    if (held == nullptr) return;
    ReliableSlot& slot = *held;
    STRATA_ASSERT(slot.id == next_receive_id_, slot.id, next_receive_id_);
    STRATA_ASSERT(receive_ring_bytes_ >= slot.data.size(), receive_ring_bytes_, slot.data.size());
    const size_t held_bytes = slot.data.size();  // (moved out below when delivered whole)
    if (slot.tag == EntryTag::reliable_message) {
      if (assembling_) {
        protocol_error(DropReason::fragment_limits);
        return;
      }
      delivered_.push_back(Message{Channel::reliable_ordered, std::move(slot.data)});  // room checked above
      ++stats_.messages_delivered;
    } else {
      if (assembly_.size() + slot.data.size() > message_size_max) {
        protocol_error(DropReason::fragment_limits);
        return;
      }
      assembling_ = true;
      assembly_.insert(assembly_.end(), slot.data.begin(), slot.data.end());
      if (slot.tag == EntryTag::reliable_fragment_last) {
        deliver(Channel::reliable_ordered, assembly_);
        assembly_.clear();
        assembling_ = false;
      }
    }
    release_buffer(slot.data);  // delivered
    receive_ring_bytes_ -= held_bytes;
    receive_ring_.release(slot);
    ++next_receive_id_;
  }
}

bool Connection::receive_unreliable_fragment(const Entry& entry) {
  const uint16_t count = entry.fragment_count;
  const uint16_t index = entry.fragment_index;
  const bool last = index + 1 == count;
  if (count < 2 || count > fragment_count_max || index >= count || entry.data.size() > fragment_size ||
      (!last && entry.data.size() != fragment_size) || entry.data.empty()) {
    protocol_error(DropReason::fragment_limits);
    return false;
  }
  if (unreliable_delivered_any_ && !sequence_greater_than(entry.id, unreliable_last_delivered_)) {
    stats_.drops.bump(DropReason::stale_message);
    return true;
  }
  Reassembly* target = nullptr;
  for (Reassembly& r : reassembly_) {
    if (r.active && r.sequence == entry.id) target = &r;
  }
  if (target == nullptr) {
    // Take a free slot, else evict the oldest sequence.
    for (Reassembly& r : reassembly_) {
      if (!r.active) {
        target = &r;
        break;
      }
      if (target == nullptr || sequence_less_than(r.sequence, target->sequence)) target = &r;
    }
    if (target->active) stats_.drops.bump(DropReason::fragment_limits);
    target->active = true;
    target->sequence = entry.id;
    target->count = count;
    target->received = 0;
    target->last_size = 0;
    target->have.assign(count, false);
    target->data.resize(static_cast<size_t>(count) * fragment_size);
  }
  if (target->count != count) {
    stats_.drops.bump(DropReason::fragment_limits);
    return true;
  }
  if (target->have[index]) {
    stats_.drops.bump(DropReason::stale_message);
    return true;
  }
  target->have[index] = true;
  ++target->received;
  std::memcpy(target->data.data() + static_cast<size_t>(index) * fragment_size, entry.data.data(), entry.data.size());
  if (last) target->last_size = entry.data.size();
  if (target->received == target->count) {
    const size_t size = static_cast<size_t>(count - 1) * fragment_size + target->last_size;
    unreliable_delivered_any_ = true;
    unreliable_last_delivered_ = entry.id;
    deliver(Channel::unreliable_sequenced, std::span<const uint8_t>(target->data.data(), size));
    for (Reassembly& r : reassembly_) {
      if (r.active && !sequence_greater_than(r.sequence, unreliable_last_delivered_)) {
        r.active = false;
        r.data.clear();
        r.data.shrink_to_fit();
      }
    }
  }
  return true;
}

void Connection::acquire_buffer(std::vector<uint8_t>& out) {
  if (out.capacity() == 0 && !spare_buffers_.empty()) {
    out.swap(spare_buffers_.back());
    spare_buffers_.pop_back();
    STRATA_ASSERT(spare_buffer_bytes_ >= out.capacity(), spare_buffer_bytes_, out.capacity());
    spare_buffer_bytes_ -= out.capacity();
  }
}

void Connection::release_buffer(std::vector<uint8_t>& buffer) {
  // Keep a few buffers for the next messages (no malloc per message in steady state); free the
  // rest, so an idle connection holds no message memory after a burst.
  // (A moved-from buffer has no capacity: keeping it would only crowd out real ones.)
  buffer.clear();
  if (spare_buffers_.size() < spare_buffers_max && buffer.capacity() != 0 &&
      buffer.capacity() <= fragment_size + entry_header_size_max &&
      spare_buffer_bytes_ + buffer.capacity() <= spare_buffer_bytes_max) {
    spare_buffer_bytes_ += buffer.capacity();
    spare_buffers_.push_back(std::move(buffer));
  }
  std::vector<uint8_t>().swap(buffer);
}

void Connection::deliver(Channel channel, std::span<const uint8_t> data) {
  if (delivered_.size() >= delivered_queue_max) {
    stats_.drops.bump(DropReason::queue_full);  // the application is not draining; unreliable only
    return;
  }
  std::vector<uint8_t> buffer;
  if (data.size() <= fragment_size + entry_header_size_max) acquire_buffer(buffer);
  buffer.assign(data.begin(), data.end());
  delivered_.push_back(Message{channel, std::move(buffer)});
  ++stats_.messages_delivered;
}

void Connection::protocol_error(DropReason reason) {
  stats_.drops.bump(reason);
  state_ = ConnectionState::disconnected;
  disconnect_reason_ = DisconnectReason::protocol_error;
}

bool Connection::pop_message(Message& out) {
  if (delivered_.empty()) return false;
  Message& front = delivered_.front();
  out.channel = front.channel;
  out.data.swap(front.data);
  release_buffer(front.data);  // the application's previous buffer: reused for the next message
  delivered_.pop_front();
  if (state_ != ConnectionState::disconnected) deliver_reliable();  // room again: release held messages
  return true;
}

// --- sending -----------------------------------------------------------------------------------

uint64_t Connection::resend_delay_us() const {
  if (!have_rtt_) return config_.resend_initial_us;
  const double delay = rtt_us_ + std::max(4 * jitter_us_, rtt_us_ / 4);
  return std::clamp(static_cast<uint64_t>(delay), config_.resend_min_us, config_.resend_max_us);
}

void Connection::pack_reliable(uint64_t now_us, std::span<uint8_t> out, size_t& used, SentPacket& sent) {
  const uint64_t resend_us = resend_delay_us();
  auto try_add = [&](ReliableSlot& slot) {
    Entry entry;
    entry.tag = slot.tag;
    entry.id = slot.id;
    entry.data = slot.data;
    const size_t n = write_entry(entry, out.subspan(used));
    if (n == 0) return false;
    used += n;
    if (slot.ever_sent) ++stats_.reliable_resends;
    slot.ever_sent = true;
    slot.last_sent_us = now_us;
    sent.reliable_ids.push_back(slot.id);
    return true;
  };
  // Resends (not over TCP): scan the sent part of the window only when something may be due.
  if (!config_.stream_transport && now_us >= resend_scan_due_us_) {
    uint64_t next_due = UINT64_MAX;
    for (uint16_t id = oldest_unacked_id_; id != first_unsent_id_; ++id) {
      ReliableSlot* slot = send_ring_.find(id);
      if (slot == nullptr) continue;  // acked
      const uint64_t due = slot->last_sent_us + resend_us;
      if (due <= now_us) {
        if (!try_add(*slot)) {
          next_due = now_us;  // packet full: continue in the next one
          break;
        }
        next_due = std::min(next_due, now_us + resend_us);
      } else {
        next_due = std::min(next_due, due);
      }
    }
    resend_scan_due_us_ = next_due;
  }
  while (first_unsent_id_ != next_send_id_) {
    // Read: unsent ids lie in [oldest_unacked_id_, next_send_id_) and none of them can be acked yet.
    STRATA_ASSERT(static_cast<uint16_t>(first_unsent_id_ - oldest_unacked_id_) <
                      static_cast<uint16_t>(next_send_id_ - oldest_unacked_id_),
                  first_unsent_id_, oldest_unacked_id_, next_send_id_);
    ReliableSlot* slot = send_ring_.find(first_unsent_id_);
    STRATA_ASSERT(slot != nullptr, first_unsent_id_, oldest_unacked_id_, next_send_id_);
    if (!try_add(*slot)) break;
    resend_scan_due_us_ = std::min(resend_scan_due_us_, now_us + resend_us);
    ++first_unsent_id_;
  }
}

void Connection::pack_unreliable(std::span<uint8_t> out, size_t& used) {
  while (!unreliable_queue_.empty()) {
    const UnreliableItem& item = unreliable_queue_.front();
    Entry entry;
    entry.tag = item.tag;
    entry.id = item.sequence;
    entry.fragment_index = item.fragment_index;
    entry.fragment_count = item.fragment_count;
    entry.data = item.data;
    const size_t n = write_entry(entry, out.subspan(used));
    if (n == 0) return;
    used += n;
    unreliable_queue_.pop_front();
  }
}

bool Connection::write_packet(uint64_t now_us, PacketHeader& header, std::vector<uint8_t>& payload) {
  if (state_ == ConnectionState::disconnected) return false;
  if (state_ == ConnectionState::connected && !has_packet_due(now_us)) return false;  // the idle fast path
  payload.resize(packet_payload_max);
  size_t used = 0;
  SentPacket* target = &sent_entry(next_sequence_);
  // The packet this one would overwrite is not yet judged acked or lost (many packets per RTT): keep
  // it, so its ack still releases its reliable messages and counts for RTT and loss.
  if (target->valid && sent_.size() < sent_history_max &&
      static_cast<uint16_t>(next_sequence_ - loss_cursor_) >= sent_.size()) {
    resize_sent_history(2 * sent_.size());
    target = &sent_entry(next_sequence_);
  }
  SentPacket& sent = *target;
  sent.reliable_ids.clear();
  bool ack_snapshot = false;
  header.connection_id = id_;
  header.ack = most_recent_received_;
  header.ack_bits = ack_bits_;
  uint64_t ack_received_us = most_recent_received_us_;
  if (state_ == ConnectionState::disconnecting) {
    Entry entry;
    entry.tag = EntryTag::disconnect;
    entry.reason = static_cast<uint8_t>(disconnect_reason_);
    used = write_entry(entry, payload);
    if (--disconnect_copies_left_ == 0) state_ = ConnectionState::disconnected;
  } else {
    pack_reliable(now_us, payload, used, sent);
    pack_unreliable(payload, used);
    if (!ack_snapshots_.empty()) {
      // Many packets arrived since our last send: this packet carries an older ack view so that no
      // received packet goes unacknowledged.
      header.ack = ack_snapshots_.front().ack;
      header.ack_bits = ack_snapshots_.front().ack_bits;
      ack_received_us = ack_snapshots_.front().ack_received_us;
      ack_snapshots_.pop_front();
      ack_snapshot = true;
    }
    const bool keepalive_due = now_us - last_sent_us_ >= config_.keepalive_interval_us;
    if (used == 0 && !ack_snapshot && !ack_pending_ && !keepalive_due && now_us < ack_due_us_) {
      payload.clear();
      return false;
    }
  }
  const uint64_t held_us = now_us >= ack_received_us ? now_us - ack_received_us : 0;
  header.ack_delay = static_cast<uint16_t>(std::min(held_us / ack_delay_unit_us, ack_delay_wire_max));
  payload.resize(used);
  header.sequence = next_sequence_;
  sent.valid = true;
  sent.acked = false;
  sent.declared_lost = false;
  sent.sequence = next_sequence_;
  sent.sent_us = now_us;
  ++next_sequence_;
  if (!ack_snapshot) {
    ack_pending_ = false;
    ack_due_us_ = UINT64_MAX;
    received_since_ack_ = 0;
  }
  last_sent_us_ = now_us;
  ++stats_.packets_sent;
  stats_.bytes_sent += packet_header_size + used + mac_size;
  return true;
}

bool Connection::has_packet_due(uint64_t now_us) const {
  if (ack_pending_ || now_us >= ack_due_us_ || !ack_snapshots_.empty() || !unreliable_queue_.empty() ||
      first_unsent_id_ != next_send_id_)
    return true;
  if (now_us - last_sent_us_ >= config_.keepalive_interval_us) return true;
  return !config_.stream_transport && unacked_count_ > 0 && now_us >= resend_scan_due_us_;
}

void Connection::disconnect(DisconnectReason reason, uint64_t now_us) {
  (void)now_us;
  if (state_ != ConnectionState::connected) return;
  state_ = ConnectionState::disconnecting;
  disconnect_reason_ = reason;
  disconnect_copies_left_ = disconnect_packet_copies;
}

void Connection::abort(DisconnectReason reason) {
  if (state_ == ConnectionState::disconnected) return;
  state_ = ConnectionState::disconnected;
  disconnect_reason_ = reason;
  disconnect_copies_left_ = 0;
}

// --- time --------------------------------------------------------------------------------------

void Connection::update(uint64_t now_us) {
  if (state_ == ConnectionState::connected && now_us - last_received_us_ >= config_.timeout_us &&
      now_us > last_received_us_) {
    state_ = ConnectionState::disconnected;
    disconnect_reason_ = DisconnectReason::timeout;
  }
  update_loss(now_us);
  update_rates(now_us);
  if (sent_.size() > sent_history_min && static_cast<uint16_t>(next_sequence_ - loss_cursor_) < sent_.size() / 4) {
    resize_sent_history(sent_.size() / 2);  // few packets in flight again
  }
  trim_rings(now_us);
}

void Connection::resize_sent_history(size_t capacity) {
  STRATA_ASSERT(is_power_of_two(capacity), capacity);
  STRATA_ASSERT(capacity >= sent_history_min && capacity <= sent_history_max, capacity);
  std::vector<SentPacket> resized(capacity);
  const size_t keep = std::min(sent_.size(), capacity);
  for (size_t i = 1; i <= keep; ++i) {
    const auto sequence = static_cast<uint16_t>(next_sequence_ - i);
    SentPacket& old = sent_entry(sequence);
    if (old.valid && old.sequence == sequence) resized[sequence & (capacity - 1)] = std::move(old);
  }
  sent_.swap(resized);
  // The cursors never point before the history.
  if (static_cast<uint16_t>(next_sequence_ - loss_cursor_) > capacity) {
    loss_cursor_ = static_cast<uint16_t>(next_sequence_ - capacity);
  }
  if (static_cast<uint16_t>(next_sequence_ - fast_loss_cursor_) > capacity) {
    fast_loss_cursor_ = static_cast<uint16_t>(next_sequence_ - capacity);
  }
}

void Connection::trim_rings(uint64_t now_us) {
  if (send_ring_.used() != 0 || receive_ring_.used() != 0 || assembling_) {
    last_reliable_activity_us_ = now_us;
    return;
  }
  if (now_us - last_reliable_activity_us_ < reliable_idle_trim_us || now_us < last_reliable_activity_us_) return;
  if (send_ring_.trimmed() && receive_ring_.trimmed()) return;
  send_ring_.trim();
  receive_ring_.trim();
  std::vector<std::vector<uint8_t>>().swap(spare_buffers_);  // the burst's buffers too
  spare_buffer_bytes_ = 0;
  if (assembly_.capacity() != 0) std::vector<uint8_t>().swap(assembly_);
}

uint64_t Connection::loss_wait_us() const {
  // The peer may hold an ack of unreliable traffic for ack_delay_max_us.
  return (have_rtt_ ? static_cast<uint64_t>(2 * rtt_us_ + 4 * jitter_us_) + 50'000 : 1'000'000) +
         config_.ack_delay_max_us;
}

uint64_t Connection::next_deadline_us(uint64_t now_us) const {
  if (state_ != ConnectionState::connected || has_packet_due(now_us)) return now_us;
  uint64_t deadline =
      std::min({last_sent_us_ + config_.keepalive_interval_us, last_received_us_ + config_.timeout_us, ack_due_us_});
  if (!config_.stream_transport && unacked_count_ > 0) deadline = std::min(deadline, resend_scan_due_us_);
  if (loss_cursor_ != next_sequence_) {
    const SentPacket& oldest = sent_entry(loss_cursor_);
    const bool known = oldest.valid && oldest.sequence == loss_cursor_;
    deadline = std::min(deadline, known ? oldest.sent_us + loss_wait_us() : now_us);
  }
  deadline = std::min(deadline, rate_window_start_us_ + 1'000'000);
  if (!send_ring_.trimmed() || !receive_ring_.trimmed()) {
    deadline = std::min(deadline, last_reliable_activity_us_ + reliable_idle_trim_us);
  }
  return std::max(deadline, now_us);
}

size_t Connection::memory_bytes() const {
  size_t bytes = sent_.capacity() * sizeof(SentPacket);
  for (const SentPacket& sent : sent_) bytes += sent.reliable_ids.capacity() * sizeof(uint16_t);
  bytes +=
      (send_ring_.chunks_allocated() + receive_ring_.chunks_allocated()) * reliable_chunk_slots * sizeof(ReliableSlot);
  bytes += assembly_.capacity();
  bytes += receive_ring_bytes_;  // messages held in the receive ring (by size)
  bytes += spare_buffers_.capacity() * sizeof(std::vector<uint8_t>) + spare_buffer_bytes_;
  for (const Reassembly& r : reassembly_) bytes += sizeof(Reassembly) + r.data.capacity() + r.have.capacity() / 8;
  return bytes;
}

void Connection::update_loss(uint64_t now_us) {
  // A packet not acked after several RTTs counts as lost (bounded by the history).
  const uint64_t wait_us = loss_wait_us();
  if (static_cast<uint16_t>(next_sequence_ - loss_cursor_) > sent_.size()) {
    loss_cursor_ = static_cast<uint16_t>(next_sequence_ - sent_.size());
  }
  while (loss_cursor_ != next_sequence_) {
    const SentPacket& sent = sent_entry(loss_cursor_);
    if (sent.valid && sent.sequence == loss_cursor_) {
      if (!sent.acked && now_us < sent.sent_us + wait_us) break;
      const double lost = sent.acked ? 0.0 : 1.0;
      if (!sent.acked) ++stats_.packets_lost;
      stats_.packet_loss += (lost - stats_.packet_loss) * 0.05;
    }
    ++loss_cursor_;
  }
}

void Connection::update_rates(uint64_t now_us) {
  const uint64_t elapsed_us = now_us - rate_window_start_us_;
  if (now_us < rate_window_start_us_ || elapsed_us < 1'000'000) return;
  const double seconds = static_cast<double>(elapsed_us) / 1e6;
  stats_.sent_bytes_per_second = static_cast<double>(stats_.bytes_sent - rate_bytes_sent_) / seconds;
  stats_.received_bytes_per_second = static_cast<double>(stats_.bytes_received - rate_bytes_received_) / seconds;
  stats_.sent_packets_per_second = static_cast<double>(stats_.packets_sent - rate_packets_sent_) / seconds;
  stats_.received_packets_per_second = static_cast<double>(stats_.packets_received - rate_packets_received_) / seconds;
  rate_bytes_sent_ = stats_.bytes_sent;
  rate_bytes_received_ = stats_.bytes_received;
  rate_packets_sent_ = stats_.packets_sent;
  rate_packets_received_ = stats_.packets_received;
  rate_window_start_us_ = now_us;
}

}  // namespace strata::net
