// schema/bus_codec.cpp — the region event bus's payloads <-> framed, packed Cap'n Proto
// (schema/bus.capnp), zstd-compressed above a size. The decoder checks, in this order and before
// allocating for anything it has not measured: the frame, the sizes (payload, declared zstd content,
// unpacked words), then capnp's own validation under tight ReaderOptions, then every field.
#include "schema/bus_codec.h"

#include <zstd.h>

#include <array>
#include <cstring>
#include <memory>
#include <type_traits>

#include "schema/bus.capnp.h"
#include "schema/commands.capnp.h"
#include "schema/packed_io.h"
#include "sim/assert.h"

namespace strata::schema {
namespace {

using sim::to_underlying;

constexpr uint8_t frame_packed = 0x00;
constexpr uint8_t frame_zstd = 0x01;

// The layout bus_limits counts with (words per entry, root struct) is the generated one.
static_assert(wire::Write::_capnpPrivate::pointerCount == 0 &&
              wire::Write::_capnpPrivate::dataWordSize == bus_limits::write_words);
static_assert(wire::PresenceEntry::_capnpPrivate::pointerCount == 0 &&
              wire::PresenceEntry::_capnpPrivate::dataWordSize == bus_limits::presence_entry_words);
static_assert(wire::AppliedSeq::_capnpPrivate::pointerCount == 0 &&
              wire::AppliedSeq::_capnpPrivate::dataWordSize == bus_limits::applied_seq_words);
static_assert(wire::BusMessage::_capnpPrivate::dataWordSize + wire::BusMessage::_capnpPrivate::pointerCount ==
              bus_limits::message_root_words);
// The enums are commands.capnp's, which match the sim's value for value (schema/command_codec.cpp).
static_assert(static_cast<uint16_t>(wire::Layer::CEILING) + 1 == to_underlying(sim::Layer::count));
static_assert(static_cast<uint16_t>(wire::Direction::NW) + 1 == to_underlying(sim::Direction::count));
static_assert(std::variant_size_v<BusPayload> == 3, "a new payload kind needs a union member in bus.capnp");

constexpr std::array<std::string_view, bus_decode_error_count> error_names = {
    "none",      "empty",    "bad_frame", "too_large",      "bad_compression",
    "malformed", "too_many", "forged",    "unknown_region", "bad_value"};

// --- scratch -----------------------------------------------------------------------------------

// Per thread, reused across messages: zstd contexts and the buffers a message passes through. They
// grow to the largest message seen (bounded by bus_limits) and stay, so a steady stream allocates
// nothing.
struct ZstdFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};
struct Scratch {
  std::unique_ptr<ZSTD_CCtx, ZstdFree> cctx;
  std::unique_ptr<ZSTD_DCtx, ZstdFree> dctx;
  std::vector<uint8_t> packed;      // encoder: the packed message before framing
  std::vector<uint8_t> compressed;  // encoder: its zstd frame
  std::vector<uint8_t> body;        // decoder: a decompressed body
  detail::UnpackBuffer words;       // decoder: the unpacked message
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// --- encoding ----------------------------------------------------------------------------------

template <class E>
[[nodiscard]] E wire_enum_of(auto value) {
  return static_cast<E>(to_underlying(value));
}

void world_to_wire(const BusWorldBatch& batch, wire::BusMessage::Builder root) {
  STRATA_REQUIRE(batch.writes.size() <= bus_limits::writes_per_batch_max, "world batch above its limit: split it",
                 batch.writes.size());
  STRATA_REQUIRE(batch.parts >= 1 && batch.parts <= bus_limits::world_parts_max && batch.part < batch.parts,
                 "world batch part out of its parts", batch.part, batch.parts);
  auto world = root.initWorld();
  world.setPart(batch.part);
  world.setParts(batch.parts);
  auto writes = world.initWrites(static_cast<unsigned>(batch.writes.size()));
  for (size_t i = 0; i < batch.writes.size(); ++i) {
    const sim::BlockWrite& w = batch.writes[i];
    // The stamp's region is implied by the origin on the wire: a region publishes only its own.
    STRATA_REQUIRE(w.stamp.region == batch.origin, "a world batch carries only its origin's writes", w.stamp.region,
                   batch.origin);
    STRATA_REQUIRE(w.stamp.hlc != 0 && sim::enum_valid(w.layer), "write without a stamp or layer", w.stamp.hlc,
                   w.layer);
    auto out = writes[static_cast<unsigned>(i)];
    out.setCellX(w.cell.x);
    out.setCellY(w.cell.y);
    out.setLayer(wire_enum_of<wire::Layer>(w.layer));
    out.setKind(w.kind);
    out.setState(w.state);
    out.setStampHlc(w.stamp.hlc);
  }
}

[[nodiscard]] bool presence_before(const BusPresenceEntry& a, const BusPresenceEntry& b) {
  return a.npc != b.npc ? !a.npc : a.id < b.id;
}

void presence_to_wire(const BusPresence& presence, wire::BusMessage::Builder root) {
  STRATA_REQUIRE(presence.entries.size() <= bus_limits::presence_entries_max, "presence above its limit",
                 presence.entries.size());
  auto entries = root.initPresence().initEntries(static_cast<unsigned>(presence.entries.size()));
  for (size_t i = 0; i < presence.entries.size(); ++i) {
    const BusPresenceEntry& e = presence.entries[i];
    STRATA_REQUIRE(i == 0 || presence_before(presence.entries[i - 1], e),
                   "presence lists players then NPCs, each by id, once", i, e.id);
    STRATA_REQUIRE(sim::enum_valid(e.facing), "presence facing out of range", e.facing);
    auto out = entries[static_cast<unsigned>(i)];
    out.setNpc(e.npc);
    out.setId(e.id);
    out.setPosX(e.pos.x.raw());
    out.setPosY(e.pos.y.raw());
    out.setFacing(wire_enum_of<wire::Direction>(e.facing));
  }
}

void health_to_wire(const BusHealth& health, wire::BusMessage::Builder root) {
  STRATA_REQUIRE(health.applied.size() <= bus_limits::health_vector_max, "health vector above its limit",
                 health.applied.size());
  auto group = root.initHealth();
  group.setMapHash(health.map_hash);
  auto applied = group.initApplied(static_cast<unsigned>(health.applied.size()));
  for (size_t i = 0; i < health.applied.size(); ++i) {
    const BusAppliedSeq& a = health.applied[i];
    STRATA_REQUIRE(i == 0 || sim::raw(health.applied[i - 1].origin) < sim::raw(a.origin),
                   "health vector sorted by origin, each once", i, a.origin);
    applied[static_cast<unsigned>(i)].setOrigin(sim::raw(a.origin));
    applied[static_cast<unsigned>(i)].setSeq(a.seq);
  }
}

[[nodiscard]] size_t message_words(const BusPayload& payload) {
  const size_t entries = std::visit(
      [](const auto& p) -> size_t {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, BusWorldBatch>) return p.writes.size() * bus_limits::write_words;
        if constexpr (std::is_same_v<T, BusPresence>) return p.entries.size() * bus_limits::presence_entry_words;
        if constexpr (std::is_same_v<T, BusHealth>) return p.applied.size() * bus_limits::applied_seq_words;
      },
      payload);
  // The first segment holds everything (so the message is one segment, as bus_limits counts it):
  // the root pointer, the root struct, the list's tag and its entries.
  return 1 + bus_limits::message_root_words + bus_limits::list_tag_words + entries;
}

// The zstd frame of `in` (with its content size: the decoder refuses frames without it) into `out`.
void compress(std::span<const uint8_t> in, int level, std::vector<uint8_t>& out) {
  Scratch& s = scratch();
  if (!s.cctx) s.cctx.reset(ZSTD_createCCtx());
  STRATA_ASSERT(s.cctx != nullptr, "ZSTD_createCCtx failed");
  out.resize(ZSTD_compressBound(in.size()));
  // The simple one-shot API writes the content size (the decoder refuses a frame without it) and
  // sizes its tables for the input.
  const size_t written = ZSTD_compressCCtx(s.cctx.get(), out.data(), out.size(), in.data(), in.size(), level);
  STRATA_ASSERT(!ZSTD_isError(written), "zstd compression failed", ZSTD_getErrorName(written));
  out.resize(written);
}

}  // namespace

std::string_view name(BusDecodeError error) {
  STRATA_REQUIRE(error < BusDecodeError::count, "no such bus decode error", error);
  return error_names[static_cast<size_t>(error)];
}

void encode_bus_payload(const BusPayload& payload, const BusEncodeOptions& options, std::vector<uint8_t>& out) {
  STRATA_REQUIRE(options.zstd_level >= ZSTD_minCLevel() && options.zstd_level <= ZSTD_maxCLevel(),
                 "zstd level out of range", options.zstd_level);
  out.clear();
  capnp::MallocMessageBuilder message(static_cast<unsigned>(message_words(payload)));
  auto root = message.initRoot<wire::BusMessage>();
  std::visit(
      [&](const auto& p) {
        root.setOrigin(sim::raw(p.origin));
        root.setTick(p.tick);
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, BusWorldBatch>) world_to_wire(p, root);
        if constexpr (std::is_same_v<T, BusPresence>) presence_to_wire(p, root);
        if constexpr (std::is_same_v<T, BusHealth>) health_to_wire(p, root);
      },
      payload);
  STRATA_ASSERT(message.getSegmentsForOutput().size() == 1, "bus message spilled into a second segment");
  Scratch& s = scratch();
  s.packed.clear();
  detail::write_packed(message, s.packed);
  STRATA_ASSERT(s.packed.size() <= bus_limits::packed_message_bytes_max, "packed message above its bound",
                s.packed.size());
  if (s.packed.size() > options.compress_above_bytes) {
    compress(s.packed, options.zstd_level, s.compressed);
    if (s.compressed.size() < s.packed.size()) {
      out.reserve(1 + s.compressed.size());
      out.push_back(frame_zstd);
      out.insert(out.end(), s.compressed.begin(), s.compressed.end());
      return;
    }
  }
  out.reserve(1 + s.packed.size());
  out.push_back(frame_packed);
  out.insert(out.end(), s.packed.begin(), s.packed.end());
  STRATA_ASSERT(out.size() <= bus_limits::payload_bytes_max, "payload above its limit", out.size());
}

namespace {

// --- decoding ----------------------------------------------------------------------------------

[[nodiscard]] BusDecodeResult refuse(BusDecodeError code, std::string error) {
  return BusDecodeResult{code, std::move(error)};
}

// The packed body of a zstd frame, into scratch().body: the declared content size is read and
// bounded before anything is allocated or decompressed.
[[nodiscard]] BusDecodeResult decompress(std::span<const uint8_t> frame, std::span<const uint8_t>& body) {
  const unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) return refuse(BusDecodeError::bad_compression, "not a zstd frame");
  if (declared == ZSTD_CONTENTSIZE_UNKNOWN) {
    return refuse(BusDecodeError::bad_compression, "zstd frame without its content size");
  }
  if (declared > bus_limits::body_bytes_max) {
    return refuse(BusDecodeError::too_large, "zstd frame declares " + std::to_string(declared) + " bytes, limit " +
                                                 std::to_string(bus_limits::body_bytes_max));
  }
  // Exactly one frame, nothing after it: one payload has one reading.
  const size_t frame_bytes = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(frame_bytes) || frame_bytes != frame.size()) {
    return refuse(BusDecodeError::bad_compression, "zstd frame truncated or followed by other bytes");
  }
  Scratch& s = scratch();
  if (!s.dctx) {
    s.dctx.reset(ZSTD_createDCtx());
    if (!s.dctx) return refuse(BusDecodeError::bad_compression, "ZSTD_createDCtx failed");
    const size_t r = ZSTD_DCtx_setParameter(s.dctx.get(), ZSTD_d_windowLogMax, bus_limits::zstd_window_log_max);
    STRATA_ASSERT(!ZSTD_isError(r), "zstd window limit", ZSTD_getErrorName(r));
  }
  s.body.resize(static_cast<size_t>(declared));
  const size_t got = ZSTD_decompressDCtx(s.dctx.get(), s.body.data(), s.body.size(), frame.data(), frame.size());
  if (ZSTD_isError(got)) {
    return refuse(BusDecodeError::bad_compression, std::string("zstd refused the frame: ") + ZSTD_getErrorName(got));
  }
  if (got != declared) {
    return refuse(BusDecodeError::bad_compression,
                  "zstd frame decompressed to " + std::to_string(got) + " bytes, declared " + std::to_string(declared));
  }
  body = s.body;
  return {};
}

class MessageReader {
 public:
  explicit MessageReader(const BusDecodeContext& context) : context_(context) {}

  BusDecodeResult read(wire::BusMessage::Reader in, BusPayload& out) {
    const sim::RegionId origin{in.getOrigin()};
    if (origin != context_.expected_origin) {
      return refuse(BusDecodeError::forged, "origin " + std::to_string(sim::raw(origin)) + " on region " +
                                                std::to_string(sim::raw(context_.expected_origin)) + "'s subject");
    }
    if (!known(origin)) return unknown(origin);
    switch (in.which()) {
      case wire::BusMessage::WORLD: return read_world(origin, in.getTick(), in.getWorld(), out);
      case wire::BusMessage::PRESENCE: return read_presence(origin, in.getTick(), in.getPresence(), out);
      case wire::BusMessage::HEALTH: return read_health(origin, in.getTick(), in.getHealth(), out);
    }
    return refuse(BusDecodeError::malformed,
                  "unknown message kind " + std::to_string(static_cast<unsigned>(in.which())));
  }

 private:
  [[nodiscard]] bool known(sim::RegionId region) const {
    if (context_.known_regions.empty()) return true;
    for (const sim::RegionId r : context_.known_regions) {
      if (r == region) return true;
    }
    return false;
  }
  [[nodiscard]] static BusDecodeResult unknown(sim::RegionId region) {
    return refuse(BusDecodeError::unknown_region, "region " + std::to_string(sim::raw(region)) + " is not deployed");
  }
  [[nodiscard]] static BusDecodeResult too_many(const char* what, size_t count, size_t max) {
    return refuse(BusDecodeError::too_many,
                  std::string(what) + ": " + std::to_string(count) + " entries, limit " + std::to_string(max));
  }
  [[nodiscard]] static BusDecodeResult bad(std::string what, size_t index) {
    return refuse(BusDecodeError::bad_value, what + " (entry " + std::to_string(index) + ")");
  }
  [[nodiscard]] bool on_map(int32_t x, int32_t y) const {
    return x >= 0 && y >= 0 && x < context_.map_cells_x && y < context_.map_cells_y;
  }
  [[nodiscard]] static bool kind_valid(sim::Layer layer, uint8_t kind) {
    switch (layer) {
      case sim::Layer::floor: return kind < to_underlying(sim::Floor::count);
      case sim::Layer::active: return kind < to_underlying(sim::Block::count);
      case sim::Layer::ceiling: return kind < to_underlying(sim::Ceiling::count);
      case sim::Layer::count: break;
    }
    return false;
  }
  // The caller's payload, holding `T` with its vectors' capacity kept.
  template <class T>
  static T& reuse(BusPayload& out) {
    if (!std::holds_alternative<T>(out)) out.emplace<T>();
    return std::get<T>(out);
  }

  BusDecodeResult read_world(sim::RegionId origin, uint64_t tick, wire::BusMessage::World::Reader in, BusPayload& out) {
    const uint32_t part = in.getPart();
    const uint32_t parts = in.getParts();
    if (parts == 0 || parts > bus_limits::world_parts_max || part >= parts) {
      return refuse(BusDecodeError::bad_value,
                    "part " + std::to_string(part) + " of " + std::to_string(parts) + " parts");
    }
    const auto writes = in.getWrites();
    if (writes.size() > bus_limits::writes_per_batch_max) {
      return too_many("world batch", writes.size(), bus_limits::writes_per_batch_max);
    }
    BusWorldBatch& batch = reuse<BusWorldBatch>(out);
    batch.origin = origin;
    batch.tick = tick;
    batch.part = part;
    batch.parts = parts;
    batch.writes.resize(writes.size());
    for (unsigned i = 0; i < writes.size(); ++i) {
      const auto w = writes[i];
      sim::BlockWrite& b = batch.writes[i];
      const auto layer = static_cast<uint16_t>(w.getLayer());
      if (layer >= to_underlying(sim::Layer::count)) return bad("layer " + std::to_string(layer), i);
      b.layer = static_cast<sim::Layer>(layer);
      b.kind = w.getKind();
      if (!kind_valid(b.layer, b.kind)) {
        return bad("kind " + std::to_string(b.kind) + " on layer " + std::string(sim::name(b.layer)), i);
      }
      b.cell = sim::CellPos{w.getCellX(), w.getCellY()};
      if (!on_map(b.cell.x, b.cell.y)) {
        return bad("cell (" + std::to_string(b.cell.x) + ", " + std::to_string(b.cell.y) + ") off the map", i);
      }
      b.state = w.getState();
      b.stamp = sim::LwwStamp{w.getStampHlc(), origin};
      if (b.stamp.hlc == 0) return bad("zero stamp", i);
    }
    return {};
  }

  BusDecodeResult read_presence(sim::RegionId origin, uint64_t tick, wire::BusMessage::Presence::Reader in,
                                BusPayload& out) {
    const auto entries = in.getEntries();
    if (entries.size() > bus_limits::presence_entries_max) {
      return too_many("presence", entries.size(), bus_limits::presence_entries_max);
    }
    BusPresence& presence = reuse<BusPresence>(out);
    presence.origin = origin;
    presence.tick = tick;
    presence.entries.resize(entries.size());
    // Positions are fixed point: [0, cells * 1/256 tile) on each axis.
    const int64_t max_x = int64_t{context_.map_cells_x} * sim::limits::fixed_one;
    const int64_t max_y = int64_t{context_.map_cells_y} * sim::limits::fixed_one;
    for (unsigned i = 0; i < entries.size(); ++i) {
      const auto e = entries[i];
      BusPresenceEntry& p = presence.entries[i];
      p.npc = e.getNpc();
      p.id = e.getId();
      if (p.id == 0 || (!p.npc && p.id > sim::limits::player_id_max)) return bad("id " + std::to_string(p.id), i);
      if (i > 0 && !presence_before(presence.entries[i - 1], p)) {
        return bad("not players then NPCs, each by id, once", i);
      }
      const int32_t x = e.getPosX();
      const int32_t y = e.getPosY();
      if (x < 0 || y < 0 || x >= max_x || y >= max_y) {
        return bad("position (" + std::to_string(x) + ", " + std::to_string(y) + ") off the map", i);
      }
      p.pos = sim::Vec2{sim::Fixed::from_raw(x), sim::Fixed::from_raw(y)};
      const auto facing = static_cast<uint16_t>(e.getFacing());
      if (facing >= to_underlying(sim::Direction::count)) return bad("facing " + std::to_string(facing), i);
      p.facing = static_cast<sim::Direction>(facing);
    }
    return {};
  }

  BusDecodeResult read_health(sim::RegionId origin, uint64_t tick, wire::BusMessage::Health::Reader in,
                              BusPayload& out) {
    const auto applied = in.getApplied();
    if (applied.size() > bus_limits::health_vector_max) {
      return too_many("health vector", applied.size(), bus_limits::health_vector_max);
    }
    BusHealth& health = reuse<BusHealth>(out);
    health.origin = origin;
    health.tick = tick;
    health.map_hash = in.getMapHash();
    health.applied.resize(applied.size());
    for (unsigned i = 0; i < applied.size(); ++i) {
      BusAppliedSeq& a = health.applied[i];
      a.origin = sim::RegionId{applied[i].getOrigin()};
      a.seq = applied[i].getSeq();
      if (i > 0 && sim::raw(health.applied[i - 1].origin) >= sim::raw(a.origin)) {
        return bad("health vector not sorted by origin, each once", i);
      }
      if (!known(a.origin)) return unknown(a.origin);
    }
    return {};
  }

  const BusDecodeContext& context_;
};

// capnp's validation and the field checks over an unpacked message; capnp's exceptions (its
// refusals) become `malformed`.
[[nodiscard]] BusDecodeResult read_message(kj::ArrayPtr<const capnp::word> words, const BusDecodeContext& context,
                                           BusPayload& out) {
  try {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = bus_limits::traversal_words;
    options.nestingLimit = bus_limits::nesting_max;
    capnp::FlatArrayMessageReader reader(words, options);
    if (reader.getEnd() != words.end()) return refuse(BusDecodeError::malformed, "trailing words after the message");
    return MessageReader(context).read(reader.getRoot<wire::BusMessage>(), out);
  } catch (const kj::Exception& e) {
    return refuse(BusDecodeError::malformed, std::string("malformed message: ") + e.getDescription().cStr());
  }
}

[[nodiscard]] BusDecodeError bus_error_of(DecodeError code) {
  switch (code) {
    case DecodeError::none: return BusDecodeError::none;
    case DecodeError::too_large: return BusDecodeError::too_large;
    default: return BusDecodeError::malformed;
  }
}

}  // namespace

BusDecodeResult decode_bus_payload(std::span<const uint8_t> bytes, const BusDecodeContext& context, BusPayload& out) {
  if (bytes.empty()) return refuse(BusDecodeError::empty, "no bytes");
  if (bytes.size() > bus_limits::payload_bytes_max) {
    return refuse(BusDecodeError::too_large,
                  std::to_string(bytes.size()) + " bytes, limit " + std::to_string(bus_limits::payload_bytes_max));
  }
  std::span<const uint8_t> body = bytes.subspan(1);
  if (bytes[0] == frame_zstd) {
    if (BusDecodeResult r = decompress(body, body); !r.ok()) return r;
  } else if (bytes[0] != frame_packed) {
    return refuse(BusDecodeError::bad_frame, "frame byte " + std::to_string(bytes[0]));
  }
  Scratch& s = scratch();
  size_t words = 0;
  std::string error;
  // Measured from the packed bytes (never from a segment table the sender wrote) and bounded
  // before the buffer grows.
  const DecodeError unpacked = detail::unpack_into(body, bus_limits::message_words_max, s.words, words, error);
  if (unpacked != DecodeError::none) return refuse(bus_error_of(unpacked), std::move(error));
  return read_message(s.words.words.slice(0, words).asConst(), context, out);
}

}  // namespace strata::schema
