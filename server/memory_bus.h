// server/memory_bus.h — the in-memory twin of JetStream behind the Bus port, for tests and
// strata-vopr: one MemoryStream (the server's stream) shared by a MemoryBus per region (a client
// connection). No threads, clocks or OS randomness: time is the `now` of each call, and every fault
// is decided by the caller (disconnect, reconnect, lose_next_acks, ...) or drawn from a seed.
//
// What it models, from the JetStream documentation and nats.c 3.4.1's behaviour:
//  - one stream order: every stored message gets the next stream sequence (1, 2, 3, ...);
//  - dedup by message id: a publish whose id was stored less than dedup_window_us ago is not
//    stored again and is acked as a duplicate of the stored sequence; after the window it is a
//    new message with a new sequence;
//  - async publish: a message is stored when it reaches the server and its ack travels back (one
//    way latency_us). An ack can be lost (a fault, or a disconnect while it travels): the publish
//    then times out after ack_wait_us (jsPubOptions.MaxWait) and the bus resends it with the same
//    id — dedup acks the copy as a duplicate — until publish_attempts sends, then reports failed.
//    While disconnected, publishes wait in a reconnect buffer of reconnect_buffer_bytes and go out,
//    in order, on reconnect (their MaxWait keeps running, as in nats.c);
//  - ordered push consumers: the server pushes a subscription's matching messages in stream order
//    while fewer than consumer_window are unread (flow control: nothing is dropped, delivery
//    pauses). A delivery lost on the wire (a fault, or a disconnect) is a gap: the ordered consumer
//    notices it and restarts after the last sequence it received, so the caller sees each message
//    once, in order, and messages published while it was disconnected arrive after the reconnect.
//    A new subscription after a crash redelivers whatever comes after the sequence it is given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "server/bus.h"

namespace strata::server {

struct MemoryStreamConfig {
  uint64_t dedup_window_us = 120'000'000;  // JetStream's default Duplicates: 2 minutes
};

// The server side: the stream, its sequence and its dedup window. One per simulated cluster.
class MemoryStream {
 public:
  struct Message {
    uint64_t seq = 0;
    BusSubject subject;
    BusMessageId id;
    std::vector<uint8_t> payload;
    uint64_t stored_us = 0;
  };
  struct StoreResult {
    AckKind kind = AckKind::stored;  // stored or duplicate
    uint64_t seq = 0;
  };

  explicit MemoryStream(MemoryStreamConfig config = {}) : config_(config) {}

  [[nodiscard]] StoreResult store(BusSubject subject, BusMessageId id, std::span<const uint8_t> payload,
                                  uint64_t now_us);
  [[nodiscard]] uint64_t last_seq() const { return messages_.size(); }
  // The message at `seq` (1 ..= last_seq()).
  [[nodiscard]] const Message& at(uint64_t seq) const;

 private:
  void expire_ids(uint64_t now_us);

  MemoryStreamConfig config_;
  std::vector<Message> messages_;                          // messages_[seq - 1]
  std::map<BusMessageId, uint64_t> ids_;                   // id -> seq, inside the window
  std::deque<std::pair<uint64_t, BusMessageId>> id_ages_;  // (stored_us, id) in store order
};

struct MemoryBusConfig {
  uint64_t ack_wait_us = 5'000'000;  // jsPubOptions.MaxWait
  uint32_t publish_attempts = 5;     // sends before a publish is reported failed
  size_t pending_max = 256;          // jsOptions.PublishAsync.MaxPending
  size_t reconnect_buffer_bytes = 8 * 1024 * 1024;
  uint64_t latency_us = 0;        // one way, between this client and the server
  size_t consumer_window = 1024;  // pushed and not yet polled, per subscription
};

// Faults drawn from `seed`, per thousand events of each kind.
struct MemoryBusFaults {
  uint64_t seed = 0;
  uint32_t ack_loss_per_mille = 0;       // the message is stored, its ack never arrives
  uint32_t publish_loss_per_mille = 0;   // the message never reaches the server
  uint32_t delivery_loss_per_mille = 0;  // a pushed message is lost on the wire (a gap)
};

class MemoryBus final : public Bus {
 public:
  MemoryBus(MemoryStream& stream, MemoryBusConfig config, MemoryBusFaults faults = {});

  [[nodiscard]] PublishVerdict publish(BusSubject subject, BusMessageId id, std::span<const uint8_t> payload,
                                       uint64_t now_us) override;
  [[nodiscard]] std::optional<SubscriptionId> subscribe(BusFilter filter, uint64_t after_seq, uint64_t now_us) override;
  void unsubscribe(SubscriptionId subscription) override;
  void poll(uint64_t now_us, size_t deliveries_max, BusPoll& out) override;
  [[nodiscard]] std::optional<StoredMark> last_stored(BusSubject subject) override;
  [[nodiscard]] BusState state() const override { return state_; }
  [[nodiscard]] size_t pending() const override { return pending_.size(); }
  [[nodiscard]] BusCounters counters() const override { return counters_; }

  // Faults the caller decides. A disconnect loses every ack and delivery on the wire; the
  // reconnect sends the reconnect buffer and restarts each ordered consumer after the last
  // sequence it received.
  void disconnect();
  void reconnect(uint64_t now_us);
  void lose_next_acks(size_t count) { acks_to_lose_ += count; }
  void lose_next_publishes(size_t count) { publishes_to_lose_ += count; }
  void close();

 private:
  struct Pending {
    BusSubject subject;
    std::vector<uint8_t> payload;
    uint32_t attempts = 0;
    uint64_t deadline_us = 0;
  };
  struct Buffered {  // a send made while disconnected, in nats.c's reconnect buffer
    BusSubject subject;
    BusMessageId id;
    std::vector<uint8_t> payload;
    uint32_t attempt = 0;
  };
  struct AckOnWire {
    BusMessageId id;
    uint32_t attempt = 0;
    MemoryStream::StoreResult result;
    uint64_t arrive_us = 0;
  };
  struct Subscription {
    BusFilter filter;
    uint64_t scanned_seq = 0;                        // the consumer's position in the stream
    uint64_t last_received_seq = 0;                  // what the ordered consumer restarts after
    std::deque<std::pair<uint64_t, uint64_t>> wire;  // (arrive_us, seq) pushed, not yet received
    std::deque<uint64_t> received;                   // received, not yet polled
  };

  void send(BusMessageId id, const Pending& pending, uint64_t now_us);
  void reach_server(BusSubject subject, BusMessageId id, std::span<const uint8_t> payload, uint32_t attempt,
                    uint64_t now_us);
  void receive_acks(uint64_t now_us, BusPoll& out);
  void expire_pending(uint64_t now_us, BusPoll& out);
  void push_and_receive(Subscription& subscription, uint64_t now_us);
  void restart_consumer(Subscription& subscription);
  [[nodiscard]] bool draw(uint32_t per_mille);

  MemoryStream& stream_;
  MemoryBusConfig config_;
  MemoryBusFaults faults_;
  uint64_t rng_state_;
  BusState state_ = BusState::connected;
  BusCounters counters_;
  std::map<BusMessageId, Pending> pending_;
  std::deque<Buffered> reconnect_buffer_;
  size_t reconnect_buffer_bytes_ = 0;
  std::deque<AckOnWire> acks_on_wire_;
  std::map<SubscriptionId, Subscription> subscriptions_;
  uint32_t next_subscription_ = 1;
  size_t acks_to_lose_ = 0;
  size_t publishes_to_lose_ = 0;
};

}  // namespace strata::server
