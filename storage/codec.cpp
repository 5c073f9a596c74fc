// storage/codec.cpp: encoders and checked decoders of the stored values (layouts in codec.h).
#include "storage/codec.h"

#include "storage/limits.h"
#include "storage/stores.h"

namespace strata::storage::codec {
namespace {

void append_u64_le(std::string& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void append_u32_le(std::string& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// Reads little-endian integers off the front of `bytes`; fails (and stays failed) on a short read.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  [[nodiscard]] uint64_t u64() { return read(8); }
  [[nodiscard]] uint32_t u32() { return static_cast<uint32_t>(read(4)); }
  [[nodiscard]] std::string_view take(size_t count) {
    if (!ok_ || bytes_.size() < count) {
      ok_ = false;
      return {};
    }
    std::string_view out = bytes_.substr(0, count);
    bytes_.remove_prefix(count);
    return out;
  }
  [[nodiscard]] std::string_view rest() const { return bytes_; }
  [[nodiscard]] bool ok() const { return ok_; }

 private:
  uint64_t read(size_t width) {
    std::string_view raw = take(width);
    uint64_t value = 0;
    for (size_t i = 0; i < raw.size(); ++i) value |= uint64_t{static_cast<uint8_t>(raw[i])} << (8 * i);
    return value;
  }
  std::string_view bytes_;
  bool ok_ = true;
};

}  // namespace

std::string encode_versioned(uint64_t version, std::string_view bytes) {
  std::string out;
  out.reserve(8 + bytes.size());
  append_u64_le(out, version);
  out.append(bytes);
  return out;
}

std::optional<Versioned> decode_versioned(std::string_view value, size_t bytes_max) {
  Reader reader(value);
  const uint64_t version = reader.u64();
  if (!reader.ok() || version < version_min || reader.rest().size() > bytes_max) return std::nullopt;
  return Versioned{version, std::string(reader.rest())};
}

std::string encode_map_head(uint64_t version, uint64_t hash) {
  std::string out;
  append_u64_le(out, version);
  append_u64_le(out, hash);
  return out;
}

std::optional<MapHead> decode_map_head(std::string_view value) {
  if (value.size() != 16) return std::nullopt;
  Reader reader(value);
  MapHead head;
  head.version = reader.u64();
  head.hash = reader.u64();
  if (!reader.ok() || head.version < version_min) return std::nullopt;
  return head;
}

std::string encode_xy(int32_t x, int32_t y) {
  std::string out;
  append_u32_le(out, static_cast<uint32_t>(x));
  append_u32_le(out, static_cast<uint32_t>(y));
  return out;
}

std::optional<std::pair<int32_t, int32_t>> decode_xy(std::string_view value) {
  if (value.size() != 8) return std::nullopt;
  Reader reader(value);
  const auto x = static_cast<int32_t>(reader.u32());
  const auto y = static_cast<int32_t>(reader.u32());
  const auto in_range = [](int32_t c) { return c >= -position_coord_abs_max && c <= position_coord_abs_max; };
  if (!reader.ok() || !in_range(x) || !in_range(y)) return std::nullopt;
  return std::pair{x, y};
}

std::string encode_session(const SessionRecord& record) {
  std::string out;
  append_u64_le(out, record.version);
  append_u64_le(out, record.start_tick);
  append_u64_le(out, record.end_tick);
  append_u32_le(out, static_cast<uint32_t>(record.region.size()));
  out.append(record.region);
  append_u32_le(out, static_cast<uint32_t>(record.log_location.size()));
  out.append(record.log_location);
  return out;
}

std::optional<SessionRecord> decode_session(SessionId session, std::string_view value) {
  Reader reader(value);
  SessionRecord record;
  record.session = session;
  record.version = reader.u64();
  record.start_tick = reader.u64();
  record.end_tick = reader.u64();
  const uint32_t region_size = reader.u32();
  if (!reader.ok() || region_size > region_bytes_max) return std::nullopt;
  record.region = std::string(reader.take(region_size));
  const uint32_t location_size = reader.u32();
  if (!reader.ok() || location_size > log_location_bytes_max) return std::nullopt;
  record.log_location = std::string(reader.take(location_size));
  if (!reader.ok() || !reader.rest().empty() || record.version < version_min) return std::nullopt;
  return record;
}

// The top bit of the player id says the save releases the region's hold (PlayerRecord::release);
// ids are 24-bit, so a spill written before the flag existed decodes unchanged.
constexpr uint32_t release_bit = 1U << 31;
static_assert(player_key_max < release_bit);

std::string encode_player_record(const PlayerRecord& record) {
  std::string out;
  append_u32_le(out, static_cast<uint32_t>(record.player) | (record.release ? release_bit : 0));
  out += encode_versioned(record.version, record.state);
  return out;
}

std::optional<PlayerRecord> decode_player_record(std::string_view bytes) {
  Reader reader(bytes);
  const uint32_t raw = reader.u32();
  const uint32_t player = raw & ~release_bit;
  if (!reader.ok() || player == 0 || player > player_key_max) return std::nullopt;
  const auto versioned = decode_versioned(reader.rest(), player_state_bytes_max);
  if (!versioned) return std::nullopt;
  return PlayerRecord{PlayerKey{player}, versioned->version, versioned->bytes, (raw & release_bit) != 0, 0};
}

std::string encode_session_record(const SessionRecord& record) {
  std::string out;
  append_u64_le(out, static_cast<uint64_t>(record.session));
  out += encode_session(record);
  return out;
}

std::optional<SessionRecord> decode_session_record(std::string_view bytes) {
  Reader reader(bytes);
  const uint64_t session = reader.u64();
  if (!reader.ok() || session == 0) return std::nullopt;
  return decode_session(SessionId{session}, reader.rest());
}

void append_u32_be(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

void append_u64_be(std::string& out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

void append_i32_sortable(std::string& out, int32_t value) {
  append_u32_be(out, static_cast<uint32_t>(value) ^ 0x80000000U);
}

std::optional<uint32_t> read_u32_be(std::string_view bytes) {
  if (bytes.size() < 4) return std::nullopt;
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

std::optional<int32_t> read_i32_sortable(std::string_view bytes) {
  const std::optional<uint32_t> raw = read_u32_be(bytes);
  if (!raw) return std::nullopt;
  return static_cast<int32_t>(*raw ^ 0x80000000U);
}

}  // namespace strata::storage::codec
