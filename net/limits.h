// net/limits.h: every named limit of the netchannel, in one place, with their relations checked.
// Limits are security features: each one bounds memory or work an untrusted peer can cause.
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata::net {

// --- packets -------------------------------------------------------------------------------------
// Bytes of messages carried by one packet, before header and MAC. 1200 keeps the whole datagram
// (IP + UDP + header + MAC) under the 1280-byte IPv6 minimum MTU, so nothing fragments at IP level.
inline constexpr size_t packet_payload_max = 1200;
// Data packet header on the wire (see packet.h): prefix 1 + connection id 4 + sequence 2 + ack 2 +
// ack bits 4 + ack delay 2.
inline constexpr size_t packet_header_size = 15;
// Unit of the header's ack delay (the time the sender held the ack): 8 us, up to ~524 ms.
inline constexpr uint64_t ack_delay_unit_us = 8;
inline constexpr uint64_t ack_delay_wire_max = 0xffff;
// Poly1305 tag appended to every authenticated packet.
inline constexpr size_t mac_size = 16;
inline constexpr size_t data_packet_size_max = packet_header_size + packet_payload_max + mac_size;
// Largest datagram any endpoint accepts; anything larger is dropped as too_large before decoding.
inline constexpr size_t datagram_size_max = 1280;
static_assert(data_packet_size_max <= datagram_size_max);

// --- messages ------------------------------------------------------------------------------------
// Largest application message (a snapshot); larger sends are refused, larger reassemblies dropped.
inline constexpr size_t message_size_max = size_t{256} * 1024;
// Bytes of a message per fragment; every fragment fits one packet with its entry header.
inline constexpr size_t fragment_size = 1024;
inline constexpr size_t fragment_count_max = message_size_max / fragment_size;
// Entry header of an unreliable fragment (the largest entry header): tag 1 + seq 2 + index 2 +
// count 2 + length 2.
inline constexpr size_t entry_header_size_max = 9;
static_assert(fragment_size + entry_header_size_max <= packet_payload_max);
static_assert(message_size_max % fragment_size == 0);
static_assert(fragment_count_max <= 0xffff);
// A message that fits one packet is sent whole; larger ones are fragmented.
inline constexpr size_t unfragmented_size_max = packet_payload_max - entry_header_size_max;

// Reliable-ordered channel: messages (or fragments) in flight, per direction. Message ids are 16 bit,
// so a window must stay below half the id space for "newer than" to be unambiguous.
// The window only bounds what a connection may hold: the rings grow in chunks with use (see
// reliable_ring.h), so the default can be large enough to fill a lossy 100 ms path (a 4096 window
// of 64-byte messages at 100 ms RTT is ~2.6 MB/s) while an idle connection pays nothing for it.
inline constexpr size_t reliable_window_max = 8192;
inline constexpr size_t reliable_window_default = 4096;
// Id span in flight / unacked bound: room to keep sending while a lost message is recovered.
inline constexpr size_t reliable_span_factor = 2;
static_assert(reliable_span_factor * reliable_window_max < 0x8000);
static_assert(reliable_window_default <= reliable_window_max);
// A whole maximum-size message must fit the window, or it could never be sent.
static_assert(fragment_count_max <= reliable_window_default);
// Bytes of reliable messages a connection holds received out of order (ids after a missing one),
// whatever its window: a peer that skips one id cannot pin window x message size (~9.7 MB) of
// buffers. Beyond it, out-of-order messages are dropped (receive_buffer_full) and the sender
// resends them; the next expected id is always taken. Four maximum messages of room.
inline constexpr size_t reliable_receive_bytes_default = 4 * message_size_max;
static_assert(reliable_receive_bytes_default >= message_size_max + fragment_size);
// Reliable ring slots allocated together (a chunk is ~2.5 kB); chunks are freed once empty.
inline constexpr size_t reliable_chunk_slots = 64;
static_assert((reliable_chunk_slots & (reliable_chunk_slots - 1)) == 0);
// The smallest ring (span of the smallest window) is a whole number of chunks.
static_assert(reliable_span_factor * fragment_count_max % reliable_chunk_slots == 0);
// A ring left empty this long gives back its chunk table.
inline constexpr uint64_t reliable_idle_trim_us = 1'000'000;

// Unreliable-sequenced channel: queued outgoing messages (fragments count one each) and concurrent
// reassemblies of fragmented incoming messages (older ones are evicted).
inline constexpr size_t unreliable_send_queue_max = 4096;
static_assert(fragment_count_max <= unreliable_send_queue_max);
inline constexpr size_t unreliable_reassembly_max = 4;
// Message buffers a connection keeps for reuse (each at most one fragment), bounded in count and in
// bytes: a batch of received packets delivers hundreds of small messages before the application
// takes them, and each taken message gives its buffer back, so small buffers are worth keeping.
inline constexpr size_t spare_buffers_max = 512;
inline constexpr size_t spare_buffer_bytes_max = size_t{32} * 1024;
static_assert(spare_buffer_bytes_max >= 16 * (fragment_size + entry_header_size_max));
// Messages delivered and not yet taken by the application, per connection.
inline constexpr size_t delivered_queue_max = 4096;

// --- acks ----------------------------------------------------------------------------------------
inline constexpr size_t ack_bits_count = 32;
// Received packet sequences remembered, as a bitmap (128 bytes): older packets are dropped as
// replays. Covers the ack bits and every queued ack snapshot.
inline constexpr size_t received_history_size = 1024;
static_assert(received_history_size >= 4 * (ack_bits_count + 1));
static_assert((received_history_size & (received_history_size - 1)) == 0);
static_assert(received_history_size % 64 == 0);
// Sent packets remembered (send time for RTT and loss, reliable ids to release on ack). The history
// starts at sent_history_min entries and doubles while the packet it would overwrite is not yet
// judged acked or lost; it halves back once few packets are in flight. At most one packet per
// reliable message can be in flight (fragments of 1 kB), so the maximum covers the largest window.
inline constexpr size_t sent_history_min = 64;
inline constexpr size_t sent_history_max = 8192;
static_assert(sent_history_min >= ack_bits_count + 1);  // one ack and its bits stay in the history
static_assert(sent_history_max >= reliable_window_max);
static_assert(sent_history_max <= 0x8000);
static_assert((sent_history_min & (sent_history_min - 1)) == 0);
static_assert((sent_history_max & (sent_history_max - 1)) == 0);
// Ack-only snapshots queued when many packets arrive between two of our sends.
inline constexpr size_t ack_snapshot_queue_max = 64;
// One snapshot is queued per ack_bits_count / 2 packets received; the packets they ack must still be
// in the received history.
static_assert(ack_snapshot_queue_max * (ack_bits_count / 2) <= received_history_size);
// Reliable message ids carried by one packet: each entry is at least 5 bytes + 1 payload byte.
inline constexpr size_t reliable_entries_per_packet_max = packet_payload_max / 6;
// A packet is declared lost when one sent this many packets later is acked (as TCP and QUIC do).
inline constexpr uint16_t fast_retransmit_threshold = 3;
static_assert(fast_retransmit_threshold < ack_bits_count);
// Redundant copies of a disconnect.
inline constexpr size_t disconnect_packet_copies = 3;

// --- handshake and security ----------------------------------------------------------------------
inline constexpr size_t key_size = 32;
inline constexpr size_t user_data_size = 256;
inline constexpr size_t server_addresses_max = 8;
// Encrypted part of a connect token, MAC included (fixed size, zero padded).
inline constexpr size_t private_token_size = 1024;
// Whole public connect token given to the client by the HTTP login (fixed size, zero padded).
inline constexpr size_t connect_token_size = 2048;
static_assert(private_token_size < connect_token_size);
// Connection request: prefix 1 + magic 8 + protocol id 8 + expire 8 + nonce 24 + private token.
inline constexpr size_t connection_request_size = 1 + 8 + 8 + 8 + 24 + private_token_size;
static_assert(connection_request_size <= datagram_size_max);
// Challenge token (encrypted with the server's own key, opaque to the client): client id 8 +
// connection id 4 + timeout 4 + token id 16 + token expire 8 + challenge expire 8 + 2 keys + user data
// + MAC.
inline constexpr size_t challenge_token_size = 8 + 4 + 4 + 16 + 8 + 8 + 2 * key_size + user_data_size + mac_size;
// Challenge (server->client) and response (client->server): prefix 1 + challenge sequence 8 +
// connection id 4 + challenge token + outer MAC.
inline constexpr size_t challenge_packet_size = 1 + 8 + 4 + challenge_token_size + mac_size;
// Denied: prefix 1 + sequence 8 + reason 1 + MAC.
inline constexpr size_t denied_packet_size = 1 + 8 + 1 + mac_size;
// No amplification: nothing the server sends before a connection exists is larger than the request.
static_assert(challenge_packet_size <= connection_request_size);
static_assert(denied_packet_size <= connection_request_size);
// Tokens whose single use is remembered (until they expire); when full, new connections are refused.
inline constexpr size_t used_token_table_max = 65536;
inline constexpr size_t clients_max = 65536;
// Connection requests (each costs a token decryption) per peer IP, on top of the global budget:
// junk with the public protocol id from one host cannot use up what every other host may spend.
// A client resends its request every 100 ms until answered; 128 covers a NAT (or bots on one
// loopback address) starting 100 clients at once. The table of IPs is bounded (oldest evicted).
inline constexpr double requests_per_second_per_address_default = 32;
inline constexpr double request_burst_per_address_default = 128;
inline constexpr size_t request_address_table_default = 16384;
// Authenticated packets and bytes a connected client may send, sustained and in a burst (checked
// before decryption). A 20 Hz client sends 20-60 packets (a few kB) a second; the bursts cover
// resends after a stall of several seconds. Worst accepted decode work per client: 150 packets
// of at most data_packet_size_max, 64 KiB a second.
inline constexpr double client_packets_per_second_default = 150;
inline constexpr double client_packet_burst_default = 600;
inline constexpr double client_bytes_per_second_default = 64 * 1024;
inline constexpr double client_byte_burst_default = 256 * 1024;
static_assert(client_byte_burst_default >= 4 * data_packet_size_max);
// The server's deadline heap keeps stale entries (lazy deletion) until it holds this many per
// client (plus a constant), then is rebuilt from the clients' current deadlines.
inline constexpr size_t timer_heap_slack_factor = 4;
// Connect/disconnect events not yet taken by the application (beyond it the oldest are dropped).
inline constexpr size_t server_events_max = 2 * clients_max;
// Replay window of authenticated packet sequences (64-bit, reconstructed from the 16-bit wire field).
inline constexpr size_t replay_window_size = 256;
static_assert(replay_window_size % 64 == 0);
static_assert(replay_window_size <= 0x8000);

// --- TCP -----------------------------------------------------------------------------------------
// A TCP frame: u16 length + body; the body is at most an authenticated data packet.
inline constexpr size_t tcp_frame_body_max = datagram_size_max;
static_assert(tcp_frame_body_max <= 0xffff);
// Bytes queued for one TCP stream not yet taken by the kernel; a peer that does not read is dropped.
inline constexpr size_t tcp_send_queue_bytes_max = 4 << 20;
// Streams one TcpServer holds at once; further connections are closed at accept.
// Each holds a read buffer of about 5 kB, so the bound is about 40 MB (plus send queues, which
// only a connected client can fill: at most tcp_send_queue_bytes_max each).
inline constexpr size_t tcp_streams_max = 8192;
// A stream that carries no connected client this long after it was accepted is closed.
inline constexpr uint64_t tcp_handshake_timeout_default_us = 5'000'000;
// Streams of one peer IP (any port): in all, and not yet carrying a connected client. One host
// cannot hold more than the second figure with connections that never complete the handshake
// (each lives at most the handshake timeout); players behind one NAT (or bots on loopback) each
// carry a connected client, bounded by the first.
inline constexpr size_t tcp_streams_per_address_default = 256;
inline constexpr size_t tcp_pending_streams_per_address_default = 16;
static_assert(tcp_pending_streams_per_address_default <= tcp_streams_per_address_default);
static_assert(tcp_streams_per_address_default <= tcp_streams_max);
// Descriptors a TcpServer leaves free under the process limit (RocksDB's files, HTTP sessions).
inline constexpr size_t tcp_descriptor_reserve_default = 128;
// accept(2) out of descriptors or memory: pause accepting this long, doubling up to the max.
inline constexpr uint64_t tcp_accept_backoff_us = 50'000;
inline constexpr uint64_t tcp_accept_backoff_max_us = 1'000'000;
static_assert(tcp_accept_backoff_us > 0 && tcp_accept_backoff_us <= tcp_accept_backoff_max_us);
// Connections accepted per window at most (~12,800 a second): one network-loop turn never spends
// more than ~64 accept-and-refuse (~1 ms) on a host that reconnects in a tight loop; beyond it
// connections wait in the kernel's backlog.
inline constexpr size_t tcp_accepts_per_window = 64;
inline constexpr uint64_t tcp_accept_window_us = 5'000;

// --- transports ----------------------------------------------------------------------------------
// Datagrams moved per recvmmsg/sendmmsg call.
inline constexpr size_t udp_batch_size = 64;

}  // namespace strata::net
