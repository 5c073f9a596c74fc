// schema/client/messages.cpp — see messages.h.
#include "schema/client/messages.h"

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <kj/exception.h>
#include <kj/io.h>

#include "schema/client/client.capnp.h"
#include "schema/client/codec.h"
#include "schema/codec.h"
#include "schema/packed_io.h"

namespace strata::view {
namespace {

void finish(MessageKind kind, capnp::MessageBuilder& message, std::vector<uint8_t>& out) {
  out.clear();
  out.push_back(static_cast<uint8_t>(kind));
  schema::detail::write_packed(message, out);
}

// Small messages: a tight traversal limit (inputs: 32 entries with small commands).
constexpr uint64_t small_message_words_max = uint64_t{64} * 1024;
// First segments sized to the message: the builder's default is 1024 words (8 kB, zeroed), which
// for an ack sent by every client on every tick was most of its cost.
constexpr unsigned small_first_segment_words = 16;
constexpr unsigned chat_first_segment_words = 48;
constexpr unsigned inputs_first_segment_words = 256;
// Observer messages carry up to a snapshot part or a whole tick input.
constexpr uint64_t observer_message_words_max = uint64_t{2} * 1024 * 1024;

}  // namespace

const char* name(MessageError error) {
  switch (error) {
    case MessageError::none: return "none";
    case MessageError::empty: return "empty";
    case MessageError::unknown_kind: return "unknown_kind";
    case MessageError::malformed: return "malformed";
    case MessageError::too_many_inputs: return "too_many_inputs";
    case MessageError::bad_command: return "bad_command";
    case MessageError::bad_chat: return "bad_chat";
    case MessageError::wrong_direction: return "wrong_direction";
    case MessageError::too_large: return "too_large";
    case MessageError::count: break;
  }
  return "invalid";
}

void encode_welcome(const Welcome& w, std::vector<uint8_t>& out) {
  capnp::MallocMessageBuilder message(small_first_segment_words);
  auto root = message.initRoot<wire::Welcome>();
  root.setPlayer(w.player);
  root.setTick(w.tick);
  root.setTickRateHz(w.tick_rate_hz);
  root.setRegion(w.region);
  root.setSeed(w.seed);
  root.setChunksX(w.chunks_x);
  root.setChunksY(w.chunks_y);
  finish(MessageKind::welcome, message, out);
}

void encode_snapshot_message(const ClientSnapshot& snapshot, std::vector<uint8_t>& out) {
  out.clear();
  out.push_back(static_cast<uint8_t>(MessageKind::snapshot));
  append_client_snapshot(snapshot, out);
}

void encode_inputs(const std::vector<InputEntry>& inputs, std::vector<uint8_t>& out) {
  capnp::MallocMessageBuilder message(inputs_first_segment_words);
  auto entries = message.initRoot<wire::InputBatch>().initEntries(static_cast<unsigned>(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto e = entries[static_cast<unsigned>(i)];
    e.setSeq(inputs[i].seq);
    e.setTick(inputs[i].tick);
    const std::vector<uint8_t> command = schema::encode_command(inputs[i].command);
    e.setCommand(capnp::Data::Reader(command.data(), command.size()));
  }
  finish(MessageKind::inputs, message, out);
}

void encode_ack(uint64_t tick, std::vector<uint8_t>& out) {
  capnp::MallocMessageBuilder message(small_first_segment_words);
  message.initRoot<wire::SnapshotAck>().setTick(tick);
  finish(MessageKind::ack, message, out);
}

void encode_checksum_report(const ChecksumReport& report, std::vector<uint8_t>& out) {
  capnp::MallocMessageBuilder message(small_first_segment_words);
  auto root = message.initRoot<wire::ChecksumReport>();
  root.setTick(report.tick);
  root.setExpected(report.expected);
  root.setActual(report.actual);
  finish(MessageKind::checksum_report, message, out);
}

void encode_observer_part(uint32_t index, uint32_t count, std::span<const uint8_t> bytes, std::vector<uint8_t>& out) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::ObserverSnapshotPart>();
  root.setIndex(index);
  root.setCount(count);
  root.setBytes(capnp::Data::Reader(bytes.data(), bytes.size()));
  finish(MessageKind::observer_part, message, out);
}

void encode_observer_tick(uint64_t tick, std::span<const uint8_t> input, uint64_t quick_hash,
                          std::vector<uint8_t>& out) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::ObserverTick>();
  root.setTick(tick);
  root.setInput(capnp::Data::Reader(input.data(), input.size()));
  root.setQuickHash(quick_hash);
  finish(MessageKind::observer_tick, message, out);
}

bool valid_chat_text(std::string_view text) {
  if (text.empty() || text.size() > chat_text_bytes_max) return false;
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<uint8_t>(text[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;  // control characters (newlines included)
      i += 1;
      continue;
    }
    // Multi-byte sequences: shortest form only, no surrogates, at most U+10FFFF.
    size_t length = 0;
    uint32_t code = 0;
    if ((c & 0xe0) == 0xc0) {
      length = 2, code = c & 0x1fU;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3, code = c & 0x0fU;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4, code = c & 0x07U;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<uint8_t>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3fU);
    }
    const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < smallest[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    if (code >= 0x80 && code < 0xa0) return false;  // C1 controls
    i += length;
  }
  return true;
}

void encode_chat_send(std::string_view text, std::vector<uint8_t>& out) {
  capnp::MallocMessageBuilder message(chat_first_segment_words);
  message.initRoot<wire::ChatSend>().setText(capnp::Text::Reader(text.data(), text.size()));
  finish(MessageKind::chat_send, message, out);
}

void encode_chat(const ChatLine& line, std::vector<uint8_t>& out) {
  capnp::MallocMessageBuilder message(chat_first_segment_words);
  auto root = message.initRoot<wire::ChatLine>();
  root.setFrom(line.from);
  root.setTick(line.tick);
  root.setText(capnp::Text::Reader(line.text.data(), line.text.size()));
  finish(MessageKind::chat, message, out);
}

namespace {

MessageError read_body(MessageKind kind, capnp::MessageReader& reader, Message& m, std::string& error) {
  switch (kind) {
    case MessageKind::welcome: {
      auto w = reader.getRoot<wire::Welcome>();
      m.welcome = Welcome{w.getPlayer(), w.getTick(),    w.getTickRateHz(), w.getRegion(),
                          w.getSeed(),   w.getChunksX(), w.getChunksY()};
      return MessageError::none;
    }
    case MessageKind::inputs: {
      auto entries = reader.getRoot<wire::InputBatch>().getEntries();
      if (entries.size() > input_batch_max) return MessageError::too_many_inputs;
      for (auto e : entries) {
        auto bytes = e.getCommand();
        auto command = schema::decode_command(std::span<const uint8_t>(bytes.begin(), bytes.size()));
        if (!command.ok()) {
          error = command.error;
          return MessageError::bad_command;
        }
        m.inputs.push_back(InputEntry{e.getSeq(), e.getTick(), *command.value});
      }
      return MessageError::none;
    }
    case MessageKind::ack: m.ack_tick = reader.getRoot<wire::SnapshotAck>().getTick(); return MessageError::none;
    case MessageKind::checksum_report: {
      auto r = reader.getRoot<wire::ChecksumReport>();
      m.report = ChecksumReport{r.getTick(), r.getExpected(), r.getActual()};
      return MessageError::none;
    }
    case MessageKind::observer_part: {
      auto p = reader.getRoot<wire::ObserverSnapshotPart>();
      if (p.getCount() == 0 || p.getCount() > observer_parts_max || p.getIndex() >= p.getCount() ||
          p.getBytes().size() > observer_part_bytes_max) {
        return MessageError::malformed;
      }
      m.observer_part = ObserverPart{p.getIndex(), p.getCount(), {p.getBytes().begin(), p.getBytes().end()}};
      return MessageError::none;
    }
    case MessageKind::observer_tick: {
      auto t = reader.getRoot<wire::ObserverTick>();
      m.observer_tick = ObserverTick{t.getTick(), {t.getInput().begin(), t.getInput().end()}, t.getQuickHash()};
      return MessageError::none;
    }
    case MessageKind::chat_send:
    case MessageKind::chat: {
      std::string_view text;
      if (kind == MessageKind::chat_send) {
        auto t = reader.getRoot<wire::ChatSend>().getText();
        text = std::string_view(t.cStr(), t.size());
      } else {
        auto line = reader.getRoot<wire::ChatLine>();
        m.chat.from = line.getFrom();
        m.chat.tick = line.getTick();
        auto t = line.getText();
        text = std::string_view(t.cStr(), t.size());
      }
      if (!valid_chat_text(text)) return MessageError::bad_chat;
      m.chat.text = std::string(text);
      return MessageError::none;
    }
    case MessageKind::snapshot: break;
  }
  return MessageError::unknown_kind;
}

}  // namespace

namespace {

MessageDecodeResult refuse(MessageError code, std::string error) {
  MessageDecodeResult result;
  result.code = code;
  result.error = std::move(error);
  return result;
}

// The packed Cap'n Proto body of a kind other than snapshot, unpacked within words_max (measured
// from the packed bytes before allocating) and read with the same traversal limit.
MessageDecodeResult decode_packed(MessageKind kind, std::span<const uint8_t> body, uint64_t words_max) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = words_max;
  options.nestingLimit = 8;
  auto unpacked = schema::detail::unpack(body, options.traversalLimitInWords);
  if (unpacked.words.size() == 0) {
    const MessageError code =
        unpacked.code == schema::DecodeError::too_large ? MessageError::too_large : MessageError::malformed;
    return refuse(code, "malformed message: " + unpacked.error);
  }
  Message message;
  message.kind = kind;
  MessageDecodeResult result;
  MessageError code = MessageError::none;
  kj::Maybe<kj::Exception> failure = kj::runCatchingExceptions([&]() {
    capnp::FlatArrayMessageReader reader(unpacked.words.asPtr(), options);
    code = read_body(kind, reader, message, result.error);
  });
  KJ_IF_MAYBE (e, failure) {
    return refuse(MessageError::malformed, std::string("malformed message: ") + e->getDescription().cStr());
  }
  if (code != MessageError::none) {
    result.code = code;
    if (result.error.empty()) result.error = name(code);
    return result;
  }
  result.message = std::move(message);
  return result;
}

}  // namespace

MessageDecodeResult decode_message(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return refuse(MessageError::empty, "empty message");
  const auto kind = static_cast<MessageKind>(bytes[0]);
  const auto body = bytes.subspan(1);
  if (kind == MessageKind::snapshot) {
    auto decoded = decode_client_snapshot(body);
    if (!decoded.snapshot) return refuse(MessageError::malformed, decoded.error);
    MessageDecodeResult result;
    Message message;
    message.kind = kind;
    message.snapshot = std::move(*decoded.snapshot);
    result.message = std::move(message);
    return result;
  }
  if (bytes[0] < static_cast<uint8_t>(MessageKind::welcome) || bytes[0] > static_cast<uint8_t>(MessageKind::chat)) {
    return refuse(MessageError::unknown_kind, "unknown message kind " + std::to_string(bytes[0]));
  }
  const bool observer = kind == MessageKind::observer_part || kind == MessageKind::observer_tick;
  return decode_packed(kind, body, observer ? observer_message_words_max : small_message_words_max);
}

bool client_to_server(MessageKind kind) {
  switch (kind) {
    case MessageKind::inputs:
    case MessageKind::ack:
    case MessageKind::checksum_report:
    case MessageKind::chat_send: return true;
    case MessageKind::welcome:
    case MessageKind::snapshot:
    case MessageKind::observer_part:
    case MessageKind::observer_tick:
    case MessageKind::chat: return false;
  }
  return false;
}

namespace {
uint64_t client_words_max(MessageKind kind) {
  switch (kind) {
    case MessageKind::inputs: return client_limits::inputs_words_max;
    case MessageKind::ack: return client_limits::ack_words_max;
    case MessageKind::checksum_report: return client_limits::checksum_report_words_max;
    case MessageKind::chat_send: return client_limits::chat_send_words_max;
    default: return 0;
  }
}
}  // namespace

MessageDecodeResult decode_client_message(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return refuse(MessageError::empty, "empty message");
  const auto kind = static_cast<MessageKind>(bytes[0]);
  if (bytes[0] < static_cast<uint8_t>(MessageKind::welcome) || bytes[0] > static_cast<uint8_t>(MessageKind::chat)) {
    return refuse(MessageError::unknown_kind, "unknown message kind " + std::to_string(bytes[0]));
  }
  if (!client_to_server(kind)) {
    return refuse(MessageError::wrong_direction, "message kind " + std::to_string(bytes[0]) + " is not a client's");
  }
  const uint64_t words_max = client_words_max(kind);
  const auto body = bytes.subspan(1);
  if (body.size() > words_max * client_limits::packed_bytes_per_word_max) {
    return refuse(MessageError::too_large,
                  "message of " + std::to_string(bytes.size()) + " bytes, kind " + std::to_string(bytes[0]) +
                      " takes at most " + std::to_string(1 + words_max * client_limits::packed_bytes_per_word_max));
  }
  return decode_packed(kind, body, words_max);
}

}  // namespace strata::view
