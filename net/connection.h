// net/connection.h: the per-connection protocol state machine, transport- and crypto-agnostic.
// Bytes and `now` in, messages and packets out; no sockets, no clock, no allocation without a limit.
//
// Owns: packet sequencing and acks (16-bit sequence, ack, 32 ack bits), the reliable-ordered channel
// (window of message ids, resend on timer, in-order delivery, fragments for large messages), the
// unreliable-sequenced channel (never delivers older after newer; bounded fragment reassembly),
// message packing into packets of at most packet_payload_max bytes, keepalive, timeout, disconnect,
// and the connection's statistics. Authentication happens around it (see server.h / client.h).
//
// Usage: send() queues; receive_packet() feeds a packet that already passed authentication;
// write_packet() is called until it returns false to drain what should go out now; update() runs
// timeouts and statistics; pop_message() hands over delivered messages.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "net/counters.h"
#include "net/limits.h"
#include "net/packet.h"
#include "net/reliable_ring.h"

namespace strata::net {

enum class Channel : uint8_t { reliable_ordered = 0, unreliable_sequenced = 1 };

enum class DisconnectReason : uint8_t {
  none = 0,
  requested = 1,        // the application closed the connection
  timeout = 2,          // nothing valid received for timeout_us
  protocol_error = 3,   // the authenticated peer broke the protocol (bad entry, bad fragments)
  server_full = 4,      // denied during the handshake
  shutdown = 5,         // the server is stopping
  kicked = 6,           // the server removed the client
  transport_error = 7,  // the TCP stream failed or a frame was malformed
  replaced = 8,         // the same client connected again (a newer login): the older connection ends
  token_reused = 9,     // denied: the connect token was used already
  refused = 10,         // denied: the server cannot take the connection now (token table full, id clash)
  rate_limited = 11,    // a stream client went over its packet or byte budget (a stream cannot drop)
};
inline constexpr DisconnectReason disconnect_reason_last = DisconnectReason::rate_limited;

enum class ConnectionState : uint8_t { connected, disconnecting, disconnected };

struct ConnectionConfig {
  // Send an empty packet (carrying acks) when nothing else was sent for this long. 250 ms: an
  // idle connection costs 8 datagrams a second (ENet pings every 500 ms); active connections
  // carry their acks on data and never need it. Measured: 2.2 % of a core per 1,000 idle
  // connections (4.4 % at 100 ms), unchanged throughput at 5 % loss and 100 ms RTT.
  uint64_t keepalive_interval_us = 250'000;
  // How long an ack of packets that carried only unreliable messages may wait for a packet going
  // out anyway (reliable messages and disconnects are acked at the next send). The ack carries
  // how long it waited (PacketHeader::ack_delay), so RTT samples stay exact. 100 ms covers a
  // 10 Hz snapshot stream: a client acking each snapshot no longer draws an ack-only packet from
  // the server (that was 23 of the 43 packets/s a 20 Hz client received), nor the other way round.
  uint64_t ack_delay_max_us = 100'000;
  // Disconnect with DisconnectReason::timeout when no valid packet arrived for this long.
  uint64_t timeout_us = 10'000'000;
  // Reliable resend delay before the first RTT sample.
  uint64_t resend_initial_us = 100'000;
  // Bounds of the RTT-based resend delay (smoothed RTT + 4 x jitter).
  uint64_t resend_min_us = 10'000;
  uint64_t resend_max_us = 1'000'000;
  // Reliable messages (or fragments) sent and not yet acked, at most; a power of two, at most
  // reliable_window_max. The id span in flight may reach reliable_span_factor times this, so a lost
  // message does not stop new ones; the rings (both directions) may hold that many slots, allocated
  // in chunks as they are used (reliable_ring.h), so a large window costs memory only when used.
  size_t reliable_window = reliable_window_default;
  // Bytes of reliable messages held received out of order, at most (see limits.h).
  size_t reliable_receive_bytes_max = reliable_receive_bytes_default;
  // True over TCP: the stream never loses, so reliable messages are sent once and never resent.
  bool stream_transport = false;
  // First packet sequence and first reliable message id; both ends must agree (tests start them
  // near 65535 to exercise wrap-around).
  uint16_t first_sequence = 0;
  uint16_t first_message_id = 0;
};

[[nodiscard]] ConnectionConfig default_connection_config();

struct Message {
  Channel channel = Channel::reliable_ordered;
  std::vector<uint8_t> data;
};

enum class SendResult : uint8_t { ok, too_large, queue_full, not_connected };

struct ConnectionStats {
  double rtt_ms = 0;       // smoothed round-trip time
  double jitter_ms = 0;    // smoothed deviation of the RTT samples
  double packet_loss = 0;  // smoothed fraction of our packets never acked (0..1)
  double sent_bytes_per_second = 0;
  double received_bytes_per_second = 0;
  double sent_packets_per_second = 0;
  double received_packets_per_second = 0;
  uint64_t packets_sent = 0;
  uint64_t packets_received = 0;
  uint64_t packets_acked = 0;
  uint64_t packets_lost = 0;
  uint64_t bytes_sent = 0;  // header + payload + MAC
  uint64_t bytes_received = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_delivered = 0;
  uint64_t reliable_resends = 0;
  DropCounters drops;
};

class Connection {
 public:
  Connection(const ConnectionConfig& config, ConnectionId id, uint64_t now_us);

  [[nodiscard]] SendResult send(Channel channel, std::span<const uint8_t> data);
  // Feeds an authenticated packet. Returns false (and counts) when it was dropped.
  bool receive_packet(const PacketHeader& header, std::span<const uint8_t> payload, uint64_t now_us);
  // Builds the next packet to send now; false when there is nothing to send.
  bool write_packet(uint64_t now_us, PacketHeader& header, std::vector<uint8_t>& payload);
  void update(uint64_t now_us);
  // Moves the next delivered message into out; out's previous buffer is kept for reuse, so an
  // application that reuses one Message does not allocate per message.
  bool pop_message(Message& out);
  [[nodiscard]] bool has_message() const { return !delivered_.empty(); }
  void disconnect(DisconnectReason reason, uint64_t now_us);
  // Ends the connection at once, sending nothing (its transport is gone).
  void abort(DisconnectReason reason);
  // Makes the next write_packet() emit a packet even if empty (confirms a new connection).
  void request_packet() { ack_pending_ = true; }

  [[nodiscard]] ConnectionState state() const { return state_; }
  [[nodiscard]] DisconnectReason disconnect_reason() const { return disconnect_reason_; }
  [[nodiscard]] ConnectionId id() const { return id_; }
  [[nodiscard]] const ConnectionStats& stats() const { return stats_; }
  [[nodiscard]] ConnectionStats& mutable_stats() { return stats_; }
  [[nodiscard]] size_t reliable_in_flight() const;
  [[nodiscard]] size_t unreliable_queued() const { return unreliable_queue_.size(); }
  [[nodiscard]] uint64_t last_received_us() const { return last_received_us_; }
  // The earliest time at which update() or write_packet() may have something to do without any new
  // input (keepalive, resend, timeout, loss, rates, trimming); now_us when something is due now.
  // Receiving a packet, send() and disconnect() may make it earlier. Lets an endpoint leave idle
  // connections alone until then.
  [[nodiscard]] uint64_t next_deadline_us(uint64_t now_us) const;
  // Heap held by this connection's protocol state, in bytes (approximate: buffers by capacity).
  [[nodiscard]] size_t memory_bytes() const;
  [[nodiscard]] size_t sent_history_capacity() const { return sent_.size(); }
  // Bytes of reliable messages waiting in the receive ring (out of order, or for delivery room).
  [[nodiscard]] size_t reliable_receive_bytes() const { return receive_ring_bytes_; }
  [[nodiscard]] size_t reliable_chunks_allocated() const {
    return send_ring_.chunks_allocated() + receive_ring_.chunks_allocated();
  }

 private:
  struct SentPacket {
    bool valid = false;
    bool acked = false;
    bool declared_lost = false;  // by fast retransmit
    uint16_t sequence = 0;
    uint64_t sent_us = 0;
    std::vector<uint16_t> reliable_ids;
  };
  struct UnreliableItem {
    EntryTag tag = EntryTag::unreliable_message;
    uint16_t sequence = 0;
    uint16_t fragment_index = 0;
    uint16_t fragment_count = 0;
    std::vector<uint8_t> data;
  };
  struct Reassembly {
    bool active = false;
    uint16_t sequence = 0;
    uint16_t count = 0;
    uint16_t received = 0;
    size_t last_size = 0;
    std::vector<bool> have;
    std::vector<uint8_t> data;
  };
  struct AckSnapshot {
    uint16_t ack = 0;
    uint32_t ack_bits = 0;
    uint64_t ack_received_us = 0;  // when `ack` arrived
  };

  void process_acks(const PacketHeader& header, uint64_t now_us);
  // Marks one packet acked; false if it was already (or is unknown).
  bool process_ack(uint16_t sequence);
  void add_rtt_sample(double sample_us);
  void detect_lost_packets(uint64_t now_us);
  void record_received(uint16_t sequence, uint64_t now_us);
  [[nodiscard]] bool received_bit(uint16_t sequence) const;
  void set_received_bit(uint16_t sequence, bool value);
  [[nodiscard]] SentPacket& sent_entry(uint16_t sequence) { return sent_[sequence & (sent_.size() - 1)]; }
  [[nodiscard]] const SentPacket& sent_entry(uint16_t sequence) const { return sent_[sequence & (sent_.size() - 1)]; }
  void resize_sent_history(size_t capacity);
  void release_reliable(uint16_t id);
  void trim_rings(uint64_t now_us);
  // The 32 ack bits recomputed from the received bitmap (checks the running ack_bits_).
  [[nodiscard]] uint32_t ack_bits_scan() const;
  bool receive_entry(const Entry& entry);
  bool receive_reliable(const Entry& entry);
  bool receive_unreliable_fragment(const Entry& entry);
  void deliver_reliable();
  void deliver(Channel channel, std::span<const uint8_t> data);
  void acquire_buffer(std::vector<uint8_t>& out);
  void release_buffer(std::vector<uint8_t>& buffer);
  void protocol_error(DropReason reason);
  [[nodiscard]] uint64_t resend_delay_us() const;
  void pack_reliable(uint64_t now_us, std::span<uint8_t> out, size_t& used, SentPacket& sent);
  void pack_unreliable(std::span<uint8_t> out, size_t& used);
  [[nodiscard]] bool has_packet_due(uint64_t now_us) const;
  void update_loss(uint64_t now_us);
  [[nodiscard]] uint64_t loss_wait_us() const;
  void update_rates(uint64_t now_us);

  ConnectionConfig config_;
  ConnectionId id_;
  ConnectionState state_ = ConnectionState::connected;
  DisconnectReason disconnect_reason_ = DisconnectReason::none;
  size_t disconnect_copies_left_ = 0;

  // Packets.
  uint16_t next_sequence_;
  uint16_t most_recent_received_;
  uint16_t loss_cursor_;
  // Fast retransmit: a packet unacked while one sent fast_retransmit_threshold later is acked is
  // declared lost at once and its reliable messages resent without waiting for the timer.
  uint16_t highest_acked_ = 0;
  bool any_acked_ = false;
  uint16_t fast_loss_cursor_;
  // Learned from spurious fast retransmits: how late a packet may be before it counts as lost.
  uint64_t reorder_window_us_ = 0;
  std::vector<SentPacket> sent_;  // sent_history_min..sent_history_max entries, a power of two
  std::array<uint64_t, received_history_size / 64> received_{};  // bit per sequence % size
  uint32_t ack_bits_ = 0;  // received bits of the 32 sequences before most_recent_received_
  std::deque<AckSnapshot> ack_snapshots_;
  size_t received_since_ack_ = 0;
  uint64_t most_recent_received_us_ = 0;  // when most_recent_received_ arrived
  bool ack_pending_ = false;              // an ack must leave at the next send
  uint64_t ack_due_us_ = UINT64_MAX;      // an ack of unreliable traffic must leave by then
  // What the peer's acks have said so far (bit i: peer_ack_ - 1 - i), to skip repeated ack bits.
  bool any_peer_ack_ = false;
  uint16_t peer_ack_ = 0;
  uint32_t peer_ack_bits_ = 0;
  uint64_t last_sent_us_;
  uint64_t last_received_us_;

  // Reliable-ordered channel.
  size_t ring_size_;
  size_t unacked_count_ = 0;
  ReliableRing send_ring_;
  uint16_t oldest_unacked_id_;
  uint16_t first_unsent_id_;
  uint16_t next_send_id_;
  uint64_t resend_scan_due_us_ = 0;
  ReliableRing receive_ring_;
  size_t receive_ring_bytes_ = 0;  // data bytes held in receive_ring_
  uint16_t next_receive_id_;
  uint64_t last_reliable_activity_us_;
  std::vector<uint8_t> assembly_;
  bool assembling_ = false;

  // Unreliable-sequenced channel.
  std::deque<UnreliableItem> unreliable_queue_;
  uint16_t next_unreliable_sequence_ = 0;
  bool unreliable_delivered_any_ = false;
  uint16_t unreliable_last_delivered_ = 0;
  std::vector<Reassembly> reassembly_;

  std::deque<Message> delivered_;
  std::vector<std::vector<uint8_t>> spare_buffers_;  // at most spare_buffers_max
  size_t spare_buffer_bytes_ = 0;                    // their capacities, <= spare_buffer_bytes_max

  // Statistics.
  ConnectionStats stats_;
  bool have_rtt_ = false;
  double rtt_us_ = 0;
  double jitter_us_ = 0;
  uint64_t rate_window_start_us_;
  uint64_t rate_bytes_sent_ = 0, rate_bytes_received_ = 0, rate_packets_sent_ = 0, rate_packets_received_ = 0;
};

}  // namespace strata::net
