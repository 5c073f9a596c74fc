// schema/log_codec.cpp — session log header, tick records and export entries <-> packed Cap'n Proto
// (log.capnp). Each reader visits every pointer once (the traversal limits count re-reads).
#include "schema/log_codec.h"

#include "schema/limits.h"
#include "schema/log.capnp.h"
#include "schema/packed_io.h"
#include "schema/wire_detail.h"

namespace strata::schema {
namespace {

using detail::refused;

static_assert(wire::TickRecord::_capnpPrivate::dataWordSize + wire::TickRecord::_capnpPrivate::pointerCount <= 4,
              "tick_record_words_max assumes a 4-word TickRecord");
static_assert(wire::LogHeader::_capnpPrivate::dataWordSize + wire::LogHeader::_capnpPrivate::pointerCount +
                      wire::WorldParams::_capnpPrivate::dataWordSize + wire::WorldParams::_capnpPrivate::pointerCount <=
                  16,
              "log_header_words_max assumes this");

void header_to_wire(const LogHeader& h, wire::LogHeader::Builder out) {
  out.setMagic(log_magic);
  out.setFormatVersion(h.format_version);
  out.setRulesVersion(h.rules_version);
  out.setSchemaVersion(h.schema_version);
  detail::params_to_wire(h.params, out.initParams());
  out.setStartTick(h.start_tick);
  out.setStartSnapshotTick(h.start_snapshot_tick);
  out.setFullHashEvery(h.full_hash_every);
  out.setSnapshotEvery(h.snapshot_every);
}

DecodeResult<LogHeader> header_from_wire(wire::LogHeader::Reader in) {
  if (in.getMagic() != log_magic) return refused<LogHeader>(DecodeError::bad_magic, "not a Strata session log header");
  LogHeader h;
  h.format_version = in.getFormatVersion();
  h.rules_version = in.getRulesVersion();
  h.schema_version = in.getSchemaVersion();
  h.params = detail::params_from_wire(in.getParams());
  h.start_tick = in.getStartTick();
  h.start_snapshot_tick = in.getStartSnapshotTick();
  h.full_hash_every = in.getFullHashEvery();
  h.snapshot_every = in.getSnapshotEvery();
  if (h.format_version != log_format_version) {
    return refused<LogHeader>(DecodeError::bad_version, "log format version " + std::to_string(h.format_version) +
                                                            " not implemented (this build reads " +
                                                            std::to_string(log_format_version) + ")");
  }
  if (h.rules_version != sim::rules_version || h.params.rules != sim::rules_version) {
    return refused<LogHeader>(DecodeError::rules_version, "log recorded with rules version " +
                                                              std::to_string(h.rules_version) +
                                                              ", not implemented by this build (it implements " +
                                                              std::to_string(sim::rules_version) + ")");
  }
  if (h.schema_version != schema_version) {
    return refused<LogHeader>(DecodeError::bad_version, "log schema version " + std::to_string(h.schema_version) +
                                                            " not implemented (this build reads " +
                                                            std::to_string(schema_version) + ")");
  }
  if (const char* problem = sim::validate(h.params)) {
    return refused<LogHeader>(DecodeError::bad_params, std::string("bad world parameters: ") + problem);
  }
  if (h.full_hash_every == 0 || h.full_hash_every > limits::log_period_max || h.snapshot_every == 0 ||
      h.snapshot_every > limits::log_period_max) {
    return refused<LogHeader>(DecodeError::bad_params, "full hash / snapshot period out of range");
  }
  if (h.start_snapshot_tick != h.start_tick) {
    return refused<LogHeader>(DecodeError::bad_params, "start snapshot tick differs from the start tick");
  }
  DecodeResult<LogHeader> ok;
  ok.value = h;
  return ok;
}

void record_to_wire(const sim::TickInput& input, uint64_t quick_hash, std::optional<uint64_t> full_hash,
                    wire::TickRecord::Builder out) {
  detail::tick_input_to_wire(input, out.initInput());
  out.setQuickHash(quick_hash);
  out.setHasFullHash(full_hash.has_value());
  out.setFullHash(full_hash.value_or(0));
}

void record_to_wire(const TickRecord& r, wire::TickRecord::Builder out) {
  record_to_wire(r.input, r.quick_hash, r.full_hash, out);
}

DecodeStatus failed(DecodeError code, std::string error) {
  DecodeStatus status;
  status.code = code;
  status.error = std::move(error);
  return status;
}

DecodeStatus record_into(wire::TickRecord::Reader in, TickRecord& out) {
  if (!in.hasInput()) return failed(DecodeError::malformed, "tick record without its input");
  if (DecodeStatus s = detail::tick_input_into(in.getInput(), EnumPolicy::as_recorded, out.input); !s.ok()) return s;
  out.quick_hash = in.getQuickHash();
  if (in.getHasFullHash()) {
    out.full_hash = in.getFullHash();
  } else if (in.getFullHash() != 0) {
    return failed(DecodeError::malformed, "full hash present without its flag");
  } else {
    out.full_hash.reset();
  }
  return {};
}

DecodeStatus entry_into(wire::ExportEntry::Reader root, ExportEntry& out) {
  switch (root.which()) {
    case wire::ExportEntry::HEADER: {
      auto h = header_from_wire(root.getHeader());
      if (!h.ok()) return failed(h.code, std::move(h.error));
      out = *h.value;
      return {};
    }
    case wire::ExportEntry::SNAPSHOT: {
      const auto data = root.getSnapshot();
      if (data.size() > limits::snapshot_packed_bytes_max) {
        return failed(DecodeError::too_large, "snapshot entry too large");
      }
      out = SnapshotBytes{std::vector<uint8_t>(data.begin(), data.end())};
      return {};
    }
    case wire::ExportEntry::TICK: {
      if (!std::holds_alternative<TickRecord>(out)) out.emplace<TickRecord>();
      return record_into(root.getTick(), std::get<TickRecord>(out));
    }
    case wire::ExportEntry::END: {
      const auto g = root.getEnd();
      out = ExportEnd{g.getTickCount(), g.getSnapshotCount(), g.getLastTick()};
      return {};
    }
    case wire::ExportEntry::SECTION: {
      const auto g = root.getSection();
      if (g.getSide() > 1) return failed(DecodeError::bad_params, "bundle side out of range");
      out = BundleSection{g.getSide(), g.getDivergentTick()};
      return {};
    }
  }
  return failed(DecodeError::unknown_command, "unknown export entry kind");
}

// A one-off decode into a fresh T through the `into` path (one set of checks for both paths).
template <class T, class Reader, class Into>
DecodeResult<T> fresh(Reader in, Into&& into) {
  T value;
  DecodeStatus status = into(in, value);
  if (!status.ok()) return refused<T>(status.code, std::move(status.error));
  DecodeResult<T> ok;
  ok.value = std::move(value);
  return ok;
}

template <class T>
DecodeResult<T> counted(DecodeResult<T> result, DecodeStats* stats) {
  if (stats != nullptr) stats->count(result.code);
  return result;
}

}  // namespace

std::vector<uint8_t> encode_log_header(const LogHeader& header) {
  capnp::MallocMessageBuilder message(limits::log_header_words_max);
  header_to_wire(header, message.initRoot<wire::LogHeader>());
  std::vector<uint8_t> out;
  detail::write_packed(message, out);
  return out;
}

DecodeResult<LogHeader> decode_log_header(std::span<const uint8_t> bytes, DecodeStats* stats) {
  return counted(detail::read_message<LogHeader, wire::LogHeader>(bytes, limits::log_header_words_max,
                                                                  limits::log_header_words_max,
                                                                  limits::log_header_nesting_max, header_from_wire),
                 stats);
}

void encode_tick_record(const sim::TickInput& input, uint64_t quick_hash, std::optional<uint64_t> full_hash,
                        std::vector<uint8_t>& out) {
  out.clear();
  capnp::MallocMessageBuilder message(static_cast<unsigned>(8 + input.commands.size() * limits::command_words_max));
  record_to_wire(input, quick_hash, full_hash, message.initRoot<wire::TickRecord>());
  detail::write_packed(message, out);
}

void encode_tick_record(const TickRecord& record, std::vector<uint8_t>& out) {
  encode_tick_record(record.input, record.quick_hash, record.full_hash, out);
}

DecodeResult<TickRecord> decode_tick_record(std::span<const uint8_t> bytes, DecodeStats* stats) {
  return counted(
      detail::read_message<TickRecord, wire::TickRecord>(
          bytes, limits::tick_record_words_max, limits::tick_record_words_max, limits::tick_record_nesting_max,
          [](wire::TickRecord::Reader in) { return fresh<TickRecord>(in, record_into); }),
      stats);
}

void encode_export_entry(const ExportEntry& entry, std::vector<uint8_t>& out) {
  out.clear();
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::ExportEntry>();
  if (const auto* h = std::get_if<LogHeader>(&entry)) {
    header_to_wire(*h, root.initHeader());
  } else if (const auto* s = std::get_if<SnapshotBytes>(&entry)) {
    root.setSnapshot(capnp::Data::Reader(s->bytes.data(), s->bytes.size()));
  } else if (const auto* r = std::get_if<TickRecord>(&entry)) {
    record_to_wire(*r, root.initTick());
  } else if (const auto* b = std::get_if<BundleSection>(&entry)) {
    auto g = root.initSection();
    g.setSide(b->side);
    g.setDivergentTick(b->divergent_tick);
  } else {
    const auto& e = std::get<ExportEnd>(entry);
    auto g = root.initEnd();
    g.setTickCount(e.tick_count);
    g.setSnapshotCount(e.snapshot_count);
    g.setLastTick(e.last_tick);
  }
  detail::write_packed(message, out);
}

DecodeResult<ExportEntry> decode_export_entry(std::span<const uint8_t> bytes, DecodeStats* stats) {
  return counted(
      detail::read_message<ExportEntry, wire::ExportEntry>(
          bytes, limits::export_entry_words_max, limits::export_entry_words_max, limits::export_entry_nesting_max,
          [](wire::ExportEntry::Reader in) { return fresh<ExportEntry>(in, entry_into); }),
      stats);
}

LogStreamDecoder::LogStreamDecoder() : buffer_(std::make_unique<detail::UnpackBuffer>()) {}
LogStreamDecoder::~LogStreamDecoder() = default;
LogStreamDecoder::LogStreamDecoder(LogStreamDecoder&&) noexcept = default;
LogStreamDecoder& LogStreamDecoder::operator=(LogStreamDecoder&&) noexcept = default;

DecodeStatus LogStreamDecoder::tick_record(std::span<const uint8_t> bytes, TickRecord& out, DecodeStats* stats) {
  STRATA_ASSERT(buffer_ != nullptr, "use of a moved-from LogStreamDecoder");
  DecodeStatus status = detail::read_message_into<wire::TickRecord>(
      bytes, limits::tick_record_words_max, limits::tick_record_words_max, limits::tick_record_nesting_max, *buffer_,
      [&](wire::TickRecord::Reader in) { return record_into(in, out); });
  if (stats != nullptr) stats->count(status.code);
  return status;
}

DecodeStatus LogStreamDecoder::export_entry(std::span<const uint8_t> bytes, ExportEntry& out, DecodeStats* stats) {
  STRATA_ASSERT(buffer_ != nullptr, "use of a moved-from LogStreamDecoder");
  DecodeStatus status = detail::read_message_into<wire::ExportEntry>(
      bytes, limits::export_entry_words_max, limits::export_entry_words_max, limits::export_entry_nesting_max, *buffer_,
      [&](wire::ExportEntry::Reader in) { return entry_into(in, out); });
  if (stats != nullptr) stats->count(status.code);
  return status;
}

}  // namespace strata::schema
