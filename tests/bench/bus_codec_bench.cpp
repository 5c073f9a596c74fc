// tests/bench/bus_codec_bench.cpp — the region event bus's payload codec (schema/bus_codec.h),
// issue 15's "bytes per write with and without compression": one tick's world batch of N writes
// (tests/schema/bus_payload_gen.h: bots building and breaking in a square of `area` cells, 64 =
// clustered like a build site, 2048 = spread over the whole map), encoded without compression
// (zstd:0) or with zstd at a level (the encoder keeps whichever is smaller; threshold 0 here so
// small batches try too). Counters: bytes_per_write (the payload, frame byte included, over N),
// payload_bytes, and writes per second (items). bus/encode times encode_bus_payload, bus/decode
// decode_bus_payload of the same payload. Figures are printed, never asserted.
#include <benchmark/benchmark.h>

#include <array>
#include <vector>

#include "schema/bus_codec.h"
#include "tests/schema/bus_payload_gen.h"

namespace {

using namespace strata;

constexpr sim::RegionId origin{2};
constexpr std::array<sim::RegionId, 2> deployed = {sim::RegionId{1}, sim::RegionId{2}};

struct Case {
  schema::BusWorldBatch batch;
  schema::BusEncodeOptions options;
  std::vector<uint8_t> bytes;
};

Case make_case(const benchmark::State& state) {
  Case c;
  const auto writes = static_cast<size_t>(state.range(0));
  const auto level = static_cast<int>(state.range(1));
  const auto area = static_cast<int32_t>(state.range(2));
  c.batch = test::realistic_world_batch(origin, 1000, writes, 1, area == 2048 ? 1024 : 1000, area);
  c.options = level == 0 ? schema::BusEncodeOptions{SIZE_MAX, 1} : schema::BusEncodeOptions{0, level};
  schema::encode_bus_payload(c.batch, c.options, c.bytes);
  return c;
}

void report(benchmark::State& state, const Case& c) {
  const auto writes = static_cast<double>(c.batch.writes.size());
  state.counters["bytes_per_write"] = static_cast<double>(c.bytes.size()) / writes;
  state.counters["payload_bytes"] = static_cast<double>(c.bytes.size());
  state.counters["compressed"] = c.bytes[0] == 0x01 ? 1 : 0;
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(c.batch.writes.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(c.bytes.size()));
}

void BM_BusEncode(benchmark::State& state) {
  Case c = make_case(state);
  std::vector<uint8_t> out;
  for (auto _ : state) {
    schema::encode_bus_payload(c.batch, c.options, out);
    benchmark::DoNotOptimize(out.data());
  }
  report(state, c);
}

void BM_BusDecode(benchmark::State& state) {
  const Case c = make_case(state);
  const schema::BusDecodeContext context{origin, deployed, 2048, 2048};
  schema::BusPayload out;
  for (auto _ : state) {
    const schema::BusDecodeResult result = schema::decode_bus_payload(c.bytes, context, out);
    if (!result.ok()) state.SkipWithError(result.error.c_str());
    benchmark::DoNotOptimize(&out);
  }
  report(state, c);
}

void cases(benchmark::internal::Benchmark* b) {
  b->ArgNames({"writes", "zstd", "area"});
  for (const int64_t area : {64, 2048}) {
    for (const int64_t writes : {1, 10, 100, 1000, 10000}) {
      for (const int64_t level : {0, 1, 3}) b->Args({writes, level, area});
    }
  }
}

BENCHMARK(BM_BusEncode)->Name("bus/encode")->Apply(cases);
BENCHMARK(BM_BusDecode)->Name("bus/decode")->Apply(cases);

}  // namespace

BENCHMARK_MAIN();
