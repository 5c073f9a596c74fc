// schema/snapshot_codec.cpp — world snapshots <-> packed Cap'n Proto (snapshot.capnp). The header
// is checked before the state is touched; the state is decoded and validated by sim::decode_state;
// then the decoded world must agree with the header (tick, params) and hash to the recorded value.
#include <algorithm>
#include <cstring>

#include "schema/codec.h"
#include "schema/limits.h"
#include "schema/packed_io.h"
#include "schema/snapshot.capnp.h"
#include "schema/wire_detail.h"
#include "sim/hash.h"
#include "sim/state_codec.h"

namespace strata::schema {
namespace {

static_assert(wire::SnapshotHeader::_capnpPrivate::dataWordSize + wire::SnapshotHeader::_capnpPrivate::pointerCount +
                      wire::WorldParams::_capnpPrivate::dataWordSize + wire::WorldParams::_capnpPrivate::pointerCount +
                      limits::region_map_words_max <=
                  limits::snapshot_header_words_max,
              "snapshot_header_words_max must cover the header and its params");
static_assert(wire::RegionRect::_capnpPrivate::dataWordSize == limits::region_rect_words &&
                  wire::RegionRect::_capnpPrivate::pointerCount == 0,
              "region_map_words_max assumes 3-word rectangles");

bool same_params(const sim::WorldParams& a, const sim::WorldParams& b) { return a == b; }

using detail::params_from_wire;
using detail::params_to_wire;
using detail::refused;

// Reads and checks the header. Returns an error result (value empty) or the header.
DecodeResult<SnapshotHeader> read_header(wire::Snapshot::Reader root) {
  if (!root.hasHeader()) return refused<SnapshotHeader>(DecodeError::bad_magic, "snapshot without a header");
  const auto h = root.getHeader();
  if (h.getMagic() != snapshot_magic)
    return refused<SnapshotHeader>(DecodeError::bad_magic, "not a Strata snapshot (bad magic)");
  SnapshotHeader header;
  header.format_version = h.getFormatVersion();
  header.rules_version = h.getRulesVersion();
  header.state_format_version = h.getStateFormatVersion();
  header.tick = h.getTick();
  header.full_hash = h.getFullHash();
  header.params = params_from_wire(h.getParams());
  if (header.format_version != snapshot_format_version) {
    return refused<SnapshotHeader>(DecodeError::bad_version, "snapshot format version " +
                                                                 std::to_string(header.format_version) +
                                                                 " not implemented (this build reads " +
                                                                 std::to_string(snapshot_format_version) + ")");
  }
  if (header.rules_version != sim::rules_version || header.params.rules != sim::rules_version) {
    return refused<SnapshotHeader>(DecodeError::rules_version, "rules version " + std::to_string(header.rules_version) +
                                                                   " not implemented by this build (it implements " +
                                                                   std::to_string(sim::rules_version) + ")");
  }
  if (header.state_format_version != sim::state_format_version) {
    return refused<SnapshotHeader>(
        DecodeError::bad_version,
        "state format version " + std::to_string(header.state_format_version) + " not implemented");
  }
  if (const char* problem = sim::validate(header.params)) {
    return refused<SnapshotHeader>(DecodeError::bad_params, std::string("bad world parameters: ") + problem);
  }
  DecodeResult<SnapshotHeader> ok;
  ok.value = header;
  return ok;
}

template <class T, class Fn>
DecodeResult<T> read_snapshot(std::span<const uint8_t> bytes, DecodeStats* stats, Fn&& then) {
  auto result = detail::read_message<T, wire::Snapshot>(
      bytes, limits::snapshot_words_max, limits::snapshot_traversal_words, limits::snapshot_nesting_max,
      [&](wire::Snapshot::Reader root) {
        auto header = read_header(root);
        if (!header.ok()) return refused<T>(header.code, std::move(header.error));
        if (!root.hasState()) return refused<T>(DecodeError::bad_state, "snapshot without state bytes");
        const auto state = root.getState();
        header.value->state_bytes = state.size();
        return then(*header.value, std::span<const uint8_t>(state.begin(), state.size()));
      });
  if (stats != nullptr) stats->count(result.code);
  return result;
}

}  // namespace

void detail::params_to_wire(const sim::WorldParams& p, wire::WorldParams::Builder out) {
  out.setSeed(p.seed);
  out.setChunksX(p.chunks_x);
  out.setChunksY(p.chunks_y);
  out.setRandomTicksPerChunk(p.random_ticks_per_chunk);
  out.setNpcCount(p.npc_count);
  out.setRegion(sim::raw(p.region));
  out.setRules(p.rules);
  out.setRegionMode(sim::to_underlying(p.region_map.mode));
  out.setRegionFallback(sim::raw(p.region_map.fallback));
  if (p.region_map.rects.empty()) return;
  auto rects = out.initRegionRects(static_cast<unsigned>(p.region_map.rects.size()));
  for (unsigned i = 0; i < rects.size(); ++i) {
    const sim::RegionRect& r = p.region_map.rects[i];
    auto w = rects[i];
    w.setX(r.x);
    w.setY(r.y);
    w.setW(r.w);
    w.setH(r.h);
    w.setRegion(sim::raw(r.region));
  }
}

sim::WorldParams detail::params_from_wire(wire::WorldParams::Reader in) {
  sim::WorldParams p;
  p.seed = in.getSeed();
  p.chunks_x = in.getChunksX();
  p.chunks_y = in.getChunksY();
  p.random_ticks_per_chunk = in.getRandomTicksPerChunk();
  p.npc_count = in.getNpcCount();
  p.region = sim::RegionId{in.getRegion()};
  p.rules = in.getRules();
  // An out-of-range mode or too many rectangles is kept so that sim::validate refuses the params
  // (the caller's check); at most one rectangle past the limit is copied.
  const uint8_t mode = in.getRegionMode();
  p.region_map.mode =
      mode < sim::to_underlying(sim::Ownership::count) ? static_cast<sim::Ownership>(mode) : sim::Ownership::count;
  p.region_map.fallback = sim::RegionId{in.getRegionFallback()};
  if (in.hasRegionRects()) {
    const auto rects = in.getRegionRects();
    const size_t count = std::min<size_t>(rects.size(), size_t{sim::limits::region_rects_max} + 1);
    p.region_map.rects.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      const auto r = rects[static_cast<unsigned>(i)];
      p.region_map.rects.push_back(
          sim::RegionRect{r.getX(), r.getY(), r.getW(), r.getH(), sim::RegionId{r.getRegion()}});
    }
  }
  return p;
}

std::vector<uint8_t> encode_snapshot(const sim::World& world) {
  std::vector<uint8_t> state;
  sim::encode_state(world, state);
  capnp::MallocMessageBuilder message(static_cast<unsigned>(state.size() / 8 + 32));
  auto root = message.initRoot<wire::Snapshot>();
  auto h = root.initHeader();
  h.setMagic(snapshot_magic);
  h.setFormatVersion(snapshot_format_version);
  h.setRulesVersion(sim::rules_version);
  h.setStateFormatVersion(sim::state_format_version);
  h.setTick(world.tick);
  h.setFullHash(sim::full_hash(world));
  params_to_wire(world.params, h.initParams());
  root.setState(capnp::Data::Reader(state.data(), state.size()));
  std::vector<uint8_t> out;
  detail::write_packed(message, out);
  return out;
}

DecodeResult<SnapshotHeader> decode_snapshot_header(std::span<const uint8_t> bytes, DecodeStats* stats) {
  return read_snapshot<SnapshotHeader>(bytes, stats, [](const SnapshotHeader& header, std::span<const uint8_t>) {
    DecodeResult<SnapshotHeader> ok;
    ok.value = header;
    return ok;
  });
}

DecodeResult<SnapshotDigest> decode_snapshot_digest(std::span<const uint8_t> bytes, DecodeStats* stats) {
  return read_snapshot<SnapshotDigest>(bytes, stats, [](const SnapshotHeader& header, std::span<const uint8_t> state) {
    if (state.size() > limits::state_bytes_max) {
      return refused<SnapshotDigest>(DecodeError::too_large, "state of " + std::to_string(state.size()) + " bytes");
    }
    const std::optional<uint64_t> hash = sim::state_bytes_full_hash(state);
    if (!hash) return refused<SnapshotDigest>(DecodeError::bad_state, "not a world state of this format");
    if (*hash != header.full_hash) {
      return refused<SnapshotDigest>(DecodeError::hash_mismatch,
                                     "full hash of the state bytes differs from the recorded one");
    }
    DecodeResult<SnapshotDigest> ok;
    ok.value = SnapshotDigest{header, *hash};
    return ok;
  });
}

DecodeResult<sim::World> decode_snapshot(std::span<const uint8_t> bytes, DecodeStats* stats) {
  return read_snapshot<sim::World>(bytes, stats, [](const SnapshotHeader& header, std::span<const uint8_t> state) {
    if (state.size() > limits::state_bytes_max) {
      return refused<sim::World>(DecodeError::too_large, "state of " + std::to_string(state.size()) + " bytes");
    }
    sim::StateDecodeResult decoded = sim::decode_state(state);
    if (!decoded.world) {
      return refused<sim::World>(
          DecodeError::bad_state,
          "state refused at byte " + std::to_string(decoded.error_offset) + ": " + decoded.error);
    }
    sim::World& world = *decoded.world;
    if (world.tick != header.tick) {
      return refused<sim::World>(DecodeError::bad_state, "state is at tick " + std::to_string(world.tick) +
                                                             ", header says " + std::to_string(header.tick));
    }
    if (!same_params(world.params, header.params)) {
      return refused<sim::World>(DecodeError::bad_state, "state world parameters differ from the header's");
    }
    const uint64_t hash = sim::full_hash(world);
    if (hash != header.full_hash) {
      return refused<sim::World>(DecodeError::hash_mismatch,
                                 "full hash of the decoded world differs from the recorded one");
    }
    DecodeResult<sim::World> ok;
    ok.value = std::move(world);
    return ok;
  });
}

}  // namespace strata::schema
