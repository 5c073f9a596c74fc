// tests/schema/bus_codec_test.cpp — the region event bus's payloads (schema/bus_codec.h): round
// trips of each kind, compressed and not; every refusal reason from a crafted input (forged and
// unknown origins, values off the sim's ranges, entries over the limits, zstd bombs and frames
// without their size, truncation, garbage); and properties: random payloads round-trip, and
// random mutations of an encoding never crash and decode either to a valid payload or to a reason.
#include <capnp/message.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <zstd.h>

#include <array>
#include <cstring>
#include <vector>

#include "schema/bus.capnp.h"
#include "schema/bus_codec.h"
#include "schema/packed_io.h"
#include "tests/schema/bus_payload_gen.h"

namespace strata::schema {
namespace {

constexpr sim::RegionId one{1};
constexpr sim::RegionId two{2};
constexpr sim::RegionId three{3};
constexpr std::array<sim::RegionId, 3> deployed = {one, two, three};
constexpr int32_t map_cells = 2048;

BusDecodeContext context_for(sim::RegionId origin) { return BusDecodeContext{origin, deployed, map_cells, map_cells}; }

std::vector<uint8_t> encode(const BusPayload& payload, BusEncodeOptions options = {}) {
  std::vector<uint8_t> out;
  encode_bus_payload(payload, options, out);
  return out;
}

BusDecodeResult decode(std::span<const uint8_t> bytes, BusPayload& out, sim::RegionId origin = two) {
  return decode_bus_payload(bytes, context_for(origin), out);
}

BusDecodeError code_of(std::span<const uint8_t> bytes, sim::RegionId origin = two) {
  BusPayload out;
  const BusDecodeResult result = decode(bytes, out, origin);
  EXPECT_EQ(result.ok(), result.error.empty()) << result.error;
  return result.code;
}

constexpr BusEncodeOptions never_compress{SIZE_MAX, 1};

// A message written with the generated builder, bypassing the encoder's requirements: what a
// hostile region could publish.
struct Crafted {
  capnp::MallocMessageBuilder message;
  wire::BusMessage::Builder root = message.initRoot<wire::BusMessage>();
  std::vector<uint8_t> framed() {
    std::vector<uint8_t> out{0x00};
    detail::write_packed(message, out);
    return out;
  }
};

wire::Write::Builder crafted_world(Crafted& crafted, sim::RegionId origin, unsigned writes) {
  crafted.root.setOrigin(sim::raw(origin));
  crafted.root.setTick(7);
  auto world = crafted.root.initWorld();
  world.setPart(0);
  world.setParts(1);
  auto list = world.initWrites(writes);
  for (unsigned i = 0; i < writes; ++i) {
    list[i].setCellX(10 + static_cast<int32_t>(i % 100));
    list[i].setCellY(20);
    list[i].setLayer(wire::Layer::ACTIVE);
    list[i].setKind(static_cast<uint8_t>(sim::Block::wood_wall));
    list[i].setStampHlc(1000 + i);
  }
  return list[0];
}

std::vector<uint8_t> zstd_frame(std::span<const uint8_t> body, bool with_content_size) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  EXPECT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, with_content_size ? 1 : 0)));
  std::vector<uint8_t> out(1 + ZSTD_compressBound(body.size()));
  out[0] = 0x01;
  const size_t n = ZSTD_compress2(cctx, out.data() + 1, out.size() - 1, body.data(), body.size());
  ZSTD_freeCCtx(cctx);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(1 + n);
  return out;
}

// --- round trips -------------------------------------------------------------------------------

TEST(BusCodec, AWorldBatchRoundTripsWithItsStampsOfItsOrigin) {
  BusWorldBatch batch = test::realistic_world_batch(two, 42, 10);
  batch.part = 1;
  batch.parts = 3;
  const auto bytes = encode(batch);
  ASSERT_EQ(bytes[0], 0x00) << "small batches are not compressed";
  BusPayload out;
  const BusDecodeResult result = decode(bytes, out);
  ASSERT_TRUE(result.ok()) << result.error;
  ASSERT_TRUE(std::holds_alternative<BusWorldBatch>(out));
  EXPECT_EQ(std::get<BusWorldBatch>(out), batch);
  for (const sim::BlockWrite& w : std::get<BusWorldBatch>(out).writes) EXPECT_EQ(w.stamp.region, two);
}

TEST(BusCodec, PresenceAndHealthRoundTrip) {
  const BusPresence presence = test::realistic_presence(two, 9, 20, 5);
  const BusHealth health = test::realistic_health(two, 9, 3);
  for (const BusPayload& payload : {BusPayload{presence}, BusPayload{health}}) {
    for (const BusEncodeOptions options : {BusEncodeOptions{}, never_compress, BusEncodeOptions{0, 3}}) {
      BusPayload out;
      const auto bytes = encode(payload, options);
      const BusDecodeResult result = decode(bytes, out);
      ASSERT_TRUE(result.ok()) << result.error;
      EXPECT_EQ(out, payload);
    }
  }
}

TEST(BusCodec, LargePresenceAndHealthAreCompressedAndRoundTrip) {
  const BusPresence presence = test::realistic_presence(two, 9, 1500, 500);
  const BusHealth health = test::realistic_health(two, 9, static_cast<uint16_t>(bus_limits::health_vector_max));
  const std::vector<sim::RegionId> all_regions = [] {
    std::vector<sim::RegionId> regions;
    for (uint16_t r = 1; r <= bus_limits::health_vector_max; ++r) regions.push_back(sim::RegionId{r});
    return regions;
  }();
  for (const BusPayload& payload : {BusPayload{presence}, BusPayload{health}}) {
    const auto bytes = encode(payload);
    EXPECT_EQ(bytes[0], 0x01);
    EXPECT_LT(bytes.size(), encode(payload, never_compress).size());
    BusPayload out;
    const BusDecodeResult result = decode_bus_payload(bytes, {two, all_regions, map_cells, map_cells}, out);
    ASSERT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(out, payload);
  }
}

TEST(BusCodec, AnEmptyBatchAndAnEmptyPresenceRoundTrip) {
  for (const BusPayload& payload : {BusPayload{BusWorldBatch{two, 1, 0, 1, {}}}, BusPayload{BusPresence{two, 1, {}}},
                                    BusPayload{BusHealth{two, 1, {}, 0}}}) {
    BusPayload out;
    ASSERT_TRUE(decode(encode(payload), out).ok());
    EXPECT_EQ(out, payload);
  }
}

TEST(BusCodec, ABatchAboveTheThresholdIsCompressedAndSmaller) {
  const BusWorldBatch batch = test::realistic_world_batch(two, 100, 1000);
  const auto packed = encode(batch, never_compress);
  const auto compressed = encode(batch);
  ASSERT_GT(packed.size(), BusEncodeOptions{}.compress_above_bytes);
  EXPECT_EQ(packed[0], 0x00);
  EXPECT_EQ(compressed[0], 0x01);
  EXPECT_LT(compressed.size(), packed.size());
  BusPayload out;
  const BusDecodeResult result = decode(compressed, out);
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(out, BusPayload{batch});
  // The body of a compressed payload is the zstd frame of the uncompressed payload's body.
  std::vector<uint8_t> body(ZSTD_getFrameContentSize(compressed.data() + 1, compressed.size() - 1));
  ASSERT_EQ(ZSTD_decompress(body.data(), body.size(), compressed.data() + 1, compressed.size() - 1), body.size());
  EXPECT_TRUE(std::equal(body.begin(), body.end(), packed.begin() + 1, packed.end()));
}

TEST(BusCodec, IncompressibleBodiesStayPacked) {
  // Stamps and cells from a random spread: zstd cannot win on a handful of such writes.
  BusWorldBatch batch;
  batch.origin = two;
  test::BusGenRandom random(5);
  for (int i = 0; i < 8; ++i) {
    batch.writes.push_back(sim::BlockWrite{
        sim::CellPos{static_cast<int32_t>(random.below(2048)), static_cast<int32_t>(random.below(2048))},
        sim::Layer::active, 1, 0, sim::LwwStamp{random.next() | 1, two}});
  }
  const auto bytes = encode(batch, BusEncodeOptions{0, 1});
  EXPECT_EQ(bytes[0], 0x00);
  BusPayload out;
  ASSERT_TRUE(decode(bytes, out).ok());
  EXPECT_EQ(out, BusPayload{batch});
}

TEST(BusCodec, TheLargestBatchFitsOnePayloadUncompressed) {
  BusWorldBatch batch;
  batch.origin = two;
  batch.tick = UINT64_MAX;
  test::BusGenRandom random(9);
  for (size_t i = 0; i < bus_limits::writes_per_batch_max; ++i) {
    // Every byte of every field nonzero: the worst case for packing.
    batch.writes.push_back(sim::BlockWrite{sim::CellPos{static_cast<int32_t>(0x01010101 | random.below(1U << 30)), -1},
                                           sim::Layer::ceiling, 255, 255, sim::LwwStamp{~0ULL, two}});
  }
  const auto bytes = encode(batch, never_compress);
  EXPECT_LE(bytes.size(), bus_limits::payload_bytes_max);
  BusPayload out;
  // Refused only for its values (cells off any map, a kind out of range), not for its size.
  EXPECT_EQ(decode(bytes, out).code, BusDecodeError::bad_value);
}

TEST(BusCodec, DecodingReusesTheCallersPayload) {
  BusPayload out;
  ASSERT_TRUE(decode(encode(test::realistic_world_batch(two, 1, 500)), out).ok());
  const size_t capacity = std::get<BusWorldBatch>(out).writes.capacity();
  ASSERT_TRUE(decode(encode(test::realistic_world_batch(two, 2, 10)), out).ok());
  EXPECT_EQ(std::get<BusWorldBatch>(out).writes.size(), 10U);
  EXPECT_EQ(std::get<BusWorldBatch>(out).writes.capacity(), capacity);
  ASSERT_TRUE(decode(encode(test::realistic_health(two, 3, 2)), out).ok());
  EXPECT_EQ(out, BusPayload{test::realistic_health(two, 3, 2)});
}

// --- refusals ----------------------------------------------------------------------------------

TEST(BusCodec, EveryReasonHasAName) {
  EXPECT_EQ(name(BusDecodeError::none), "none");
  EXPECT_EQ(name(BusDecodeError::bad_compression), "bad_compression");
  EXPECT_EQ(name(BusDecodeError::bad_value), "bad_value");
  for (size_t i = 0; i < bus_decode_error_count; ++i) EXPECT_FALSE(name(static_cast<BusDecodeError>(i)).empty());
}

TEST(BusCodec, StatsCountEachReason) {
  BusDecodeStats stats;
  for (const BusDecodeError code : {BusDecodeError::none, BusDecodeError::forged, BusDecodeError::forged,
                                    BusDecodeError::bad_value, BusDecodeError::none, BusDecodeError::none}) {
    stats.count(code);
  }
  EXPECT_EQ(stats.accepted, 3U);
  EXPECT_EQ(stats.refused[static_cast<size_t>(BusDecodeError::forged)], 2U);
  EXPECT_EQ(stats.refused[static_cast<size_t>(BusDecodeError::bad_value)], 1U);
  EXPECT_EQ(stats.refused[static_cast<size_t>(BusDecodeError::none)], 0U);
}

TEST(BusCodec, EmptyBadFrameAndOversizedPayloadsAreRefused) {
  EXPECT_EQ(code_of({}), BusDecodeError::empty);
  auto bytes = encode(test::realistic_world_batch(two, 1, 3));
  bytes[0] = 0x02;
  EXPECT_EQ(code_of(bytes), BusDecodeError::bad_frame);
  bytes[0] = 0xff;
  EXPECT_EQ(code_of(bytes), BusDecodeError::bad_frame);
  std::vector<uint8_t> huge(bus_limits::payload_bytes_max + 1, 0);
  EXPECT_EQ(code_of(huge), BusDecodeError::too_large);
  // A frame byte alone: no message behind it.
  EXPECT_EQ(code_of(std::vector<uint8_t>{0x00}), BusDecodeError::malformed);
  EXPECT_EQ(code_of(std::vector<uint8_t>{0x01}), BusDecodeError::bad_compression);
}

TEST(BusCodec, AForgedOriginIsRefused) {
  // Region 3 speaks on region 2's subject, for each kind, compressed or not.
  for (const BusPayload& payload :
       {BusPayload{test::realistic_world_batch(three, 5, 2000)}, BusPayload{test::realistic_world_batch(three, 5, 2)},
        BusPayload{test::realistic_presence(three, 5, 3, 1)}, BusPayload{test::realistic_health(three, 5, 3)}}) {
    EXPECT_EQ(code_of(encode(payload), two), BusDecodeError::forged);
    EXPECT_EQ(code_of(encode(payload), three), BusDecodeError::none);
  }
}

TEST(BusCodec, AnUnknownRegionIsRefused) {
  const sim::RegionId nine{9};
  EXPECT_EQ(code_of(encode(test::realistic_world_batch(nine, 5, 2)), nine), BusDecodeError::unknown_region);
  // A deployment that lists no regions takes any.
  BusPayload out;
  EXPECT_TRUE(
      decode_bus_payload(encode(test::realistic_world_batch(nine, 5, 2)), {nine, {}, map_cells, map_cells}, out).ok());
  // A health vector naming a region not deployed.
  BusHealth health = test::realistic_health(two, 5, 3);
  health.applied.push_back({nine, 1});
  EXPECT_EQ(code_of(encode(health)), BusDecodeError::unknown_region);
}

TEST(BusCodec, AWriteStampedByAnotherRegionCannotBeSent) {
  // On the wire a write has no stamp region: the origin's is implied, so a decoded write is always
  // its origin's (checked by the round trips); our encoder refuses to imply it falsely.
  BusWorldBatch batch = test::realistic_world_batch(two, 5, 3);
  batch.writes[1].stamp.region = three;
  std::vector<uint8_t> out;
  EXPECT_DEATH(encode_bus_payload(batch, {}, out), "a world batch carries only its origin's writes");
}

TEST(BusCodec, CellsOffTheMapAreRefused) {
  for (const auto& [x, y] : {std::pair{-1, 0}, std::pair{0, -1}, std::pair{map_cells, 0}, std::pair{0, map_cells},
                             std::pair{INT32_MIN, INT32_MAX}}) {
    Crafted crafted;
    auto write = crafted_world(crafted, two, 3);
    write.setCellX(x);
    write.setCellY(y);
    EXPECT_EQ(code_of(crafted.framed()), BusDecodeError::bad_value) << x << "," << y;
  }
  Crafted edge;
  auto write = crafted_world(edge, two, 3);
  write.setCellX(map_cells - 1);
  write.setCellY(map_cells - 1);
  EXPECT_EQ(code_of(edge.framed()), BusDecodeError::none);
  // Presence off the map (fixed point: one unit past the last cell).
  BusPresence presence = test::realistic_presence(two, 5, 2, 0);
  presence.entries[1].pos.x = sim::Fixed::from_tiles(map_cells);
  EXPECT_EQ(code_of(encode(presence)), BusDecodeError::bad_value);
  presence.entries[1].pos.x = sim::Fixed::from_raw(-1);
  EXPECT_EQ(code_of(encode(presence)), BusDecodeError::bad_value);
}

TEST(BusCodec, BadEnumsKindsAndZeroStampsAreRefused) {
  {
    Crafted crafted;
    crafted_world(crafted, two, 2).setLayer(static_cast<wire::Layer>(3));
    EXPECT_EQ(code_of(crafted.framed()), BusDecodeError::bad_value);
  }
  {
    Crafted crafted;
    crafted_world(crafted, two, 2).setKind(static_cast<uint8_t>(sim::Block::count));
    EXPECT_EQ(code_of(crafted.framed()), BusDecodeError::bad_value);
  }
  {
    Crafted crafted;
    auto write = crafted_world(crafted, two, 2);
    write.setLayer(wire::Layer::CEILING);
    write.setKind(static_cast<uint8_t>(sim::Ceiling::count));
    EXPECT_EQ(code_of(crafted.framed()), BusDecodeError::bad_value);
  }
  {
    Crafted crafted;
    crafted_world(crafted, two, 2).setStampHlc(0);
    EXPECT_EQ(code_of(crafted.framed()), BusDecodeError::bad_value);
  }
  {
    Crafted crafted;
    crafted.root.setOrigin(sim::raw(two));
    auto entry = crafted.root.initPresence().initEntries(1)[0];
    entry.setId(1);
    entry.setPosX(256);
    entry.setPosY(256);
    entry.setFacing(static_cast<wire::Direction>(9));
    EXPECT_EQ(code_of(crafted.framed()), BusDecodeError::bad_value);
    entry.setFacing(wire::Direction::NW);
    EXPECT_EQ(code_of(crafted.framed()), BusDecodeError::none);
    entry.setId(0);
    EXPECT_EQ(code_of(crafted.framed()), BusDecodeError::bad_value);
    entry.setId(sim::limits::player_id_max + 1);
    EXPECT_EQ(code_of(crafted.framed()), BusDecodeError::bad_value);
    entry.setNpc(true);  // NPC ids are not player ids
    EXPECT_EQ(code_of(crafted.framed()), BusDecodeError::none);
  }
}

TEST(BusCodec, PartsOutOfTheirCountAreRefused) {
  for (const auto& [part, parts] :
       {std::pair{1U, 1U}, std::pair{0U, 0U}, std::pair{5U, 3U}, std::pair{0U, bus_limits::world_parts_max + 1}}) {
    Crafted crafted;
    crafted_world(crafted, two, 1);
    crafted.root.getWorld().setPart(part);
    crafted.root.getWorld().setParts(parts);
    EXPECT_EQ(code_of(crafted.framed()), BusDecodeError::bad_value) << part << "/" << parts;
  }
}

TEST(BusCodec, ListsOutOfOrderAreRefused) {
  BusHealth health = test::realistic_health(two, 5, 3);
  std::swap(health.applied[0], health.applied[1]);
  Crafted unsorted;
  unsorted.root.setOrigin(sim::raw(two));
  auto applied = unsorted.root.initHealth().initApplied(2);
  applied[0].setOrigin(2);
  applied[1].setOrigin(1);
  EXPECT_EQ(code_of(unsorted.framed()), BusDecodeError::bad_value);
  applied[1].setOrigin(2);  // twice
  EXPECT_EQ(code_of(unsorted.framed()), BusDecodeError::bad_value);
  applied[1].setOrigin(3);
  EXPECT_EQ(code_of(unsorted.framed()), BusDecodeError::none);

  Crafted presence;
  presence.root.setOrigin(sim::raw(two));
  auto entries = presence.root.initPresence().initEntries(2);
  for (unsigned i = 0; i < 2; ++i) {
    entries[i].setPosX(300);
    entries[i].setPosY(300);
  }
  entries[0].setNpc(true);  // an NPC before a player
  entries[0].setId(1);
  entries[1].setId(2);
  EXPECT_EQ(code_of(presence.framed()), BusDecodeError::bad_value);
  entries[0].setNpc(false);
  entries[1].setId(1);  // the same player twice
  EXPECT_EQ(code_of(presence.framed()), BusDecodeError::bad_value);
  entries[1].setNpc(true);  // player 1 and NPC 1 are different entities
  EXPECT_EQ(code_of(presence.framed()), BusDecodeError::none);
}

TEST(BusCodec, MoreEntriesThanTheLimitAreRefused) {
  // A world batch one write over: its words are over the largest legal message's, so it is
  // refused before it is unpacked.
  Crafted crafted;
  crafted_world(crafted, two, static_cast<unsigned>(bus_limits::writes_per_batch_max + 1));
  EXPECT_EQ(code_of(crafted.framed()), BusDecodeError::too_large);
  // Smaller entries fit the words and are counted.
  Crafted presence;
  presence.root.setOrigin(sim::raw(two));
  auto entries = presence.root.initPresence().initEntries(static_cast<unsigned>(bus_limits::presence_entries_max + 1));
  for (unsigned i = 0; i < entries.size(); ++i) {
    entries[i].setId(i + 1);
    entries[i].setPosX(256);
    entries[i].setPosY(256);
  }
  EXPECT_EQ(code_of(presence.framed()), BusDecodeError::too_many);
  Crafted health;
  health.root.setOrigin(sim::raw(two));
  auto applied = health.root.initHealth().initApplied(static_cast<unsigned>(bus_limits::health_vector_max + 1));
  for (unsigned i = 0; i < applied.size(); ++i) applied[i].setOrigin(static_cast<uint16_t>(i + 1));
  EXPECT_EQ(code_of(health.framed()), BusDecodeError::too_many);
}

TEST(BusCodec, ZstdBombsAreRefusedBeforeDecompressing) {
  // A real frame of a body above the limit (a few hundred bytes of zstd for 4 MiB of zeros).
  std::vector<uint8_t> zeros(bus_limits::body_bytes_max + 1, 0);
  const auto bomb = zstd_frame(zeros, true);
  ASSERT_LT(bomb.size(), 1024U);
  EXPECT_EQ(code_of(bomb), BusDecodeError::too_large);
  // A frame header declaring 2^40 bytes, then nothing a decompressor would ever reach.
  std::vector<uint8_t> forged = {0x01, 0x28, 0xB5, 0x2F, 0xFD, 0xE0};  // magic; single segment, 8-byte size
  for (int i = 0; i < 8; ++i) forged.push_back(i == 5 ? 0x01 : 0x00);
  forged.insert(forged.end(), {0x01, 0x00, 0x00});
  EXPECT_EQ(ZSTD_getFrameContentSize(forged.data() + 1, forged.size() - 1), 1ULL << 40);
  EXPECT_EQ(code_of(forged), BusDecodeError::too_large);
}

TEST(BusCodec, ZstdFramesWithoutTheirSizeOrBrokenAreRefused) {
  const auto payload = encode(test::realistic_world_batch(two, 1, 300), never_compress);
  const std::span<const uint8_t> body(payload.begin() + 1, payload.end());
  const auto good = zstd_frame(body, true);
  EXPECT_EQ(code_of(good), BusDecodeError::none);
  EXPECT_EQ(code_of(zstd_frame(body, false)), BusDecodeError::bad_compression);
  // Truncated frame, a frame with bytes after it, a frame whose content is corrupted.
  EXPECT_EQ(code_of(std::span(good).first(good.size() - 1)), BusDecodeError::bad_compression);
  auto trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(code_of(trailing), BusDecodeError::bad_compression);
  auto corrupted = good;
  for (size_t i = 20; i < corrupted.size() - 4; i += 7) corrupted[i] ^= 0x5A;
  EXPECT_NE(code_of(corrupted), BusDecodeError::none);
  // The compressed body of something that is not a message.
  const std::array<uint8_t, 64> junk{1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_EQ(code_of(zstd_frame(junk, true)), BusDecodeError::malformed);
}

TEST(BusCodec, TruncatedAndGarbageBytesAreRefused) {
  const auto bytes = encode(test::realistic_world_batch(two, 3, 50), never_compress);
  for (size_t keep = 1; keep < bytes.size(); ++keep) {
    BusPayload out;
    const BusDecodeResult result = decode(std::span(bytes).first(keep), out);
    EXPECT_FALSE(result.ok()) << keep;
    EXPECT_FALSE(result.error.empty());
  }
  test::BusGenRandom random(77);
  for (int i = 0; i < 200; ++i) {
    std::vector<uint8_t> garbage(1 + random.below(300));
    for (uint8_t& b : garbage) b = static_cast<uint8_t>(random.next());
    garbage[0] = static_cast<uint8_t>(i % 2);
    EXPECT_NE(code_of(garbage), BusDecodeError::none) << i;
  }
  // A run of zero words (tag 0x00, count 255, over and over) unpacks past the limit: refused
  // before the buffer is allocated.
  std::vector<uint8_t> zero_runs{0x00};
  for (int i = 0; i < 400; ++i) zero_runs.insert(zero_runs.end(), {0x00, 0xFF});
  EXPECT_EQ(code_of(zero_runs), BusDecodeError::too_large);
}

// Packs raw message words the simplest valid way (a tag per word, runs of length 0).
std::vector<uint8_t> pack_words(std::span<const uint64_t> words) {
  std::vector<uint8_t> out{0x00};
  for (const uint64_t word : words) {
    uint8_t tag = 0;
    for (int b = 0; b < 8; ++b) tag |= ((word >> (8 * b)) & 0xFF) != 0 ? static_cast<uint8_t>(1U << b) : 0;
    out.push_back(tag);
    for (int b = 0; b < 8; ++b) {
      if ((tag >> b) & 1U) out.push_back(static_cast<uint8_t>(word >> (8 * b)));
    }
    if (tag == 0x00 || tag == 0xFF) out.push_back(0);
  }
  return out;
}

TEST(BusCodec, AListOfVoidClaimingMillionsOfWritesIsRefused) {
  // A five-word message whose writes pointer is a list of 2^29 - 1 zero-size elements: no bytes
  // behind it, so capnp's amplification check (under the traversal limit) refuses it.
  const std::array<uint64_t, 6> words = {
      uint64_t{5} << 32,                          // segment table: one segment of 5 words
      (uint64_t{1} << 48) | (uint64_t{3} << 32),  // root: struct, 3 data words, 1 pointer
      sim::raw(two),                              // origin, union tag 0 (world), part 0
      7,                                          // tick
      1,                                          // parts
      1 | (uint64_t{(1U << 29) - 1} << 35),       // list pointer: element size 0 (void), count
  };
  EXPECT_EQ(code_of(pack_words(words)), BusDecodeError::malformed);
  // The same message with an honest empty list decodes: the crafting is right.
  auto honest = words;
  honest[5] = 1;
  EXPECT_EQ(code_of(pack_words(honest)), BusDecodeError::none);
}

// --- properties --------------------------------------------------------------------------------

BusPayload arbitrary_payload(sim::RegionId origin) {
  const uint64_t tick = *rc::gen::arbitrary<uint64_t>();
  switch (*rc::gen::inRange(0, 3)) {
    case 0: {
      BusWorldBatch batch;
      batch.origin = origin;
      batch.tick = tick;
      batch.parts = *rc::gen::inRange<uint32_t>(1, bus_limits::world_parts_max + 1);
      batch.part = *rc::gen::inRange<uint32_t>(0, batch.parts);
      const size_t count = *rc::gen::inRange<size_t>(0, 300);
      for (size_t i = 0; i < count; ++i) {
        sim::BlockWrite w;
        w.cell = sim::CellPos{*rc::gen::inRange(0, map_cells), *rc::gen::inRange(0, map_cells)};
        w.layer = static_cast<sim::Layer>(*rc::gen::inRange(0, 3));
        const int kinds = w.layer == sim::Layer::floor    ? sim::to_underlying(sim::Floor::count)
                          : w.layer == sim::Layer::active ? sim::to_underlying(sim::Block::count)
                                                          : sim::to_underlying(sim::Ceiling::count);
        w.kind = static_cast<uint8_t>(*rc::gen::inRange(0, kinds));
        w.state = *rc::gen::arbitrary<uint8_t>();
        w.stamp = sim::LwwStamp{*rc::gen::inRange<uint64_t>(1, UINT64_MAX), origin};
        batch.writes.push_back(w);
      }
      return batch;
    }
    case 1: {
      BusPresence presence;
      presence.origin = origin;
      presence.tick = tick;
      auto ids = *rc::gen::container<std::set<uint32_t>>(rc::gen::inRange<uint32_t>(1, 5000));
      const size_t players = *rc::gen::inRange<size_t>(0, ids.size() + 1);
      size_t i = 0;
      std::vector<BusPresenceEntry> npcs;
      for (const uint32_t id : ids) {
        const auto pos = [] { return sim::Fixed::from_raw(*rc::gen::inRange(0, map_cells * 256)); };
        BusPresenceEntry e{i >= players, id, sim::Vec2{pos(), pos()},
                           static_cast<sim::Direction>(*rc::gen::inRange(0, 9))};
        (e.npc ? npcs : presence.entries).push_back(e);
        ++i;
      }
      presence.entries.insert(presence.entries.end(), npcs.begin(), npcs.end());
      return presence;
    }
    default: {
      BusHealth health;
      health.origin = origin;
      health.tick = tick;
      health.map_hash = *rc::gen::arbitrary<uint64_t>();
      for (uint16_t r = 1; r <= 3; ++r) {
        if (*rc::gen::arbitrary<bool>()) health.applied.push_back({sim::RegionId{r}, *rc::gen::arbitrary<uint64_t>()});
      }
      return health;
    }
  }
}

RC_GTEST_PROP(BusCodec, RandomPayloadsRoundTrip, ()) {
  const BusPayload payload = arbitrary_payload(two);
  const BusEncodeOptions options{*rc::gen::element<size_t>(0, 64, 1024, SIZE_MAX), *rc::gen::inRange(1, 6)};
  const auto bytes = encode(payload, options);
  RC_ASSERT(bytes.size() <= bus_limits::payload_bytes_max);
  BusPayload out;
  const BusDecodeResult result = decode(bytes, out);
  RC_ASSERT(result.ok());
  RC_ASSERT(out == payload);
}

// What every accepted payload satisfies, whatever bytes it came from.
bool valid(const BusPayload& payload) {
  return std::visit(
      [](const auto& p) {
        if (p.origin != two) return false;
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, BusWorldBatch>) {
          if (p.parts == 0 || p.part >= p.parts || p.writes.size() > bus_limits::writes_per_batch_max) return false;
          for (const sim::BlockWrite& w : p.writes) {
            if (w.stamp.region != two || w.stamp.hlc == 0 || !sim::enum_valid(w.layer)) return false;
            if (w.cell.x < 0 || w.cell.y < 0 || w.cell.x >= map_cells || w.cell.y >= map_cells) return false;
          }
        } else if constexpr (std::is_same_v<T, BusPresence>) {
          for (const BusPresenceEntry& e : p.entries) {
            if (!sim::enum_valid(e.facing) || e.id == 0 || e.pos.x.raw() < 0 || e.pos.y.raw() < 0) return false;
            if (e.pos.x.tile() >= map_cells || e.pos.y.tile() >= map_cells) return false;
          }
        } else {
          for (size_t i = 0; i < p.applied.size(); ++i) {
            if (sim::raw(p.applied[i].origin) < 1 || sim::raw(p.applied[i].origin) > 3) return false;
            if (i > 0 && sim::raw(p.applied[i - 1].origin) >= sim::raw(p.applied[i].origin)) return false;
          }
        }
        return true;
      },
      payload);
}

RC_GTEST_PROP(BusCodec, MutatedBytesDecodeToAValidPayloadOrAReason, ()) {
  const BusPayload payload = arbitrary_payload(two);
  auto bytes = encode(payload, BusEncodeOptions{*rc::gen::element<size_t>(0, SIZE_MAX), 1});
  const size_t mutations = *rc::gen::inRange(1, 8);
  for (size_t i = 0; i < mutations; ++i) {
    const size_t at = *rc::gen::inRange<size_t>(0, bytes.size());
    switch (*rc::gen::inRange(0, 4)) {
      case 0: bytes[at] = *rc::gen::arbitrary<uint8_t>(); break;
      case 1: bytes[at] ^= static_cast<uint8_t>(1U << *rc::gen::inRange(0, 8)); break;
      case 2: bytes.resize(at + 1); break;
      default: bytes.insert(bytes.begin() + static_cast<ptrdiff_t>(at), *rc::gen::arbitrary<uint8_t>()); break;
    }
  }
  BusPayload out;
  const BusDecodeResult result = decode(bytes, out);
  RC_TAG(std::string(name(result.code)));
  if (result.ok()) {
    RC_ASSERT(valid(out));
    // What was accepted encodes and decodes to itself.
    BusPayload again;
    RC_ASSERT(decode(encode(out), again).ok());
    RC_ASSERT(again == out);
  } else {
    RC_ASSERT(result.code != BusDecodeError::none && result.code < BusDecodeError::count);
    RC_ASSERT(!result.error.empty());
  }
}

}  // namespace
}  // namespace strata::schema
