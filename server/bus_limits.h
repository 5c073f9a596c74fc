// server/bus_limits.h — every limit of the region event bus (server/bus.h and its implementations),
// each named for what it protects, with their relations static_asserted.
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata::server::bus_limits {

// NATS refuses a message above the server's max_payload (1 MiB by default, headers included). A
// payload is kept below it with room for the headers (Nats-Msg-Id and the reply metadata), so a
// publish the bus accepts is one the server accepts; bigger batches are chunked by the caller.
inline constexpr size_t nats_max_payload_bytes = 1024 * 1024;
inline constexpr size_t payload_bytes_max = 1'000'000;
static_assert(payload_bytes_max + 4096 <= nats_max_payload_bytes);

// Publishes in flight (sent, not yet acknowledged): nats.c's MaxPending defaults to unlimited, so
// an outage would otherwise hold every tick's batch in memory. The bus refuses beyond its own
// pending_max (configured, at most this) before nats.c would stall the caller.
inline constexpr size_t pending_max = 4096;
// How many times one message is sent before its publish is reported failed (MaxWait expired or
// the server refused each time). Every resend carries the same message id: dedup absorbs copies.
inline constexpr uint32_t publish_attempts_max = 64;

// Subscriptions (ordered consumers) one bus holds: one per origin region, a few spare.
inline constexpr size_t subscriptions_max = 256;
// Deliveries handed over by one poll: the caller's per-tick budget cannot exceed this.
inline constexpr size_t deliveries_per_poll_max = 65536;

// Text forms. A message id is "<region>:<tick>[:<channel>|:<part>]": up to 5 digits, ':', up to 20
// digits, ':' and the longer of the longest channel name ("presence") and a part (up to 10 digits).
// A subject is "events.<region>.<channel>".
inline constexpr size_t message_id_text_bytes_max = 5 + 1 + 20 + 1 + 10;
inline constexpr size_t subject_text_bytes_max = 7 + 5 + 1 + 8;

// Connection events (disconnect, reconnect, library errors) waiting for the next poll. Only
// informational events pass through this queue (acks are bounded by pending_max, deliveries stay
// in the subscription until polled), so a full queue drops the event and counts it.
inline constexpr size_t connection_events_max = 1024;

// The in-memory twin: messages its stream holds, and a subscription's window of messages sent
// and not yet polled (JetStream's flow control stops a push consumer the same way).
inline constexpr size_t memory_stream_messages_max = 1'000'000;
inline constexpr size_t memory_consumer_window_max = 4096;
static_assert(memory_consumer_window_max <= deliveries_per_poll_max);

}  // namespace strata::server::bus_limits
