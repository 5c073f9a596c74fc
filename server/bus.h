// server/bus.h — the Bus port: the region event bus as the node uses it (DESIGN.md, "Regions").
// Implementations: MemoryBus (server/memory_bus.h, the in-memory twin that models JetStream for
// tests and strata-vopr) and NatsBus (server/nats_bus.h, JetStream over nats.c).
//
// The model is one stream (GLOBAL_EVENTS) holding every region's events in one order, each with a
// stream sequence that only grows. A region publishes on its own subjects
//   events.<region>.world      block batches, one per tick — never dropped
//   events.<region>.presence   sampled player positions — may be thinned
//   events.<region>.health     (applied-sequence vector, map hash) every few seconds
// with the message id "<region>:<tick>" (world; its parts after the first add ":<part>", presence
// and health add ":<channel>", see BusMessageId), and the stream drops a publish whose id it saw within
// its dedup window (the publish is acknowledged as a duplicate of the stored one). A region reads
// each other origin through an ordered consumer that starts after the stream sequence its own log
// recorded for that origin, and gets that origin's messages in stream order, each once.
//
// Poll, not callbacks: publish() and subscribe() return at once, and everything that happens
// afterwards (publish acks, deliveries, connection changes) waits inside the bus until the caller
// drains it with poll(), at a point of its choosing, on its own thread. Nothing here reads a clock:
// the caller passes `now` (monotonic microseconds, server/clock.h).
//
// Publish outcome, once per accepted publish: `stored` at a sequence, `duplicate` of a message
// already stored at a sequence (a resend after a lost ack, or the caller published the id again),
// or `failed` after publish_attempts sends without an ack (the message may still be stored: a
// later publish with the same id inside the dedup window is then acked as its duplicate).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/types.h"

namespace strata::server {

enum class BusChannel : uint8_t { world, presence, health, count };

struct BusSubject {
  sim::RegionId origin{};
  BusChannel channel = BusChannel::world;
  friend bool operator==(const BusSubject&, const BusSubject&) = default;
};

// One region's message of one tick on one channel, unique for the life of the stream. Its text
// is "<region>:<tick>" for a world batch (part 0; a batch of several ticks names its last), "<region>:<tick>:<part>"
// for part > 0 of a tick's world batch split in parts (schema/bus_codec.h), "<region>:<tick>:presence" and
// "<region>:<tick>:health" for the others: JetStream dedups by id across the whole stream, not
// per subject, so a tick's presence sample must not carry its world batch's id.
struct BusMessageId {
  sim::RegionId origin{};
  uint64_t tick = 0;
  BusChannel channel = BusChannel::world;
  uint32_t part = 0;  // world only (0 on the other channels)
  friend bool operator==(const BusMessageId&, const BusMessageId&) = default;
  friend auto operator<=>(const BusMessageId&, const BusMessageId&) = default;
};

// The last message stored on a subject: its stream sequence (0: the subject has none) and, when
// its Nats-Msg-Id header parses, its id.
struct StoredMark {
  uint64_t seq = 0;
  std::optional<BusMessageId> id;
  friend bool operator==(const StoredMark&, const StoredMark&) = default;
};

// What a subscription reads: one origin's subjects, all channels or one.
struct BusFilter {
  sim::RegionId origin{};
  std::optional<BusChannel> channel;
};

// The text forms on the wire. The parsers take untrusted text (the stream can hold anything a
// client with publish rights wrote) and return nothing for anything but the exact form.
[[nodiscard]] std::string_view channel_name(BusChannel channel);
[[nodiscard]] std::string subject_text(BusSubject subject);
[[nodiscard]] std::string filter_text(BusFilter filter);
[[nodiscard]] std::string message_id_text(BusMessageId id);
[[nodiscard]] std::optional<BusSubject> parse_subject(std::string_view text);
[[nodiscard]] std::optional<BusMessageId> parse_message_id(std::string_view text);
[[nodiscard]] bool filter_matches(BusFilter filter, BusSubject subject);

// A message read from the stream, judged before it becomes a Delivery: its subject (after the
// deployment's namespace prefix) must be one the subscription asked for, its Nats-Msg-Id header
// present and well formed and of the subject's region (a region cannot speak for another), its
// payload within the limit. Untrusted: any value of any argument gives a verdict.
enum class DeliveryVerdict : uint8_t { accepted, bad_subject, bad_message_id, forged, too_large };
struct DeliveryCheck {
  DeliveryVerdict verdict = DeliveryVerdict::bad_subject;
  BusSubject subject;
  BusMessageId id;
};
[[nodiscard]] DeliveryCheck check_delivery(std::string_view prefix, BusFilter filter, std::string_view subject,
                                           std::optional<std::string_view> message_id, size_t payload_bytes);

enum class AckKind : uint8_t { stored, duplicate, failed };

struct PublishAck {
  BusMessageId id;
  AckKind kind = AckKind::failed;
  uint64_t stream_seq = 0;  // where the message (or the one it duplicates) is stored; 0 if failed
  uint32_t attempts = 0;    // sends it took, resends included
  friend bool operator==(const PublishAck&, const PublishAck&) = default;
};

enum class PublishVerdict : uint8_t {
  accepted,      // its ack will come through poll()
  pending_full,  // pending_max publishes are waiting for their acks: try again after a poll
  id_pending,    // a publish with this id is still waiting for its ack (the bus resends it itself)
  too_large,     // above bus_limits::payload_bytes_max: chunk it
  buffer_full,   // disconnected and the reconnect buffer is full
  closed,        // the bus is shut down
};

enum class SubscriptionId : uint32_t {};
[[nodiscard]] constexpr uint32_t raw(SubscriptionId id) { return static_cast<uint32_t>(id); }

struct Delivery {
  SubscriptionId subscription{};
  uint64_t stream_seq = 0;
  BusSubject subject;
  BusMessageId id;
  std::vector<uint8_t> payload;
  friend bool operator==(const Delivery&, const Delivery&) = default;
};

// connecting: before the first connection; connected; reconnecting: lost, publishes are buffered
// and deliveries resume where they stopped once back; closed: shut down, or gave up.
enum class BusState : uint8_t { connecting, connected, reconnecting, closed };
[[nodiscard]] const char* name(BusState state);

// What one poll() hands over. The caller keeps one and clears it between polls (capacity stays).
struct BusPoll {
  std::vector<PublishAck> acks;
  std::vector<Delivery> deliveries;
  void clear() {
    acks.clear();
    deliveries.clear();
  }
};

// Every counter of a bus, defined once: X(name, help).
#define STRATA_BUS_COUNTERS(X)                                                                        \
  X(publishes, "publishes accepted")                                                                  \
  X(publish_refused_pending_full, "publishes refused: pending_max acks outstanding")                  \
  X(publish_refused_id_pending, "publishes refused: the same id is still pending")                    \
  X(publish_refused_too_large, "publishes refused: payload above the limit")                          \
  X(publish_refused_buffer_full, "publishes refused: reconnect buffer full")                          \
  X(publish_refused_closed, "publishes refused: bus closed")                                          \
  X(resends, "messages sent again after a lost or failed ack")                                        \
  X(acks_stored, "publishes acknowledged as stored")                                                  \
  X(acks_duplicate, "publishes acknowledged as a duplicate of a stored message")                      \
  X(acks_failed, "publishes given up after their last attempt")                                       \
  X(acks_unmatched, "acks for no pending publish (arrived after it was given up)")                    \
  X(deliveries, "messages delivered to the caller")                                                   \
  X(deliveries_refused_subject, "messages dropped: subject not events.<region>.<channel>")            \
  X(deliveries_refused_message_id, "messages dropped: missing or malformed message id")               \
  X(deliveries_refused_forged, "messages dropped: message id region or channel differs from subject") \
  X(deliveries_refused_too_large, "messages dropped: payload above the limit")                        \
  X(deliveries_duplicate, "messages dropped: stream sequence not after the last delivered")           \
  X(consumer_resets, "ordered consumers restarted after a gap, a missed heartbeat or a reconnect")    \
  X(disconnects, "connections lost")                                                                  \
  X(reconnects, "connections regained")                                                               \
  X(connection_errors, "errors the client library reported")                                          \
  X(events_dropped, "connection events dropped: their queue was full")

struct BusCounters {
#define STRATA_BUS_COUNTER_FIELD(name, help) uint64_t name = 0;
  STRATA_BUS_COUNTERS(STRATA_BUS_COUNTER_FIELD)
#undef STRATA_BUS_COUNTER_FIELD
  friend bool operator==(const BusCounters&, const BusCounters&) = default;
};

class Bus {
 public:
  virtual ~Bus() = default;

  // Sends `payload` on `subject` with message id `id`; the outcome arrives through poll().
  [[nodiscard]] virtual PublishVerdict publish(BusSubject subject, BusMessageId id, std::span<const uint8_t> payload,
                                               uint64_t now_us) = 0;
  // An ordered consumer of `filter` delivering the messages after stream sequence `after_seq`
  // (0: from the start), in stream order. Nothing when subscriptions_max are open or the bus is
  // closed.
  [[nodiscard]] virtual std::optional<SubscriptionId> subscribe(BusFilter filter, uint64_t after_seq,
                                                                uint64_t now_us) = 0;
  virtual void unsubscribe(SubscriptionId subscription) = 0;
  // Appends to `out` the acks that arrived and up to `deliveries_max` deliveries (never more than
  // bus_limits::deliveries_per_poll_max), resending what timed out. Messages left over wait for
  // the next poll: none is dropped for want of room.
  virtual void poll(uint64_t now_us, size_t deliveries_max, BusPoll& out) = 0;

  // The last message stored on `subject` (seq 0: none), asked of the server: a request that may
  // wait (start-up and recovery, never the tick thread). Nothing when it cannot be asked now. A
  // restarted region reads its own world subject's: its health vector names its own last stored
  // batch, and it publishes again (from its log) every tick after that batch's.
  [[nodiscard]] virtual std::optional<StoredMark> last_stored(BusSubject subject) = 0;

  [[nodiscard]] virtual BusState state() const = 0;
  // Publishes accepted and not yet reported through poll().
  [[nodiscard]] virtual size_t pending() const = 0;
  [[nodiscard]] virtual BusCounters counters() const = 0;
};

}  // namespace strata::server
