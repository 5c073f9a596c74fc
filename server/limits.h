// server/limits.h — every limit of the server in one place: what each bounds, and why (most are a
// bound on what a client, a host or a slow peer can make the node hold or do), and the relations
// between them, checked at compile time. The netchannel's own limits are in net/limits.h, the
// simulation's and the codec's in sim/limits.h (namespaces net::, sim::limits::); the relations that cross into them
// are here. Configurable limits have their default here, and the range the configuration accepts (server/config.cpp)
// where the range is itself a safety bound.
#pragma once

#include <cstddef>
#include <cstdint>

#include "net/limits.h"
#include "schema/client/messages.h"
#include "sim/limits.h"

namespace strata::server::limits {

// --- Clients and the inbox (server/node.h) ---------------------------------------------------------

// net.max_clients at most: the netchannel's slots, the node's sessions, the snapshot jobs of a
// tick and the inbox below are all sized from it. Beyond it the netchannel answers server_full.
inline constexpr uint32_t max_clients_limit = 16384;
// Client messages waiting for the sim thread per client at the largest max_clients (each client's
// own queue is bounded by the netchannel's delivered_queue_max): when the sim thread stalls, the
// inbox stops growing at max_clients_limit x this and further messages are dropped (inbox_overflow).
inline constexpr size_t inbox_messages_per_client = 16;
inline constexpr size_t inbox_messages_max = size_t{max_clients_limit} * inbox_messages_per_client;

// --- Chat (server/node.h) --------------------------------------------------------------------------

// A client's chat rate (GCRA): one line per chat_interval_ticks on average (1 s at 20 Hz), bursts
// of chat_burst; faster lines are refused (chat_rate_limited). Chat is relayed to every hearer
// around the speaker, so each line costs the node up to a region's players in sends.
inline constexpr uint64_t chat_interval_ticks = 20;
inline constexpr uint64_t chat_burst = 3;
// Lines taken for relaying in one tick at most (the rest of the tick's lines are refused as rate
// limited): a bound on the relay work and memory one tick can be given, whatever the clients do.
inline constexpr size_t chat_lines_per_tick_max = 1024;
// (line, hearer) pairs sent per tick by default (RegionalNode::Options::chat_deliveries_per_tick):
// 1024 lines x 1000 hearers would be a million sends on the sim thread. A line is relayed whole;
// lines left when the budget is spent wait for the next tick (chat_deferred).
inline constexpr size_t chat_deliveries_per_tick_default = 8192;

// --- Checksum reports (server/node.h) --------------------------------------------------------------

// A client's checksum_mismatch reports count once per this many ticks (5 s at 20 Hz): one client
// must not be able to make the mismatch counter, an alarm, say what it likes.
inline constexpr uint64_t mismatch_report_interval_ticks = 100;

// --- Observers (server/node.h) ---------------------------------------------------------------------

// Observers at once by default: each re-simulates the whole region from the input stream and gets
// every tick's inputs; more are disconnected with server_full.
inline constexpr size_t observers_max_default = 4;
// Bytes of tick messages one observer may have queued by default (a world being encoded for it,
// or the netchannel's window full); beyond it the observer is disconnected (kicked), so a reader
// that stops reading costs the node at most this.
inline constexpr size_t observer_backlog_bytes_default = size_t{64} << 20;

// --- Snapshots (server/snapshots.h, server/node.h) ---------------------------------------------------

// Ticks of change history kept for deltas: a client whose newest acknowledged snapshot is older
// gets a full snapshot (the history's memory does not grow with a client that never acks).
inline constexpr size_t frame_history_ticks = 64;
// Encoded snapshots waiting for the network side at most; beyond it the oldest are dropped (a
// newer snapshot of the client follows): the network thread stalling does not grow memory.
inline constexpr size_t snapshot_outbox_max = 65536;
// Spare snapshot buffers kept for reuse, and the largest kept (larger ones, full snapshots, are
// freed): the pool's memory is at most spares x bytes.
inline constexpr size_t snapshot_spares_max = 16384;
inline constexpr size_t snapshot_spare_bytes_max = 4096;
// Snapshot acks waiting per builder thread; more are dropped (counted: acks_dropped). Acks come
// from clients at their packet rate; the builder applies them between jobs.
inline constexpr size_t snapshot_posted_acks_max = 65536;

// --- Input scheduling (server/input_scheduler.h) ---------------------------------------------------

// A tick's commands in parts, so that every tick the scheduler builds decodes (the codec refuses
// more than sim::limits::commands_per_tick_max: too_many_commands) and a flood in one part cannot
// crowd out the others.
// Never more than the sim looks at: it refuses a player's 9th command of a tick (too_many_commands),
// so logging more would only fill the log with commands that cannot act.
inline constexpr uint32_t commands_per_player_per_tick_max = sim::limits::commands_per_player_per_tick_max;
// Joins, leaves, admin: a recovered world makes every player leave in its first tick.
inline constexpr uint32_t system_commands_per_tick_max = sim::limits::players_max;
// Events of other regions (block writes, presence).
inline constexpr uint32_t remote_commands_per_tick_max = 8192;
// The players' part of a tick: what the codec takes less the other two parts.
inline constexpr uint32_t player_commands_per_tick_max =
    sim::limits::commands_per_tick_max - system_commands_per_tick_max - remote_commands_per_tick_max;
// The scale the design targets, where nobody's share is cut.
inline constexpr uint32_t full_share_players = 5000;
// What waits in the scheduler (InputSchedulerConfig's defaults): a client sending ahead or
// flooding fills its own queue and gets queue_full, never the node's memory.
// How far ahead of the current tick a client may schedule an input (1 s at 20 Hz): further is
// too_early, so pending inputs cannot be spread over an unbounded future.
inline constexpr uint32_t lead_ticks_default = 20;
// A player's inputs waiting (early ones and this tick's); inputs.max_pending_per_player at most
// pending_per_player_limit.
inline constexpr uint32_t pending_per_player_default = 64;
inline constexpr uint32_t pending_per_player_limit = 4096;
// Players with inputs waiting.
inline constexpr uint32_t pending_players_default = sim::limits::players_max;
// Joins, leaves and admin commands waiting: room for every player's leave after a recovery, and some.
inline constexpr uint32_t pending_system_default = sim::limits::players_max + 4096;
// Remote events (other regions) waiting for the next tick.
inline constexpr uint32_t pending_remote_default = 65536;

// --- Login (server/login.h) ------------------------------------------------------------------------

// Addresses the login's rate limiter tracks at most; idle (refilled) ones are forgotten first, and
// when every tracked address is active a new one is refused (rate_limited): a spoofed-source flood
// cannot grow the table.
inline constexpr size_t login_addresses_max = 16384;
// The admin token's length at least: shorter secrets are refused at start (guessable).
inline constexpr size_t admin_token_bytes_min = 16;
// Password verifications queued or running for one peer address at most: one host's flood cannot
// fill the verifier queue ahead of everyone else (its extra attempts are answered rate_limited).
inline constexpr uint32_t login_verifications_per_address_max = 2;
// auth.verify_queue_max: default and range. Each verification holds ~64 MiB for ~0.1 s.
inline constexpr uint32_t verify_queue_default = 32;
inline constexpr uint32_t verify_queue_limit = 4096;
inline constexpr uint32_t verify_threads_limit = 16;
// auth.dev_names_max at most: each name is a persistent player id, and ids are bounded.
inline constexpr uint32_t dev_names_limit = (1U << 24) - 1;

// --- HTTP (server/http.h) --------------------------------------------------------------------------

// Defaults of HttpConfig, each a bound on what one client can make a listener hold.
inline constexpr uint32_t http_header_bytes_default = 8 * 1024;         // request line + headers buffered
inline constexpr uint32_t http_body_bytes_default = 8 * 1024;           // a login body is a few hundred bytes
inline constexpr uint32_t http_read_timeout_ms_default = 5000;          // slow-loris: the whole request in this
inline constexpr uint32_t http_write_timeout_ms_default = 5000;         // a client that never reads our reply
inline constexpr uint32_t http_connections_default = 256;               // descriptors and memory per listener
inline constexpr uint32_t http_requests_per_connection_default = 1000;  // no slot held forever
// The most any configuration may ask for (HttpServer::start() refuses more).
inline constexpr uint32_t http_header_bytes_limit = 64 * 1024;
inline constexpr uint32_t http_body_bytes_limit = 16 * 1024 * 1024;
inline constexpr uint32_t http_connections_limit = 65536;

// --- TCP fallback (server/config.cpp, net/transport.h) ----------------------------------------------

// net.tcp_send_queue_bytes: bytes queued for one stream before its frames are dropped (a client
// that stops reading); default and range.
inline constexpr uint32_t tcp_send_queue_bytes_default = 4u << 20;
inline constexpr uint32_t tcp_send_queue_bytes_min = 16384;
inline constexpr uint32_t tcp_send_queue_bytes_limit = 64u << 20;

// --- Configuration and metrics ---------------------------------------------------------------------

// Bytes of the YAML configuration file at most (it is read whole).
inline constexpr size_t config_bytes_max = size_t{1} << 20;
// Buckets of strata_tick_duration_seconds at most: every bucket is a series per scrape.
inline constexpr size_t metrics_tick_buckets_max = 32;
// Ticks of timings the runtime keeps for its percentiles (one minute at 20 Hz).
inline constexpr size_t tick_stats_window = 1200;
// After a stall longer than this many periods the runtime does not run the missed ticks in a burst:
// the next tick is a period from now.
inline constexpr uint64_t tick_catch_up_periods_max = 10;

// --- Relations ---------------------------------------------------------------------------------------

static_assert(max_clients_limit <= net::clients_max, "the netchannel has a slot for every client");
static_assert(inbox_messages_per_client >= 1 && inbox_messages_max >= max_clients_limit,
              "a stalled sim thread still takes a message from every client");
static_assert(snapshot_outbox_max >= 2 * size_t{max_clients_limit},
              "two ticks of snapshots for every client fit the outbox before the oldest are dropped");
static_assert(snapshot_posted_acks_max >= max_clients_limit, "an ack from every client fits before any is dropped");
static_assert(snapshot_spare_bytes_max <= net::message_size_max);

// players_max x commands_per_player_per_tick_max (131,072) exceeds the codec's limit (65,536):
// hence the fair share; these are the relations that do hold.
static_assert(system_commands_per_tick_max + remote_commands_per_tick_max + player_commands_per_tick_max <=
                  sim::limits::commands_per_tick_max,
              "a tick the scheduler builds must decode (schema: too_many_commands)");
static_assert(player_commands_per_tick_max >= sim::limits::players_max,
              "every player can have at least one command in every tick");
static_assert(full_share_players * commands_per_player_per_tick_max <= player_commands_per_tick_max,
              "at the design scale, every player gets all the sim will apply");
static_assert(commands_per_player_per_tick_max >= 1);
static_assert(pending_system_default >= system_commands_per_tick_max,
              "a recovered world's leaves for every player wait, none refused");
static_assert(pending_per_player_default >= commands_per_player_per_tick_max * (lead_ticks_default / 10),
              "a client may send half a second of full ticks ahead");
static_assert(pending_players_default >= max_clients_limit, "every client may have inputs waiting");

static_assert(chat_interval_ticks >= 1 && chat_burst >= 1);
static_assert(chat_lines_per_tick_max >= chat_burst, "one client's burst fits a tick");
static_assert(chat_lines_per_tick_max * view::chat_text_bytes_max <= size_t{1} << 20,
              "the chat one tick holds is bounded (a MiB of text)");
static_assert(chat_deliveries_per_tick_default >= chat_lines_per_tick_max,
              "when every line has a hearer or two, the lines a tick takes are delivered in that tick");
// A tick sends at most the deliveries budget plus one line's hearers (a line is relayed whole).
static_assert(chat_deliveries_per_tick_default + sim::limits::players_max <= 65536,
              "the chat sends of one tick are bounded");

static_assert(observer_backlog_bytes_default >= 4 * net::message_size_max,
              "an observer keeping up is not dropped for one large tick message");
static_assert(mismatch_report_interval_ticks >= 1);

static_assert(login_verifications_per_address_max <= verify_queue_default,
              "one address cannot fill the verifier queue by default");
static_assert(dev_names_limit <= sim::limits::player_id_max, "every dev-mode name gets a player id");

static_assert(http_header_bytes_default <= http_header_bytes_limit);
static_assert(http_body_bytes_default <= http_body_bytes_limit);
static_assert(http_connections_default <= http_connections_limit);

static_assert(tcp_send_queue_bytes_min >= 4 * net::datagram_size_max,
              "a stream's queue holds a few frames before it drops any");
static_assert(tcp_send_queue_bytes_min <= tcp_send_queue_bytes_default &&
              tcp_send_queue_bytes_default <= tcp_send_queue_bytes_limit);
static_assert(tick_catch_up_periods_max >= 1);

}  // namespace strata::server::limits
