// tests/bench/client_message_bench.cpp — strata-bench-client-messages: what decoding a client's
// message costs the server's network thread, for the worst message a client can send, through the
// general decoder (every kind, the server's kinds' budgets: what the server ran before) and the
// client decoder (client kinds only, per-kind budgets: what it runs now). Figures per message:
// bytes allocated (global operator new, counted in this binary only), and ns per input byte.
// Also what a new observer costs the tick thread: encoding the world there (before) against the
// copy the node now makes before a worker encodes it (observer_start/*, 32 x 32 chunks).
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "../schema/client_message_gen.h"
#include "schema/client/messages.h"
#include "schema/codec.h"
#include "sim/simulation.h"

namespace {
std::atomic<uint64_t> allocated_bytes{0};
}  // namespace

void* operator new(size_t size) {
  allocated_bytes.fetch_add(size, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void* operator new[](size_t size) { return operator new(size); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace {

using namespace strata::view;
namespace sim = strata::sim;
namespace schema = strata::schema;

enum class Worst : int { zero_runs_observer_tick, fat_observer_tick, zero_runs_inputs, largest_inputs };

std::vector<uint8_t> message(Worst worst) {
  switch (worst) {
    // 16 kB of zero runs claiming a server kind: unpacks to 16 MiB under the observer budget.
    case Worst::zero_runs_observer_tick: return test::zero_runs(MessageKind::observer_tick, 16'000);
    // A well-formed 8 MiB observer tick (~8 kB packed): unpacked, then its input copied.
    case Worst::fat_observer_tick: return test::fat_observer_tick((size_t{8} << 20) - 65536);
    // Zero runs claiming inputs, as large as the inputs kind's packed bound allows.
    case Worst::zero_runs_inputs: return test::zero_runs(MessageKind::inputs, client_limits::message_bytes_max - 1);
    // The largest legal input batch: decoded whole.
    case Worst::largest_inputs: return test::largest_inputs();
  }
  return {};
}

template <bool client>
void BM_Decode(benchmark::State& state) {
  const std::vector<uint8_t> bytes = message(static_cast<Worst>(state.range(0)));
  uint64_t allocated = 0;
  uint64_t decoded = 0;
  for (auto _ : state) {
    const uint64_t before = allocated_bytes.load(std::memory_order_relaxed);
    auto result = client ? decode_client_message(bytes) : decode_message(bytes);
    allocated += allocated_bytes.load(std::memory_order_relaxed) - before;
    decoded += result.message ? 1 : 0;
    benchmark::DoNotOptimize(result);
  }
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["message_bytes"] = static_cast<double>(bytes.size());
  state.counters["allocated_bytes_per_message"] = static_cast<double>(allocated) / iterations;
  state.counters["allocated_per_input_byte"] =
      static_cast<double>(allocated) / iterations / static_cast<double>(bytes.size());
  state.counters["decoded"] = static_cast<double>(decoded) / iterations;
  state.counters["ns_per_input_byte"] = benchmark::Counter(static_cast<double>(bytes.size()) * iterations,
                                                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetBytesProcessed(static_cast<int64_t>(bytes.size()) * state.iterations());
}

void worst_messages(benchmark::internal::Benchmark* b) {
  b->ArgNames({"worst"});
  for (int w = 0; w <= static_cast<int>(Worst::largest_inputs); ++w) b->Arg(w);
}

BENCHMARK(BM_Decode<false>)->Name("client_messages/general_decoder")->Apply(worst_messages);
BENCHMARK(BM_Decode<true>)->Name("client_messages/client_decoder")->Apply(worst_messages);

sim::World big_world() {
  sim::WorldParams params;
  params.seed = 5;
  params.chunks_x = 32;
  params.chunks_y = 32;
  params.npc_count = 1000;
  return sim::Simulation(params).world();
}

void BM_ObserverStartEncode(benchmark::State& state) {
  const sim::World world = big_world();
  size_t bytes = 0;
  for (auto _ : state) {
    const std::vector<uint8_t> encoded = schema::encode_snapshot(world);
    bytes = encoded.size();
    benchmark::DoNotOptimize(encoded.data());
  }
  state.counters["snapshot_bytes"] = static_cast<double>(bytes);
}

void BM_ObserverStartCopy(benchmark::State& state) {
  const sim::World world = big_world();
  auto spare = std::make_unique<sim::World>(world);  // the encoder's spare, warm after the first start
  for (auto _ : state) {
    *spare = world;
    benchmark::DoNotOptimize(spare.get());
  }
}

BENCHMARK(BM_ObserverStartEncode)->Name("observer_start/encode_on_tick_thread")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ObserverStartCopy)->Name("observer_start/copy_on_tick_thread")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
