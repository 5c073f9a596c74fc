// schema/client/messages.h — the game messages between a client and its region server, carried as
// netchannel message payloads. Layout of every message: one kind byte (MessageKind), then one
// packed Cap'n Proto struct of client.capnp (Welcome, ClientSnapshot, InputBatch, SnapshotAck,
// ChecksumReport). Player commands inside inputs use schema/commands.capnp through
// schema::encode_command / decode_command (strict enums: clients are untrusted).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "schema/client/view.h"
#include "sim/command.h"

namespace strata::view {

enum class MessageKind : uint8_t {
  welcome = 1,
  snapshot = 2,
  inputs = 3,
  ack = 4,
  checksum_report = 5,
  observer_part = 6,  // server -> observer
  observer_tick = 7,  // server -> observer
  chat_send = 8,      // client -> server
  chat = 9,           // server -> client
};

// A chat line: UTF-8 without control characters, at most this many bytes (a bound on what one
// client can make the server relay to everyone around it).
inline constexpr size_t chat_text_bytes_max = 256;
// Whether `text` is a valid chat line (the decoder refuses others as bad_chat).
[[nodiscard]] bool valid_chat_text(std::string_view text);

// An observer's world arrives in parts of at most this size; the whole at most parts_max of them.
inline constexpr size_t observer_part_bytes_max = 192 * 1024;
inline constexpr size_t observer_parts_max = 1024;

// Inputs a client may resend in one batch (its unprocessed inputs, oldest dropped first).
inline constexpr size_t input_batch_max = 32;

// What a server reads of a client, per kind (client -> server: inputs, ack, checksum_report,
// chat_send). The unpacked words of the largest legal message of the kind, with room for a second
// segment (a builder adds one when its first fills up: a larger segment table and a far pointer's
// landing pad per spilled object). A message beyond its kind's budget is refused before anything is
// unpacked; the traversal limit is the same figure. These are security features: the server spends
// at most a few kB and a few microseconds on any message a client sends, whatever it claims to be
// (a server -> client kind is refused unread: its budget is a world's).
namespace client_limits {
inline constexpr size_t segment_table_words_max = 2;  // up to 3 segments
inline constexpr size_t root_pointer_words = 1;
inline constexpr size_t spill_words_max = 64;  // landing pads and a segment's tail left unused
// A command travels as packed bytes of a schema::encode_command message: at most 10 bytes a word.
inline constexpr size_t command_data_words_max = (6 * 10 + 7) / 8;
// InputBatch: struct (1 pointer) + list tag + per entry (2 data words, 1 pointer) + the command Data.
inline constexpr size_t inputs_words_max = segment_table_words_max + root_pointer_words + 1 + 1 +
                                           input_batch_max * (3 + command_data_words_max) + spill_words_max;
inline constexpr size_t ack_words_max = segment_table_words_max + root_pointer_words + 1;
inline constexpr size_t checksum_report_words_max = segment_table_words_max + root_pointer_words + 3;
inline constexpr size_t chat_send_words_max =
    segment_table_words_max + root_pointer_words + 1 + (chat_text_bytes_max + 1 + 7) / 8 + spill_words_max;
// Packed encoding writes a word as at most 10 bytes (tag, 8 bytes, a run count).
inline constexpr size_t packed_bytes_per_word_max = 10;
inline constexpr size_t message_bytes_max = 1 + inputs_words_max * packed_bytes_per_word_max;
static_assert(inputs_words_max < 1024, "a client's largest message unpacks to at most 8 kB");
static_assert(chat_send_words_max < inputs_words_max);
static_assert(ack_words_max < checksum_report_words_max);
}  // namespace client_limits

struct Welcome {
  uint32_t player = 0;
  uint64_t tick = 0;
  uint32_t tick_rate_hz = 0;
  uint16_t region = 0;
  uint64_t seed = 0;
  int32_t chunks_x = 0;
  int32_t chunks_y = 0;
  bool operator==(const Welcome&) const = default;
};

struct InputEntry {
  uint32_t seq = 0;
  uint64_t tick = 0;
  sim::Command command;
};

struct ChecksumReport {
  uint64_t tick = 0;
  uint64_t expected = 0;
  uint64_t actual = 0;
  bool operator==(const ChecksumReport&) const = default;
};

struct ObserverPart {
  uint32_t index = 0;
  uint32_t count = 0;
  std::vector<uint8_t> bytes;
};

struct ChatLine {
  uint32_t from = 0;
  uint64_t tick = 0;
  std::string text;
  bool operator==(const ChatLine&) const = default;
};

struct ObserverTick {
  uint64_t tick = 0;
  std::vector<uint8_t> input;  // schema::encode_tick_input bytes (decoded by the observer)
  uint64_t quick_hash = 0;
};

// One decoded message of either direction; `kind` says which field is set.
struct Message {
  MessageKind kind = MessageKind::welcome;
  Welcome welcome;
  ClientSnapshot snapshot;
  std::vector<InputEntry> inputs;
  uint64_t ack_tick = 0;
  ChecksumReport report;
  ObserverPart observer_part;
  ObserverTick observer_tick;
  ChatLine chat;  // chat_send: only text is set
};

void encode_welcome(const Welcome& welcome, std::vector<uint8_t>& out);
void encode_snapshot_message(const ClientSnapshot& snapshot, std::vector<uint8_t>& out);
void encode_inputs(const std::vector<InputEntry>& inputs, std::vector<uint8_t>& out);
void encode_ack(uint64_t tick, std::vector<uint8_t>& out);
void encode_checksum_report(const ChecksumReport& report, std::vector<uint8_t>& out);
void encode_observer_part(uint32_t index, uint32_t count, std::span<const uint8_t> bytes, std::vector<uint8_t>& out);
void encode_observer_tick(uint64_t tick, std::span<const uint8_t> input, uint64_t quick_hash,
                          std::vector<uint8_t>& out);
void encode_chat_send(std::string_view text, std::vector<uint8_t>& out);
void encode_chat(const ChatLine& line, std::vector<uint8_t>& out);

// Why a message was refused (counted per reason by the receiver).
enum class MessageError : uint8_t {
  none,
  empty,
  unknown_kind,
  malformed,
  too_many_inputs,
  bad_command,
  bad_chat,         // too long, not UTF-8, or with control characters
  wrong_direction,  // a server -> client kind sent by a client (refused unread)
  too_large,        // beyond the kind's budget (client_limits), refused before unpacking
  count
};
[[nodiscard]] const char* name(MessageError error);

struct MessageDecodeResult {
  std::optional<Message> message;
  MessageError code = MessageError::none;
  std::string error;
};
// Any message, for a client reading what its server sends (the budgets of the server's kinds).
[[nodiscard]] MessageDecodeResult decode_message(std::span<const uint8_t> bytes);
// A message from a client, for the server: only the client -> server kinds, each read within its
// own budget (client_limits) after the kind byte was looked at and the size checked.
[[nodiscard]] MessageDecodeResult decode_client_message(std::span<const uint8_t> bytes);
// Whether a kind is one a client sends.
[[nodiscard]] bool client_to_server(MessageKind kind);

}  // namespace strata::view
