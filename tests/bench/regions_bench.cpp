// strata-bench-regions — issue 15's replication figures against a real nats-server -js, in one run:
//   raw       nats.c JetStream async publishes per second (js_PublishAsync, small messages, no id),
//             the box's per-message rate;
//   end2end   replicated block writes per second between two regions: region A's ticks hand
//             batches of W stamped writes to its RegionLink (encoded, compressed, published, one
//             batch in flight), region B's RegionLink consumes and decodes them and its ticks
//             apply them (InputScheduler -> sim::step, LWW), ticks unpaced; counted when B's
//             world has applied them. Also bytes per write on the wire.
// Figures are printed, never asserted. Usage:
//   strata-bench-regions --url nats://127.0.0.1:4222 [--seconds 5] [--writes-per-tick 16384]
//                        [--compress-above BYTES]   (e.g. 100000000: never compressed)
// (or STRATA_SERVICES_DIR=<dir> with the suite's nats.env, as tools/service-nats.sh writes it).
#include <nats/nats.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "server/hlc.h"
#include "server/input_scheduler.h"
#include "server/nats_bus.h"
#include "server/region_link.h"
#include "sim/hash.h"
#include "sim/simulation.h"

namespace {

using namespace strata;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }
uint64_t now_us() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count());
}

std::string url_from_services() {
  const char* dir = std::getenv("STRATA_SERVICES_DIR");
  if (dir == nullptr) return {};
  std::ifstream env(std::string(dir) + "/nats.env");
  std::string line;
  while (std::getline(env, line)) {
    if (line.rfind("STRATA_NATS_URL=", 0) == 0) return line.substr(16);
  }
  return {};
}

// Raw nats.c: async publishes of 64-byte messages on one subject of a stream, MaxPending 4096.
double raw_publishes_per_second(const std::string& url, const std::string& ns, double seconds) {
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;
  if (natsConnection_ConnectTo(&connection, url.c_str()) != NATS_OK) return 0;
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.MaxPending = 4096;
  if (natsConnection_JetStream(&js, connection, &options) != NATS_OK) return 0;
  const std::string subject = ns + ".events.9.world";
  const std::vector<char> payload(64, 'x');
  uint64_t sent = 0;
  const auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    for (int i = 0; i < 1000; ++i) {
      if (js_PublishAsync(js, subject.c_str(), payload.data(), static_cast<int>(payload.size()), nullptr) == NATS_OK)
        ++sent;
    }
  }
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = 30'000;
  (void)js_PublishAsyncComplete(js, &wait);
  const double elapsed = seconds_since(start);
  jsCtx_Destroy(js);
  natsConnection_Destroy(connection);
  return static_cast<double>(sent) / elapsed;
}

struct Region {
  Region(sim::RegionId id, const server::RegionLinkConfig& link_config, const sim::WorldParams& params)
      : sim(params), scheduler(server::default_input_scheduler_config(), id, hlc), link(link_config) {}
  sim::Simulation sim;
  server::Hlc hlc{2000};
  server::InputScheduler scheduler;
  server::RegionLink link;
  sim::TickInput input;
};

}  // namespace

int main(int argc, char** argv) {
  std::string url = url_from_services();
  double seconds = 5;
  size_t writes_per_tick = 16384;
  size_t compress_above = 1024;  // bytes (a huge value: never compressed)
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--url") url = argv[i + 1];
    if (arg == "--seconds") seconds = std::atof(argv[i + 1]);
    if (arg == "--writes-per-tick") writes_per_tick = static_cast<size_t>(std::atol(argv[i + 1]));
    if (arg == "--compress-above") compress_above = static_cast<size_t>(std::atoll(argv[i + 1]));
  }
  if (url.empty()) {
    std::fprintf(stderr, "strata-bench-regions: --url nats://host:port (or STRATA_SERVICES_DIR) is required\n");
    return 2;
  }
  const std::string ns = "bench" + std::to_string(now_us() % 1'000'000);

  // Each side's stream first (NatsBus::open creates it), then the raw publisher on its subjects.
  server::NatsBusConfig bus_config;
  bus_config.url = url;
  bus_config.stream_name = "BENCH_" + ns;
  bus_config.subject_namespace = ns;
  bus_config.memory_storage = false;
  std::string error;
  auto bus_a = server::NatsBus::open(bus_config, error);
  auto bus_b = bus_a ? server::NatsBus::open(bus_config, error) : nullptr;
  if (!bus_a || !bus_b) {
    std::fprintf(stderr, "strata-bench-regions: %s\n", error.c_str());
    return 1;
  }
  const double raw = std::getenv("STRATA_BENCH_NO_RAW") ? 1.0 : raw_publishes_per_second(url, ns, seconds);
  std::printf("raw nats.c JetStream async publishes: %.0f msgs/s (64-byte messages, MaxPending 4096)\n", raw);

  sim::WorldParams params;
  params.seed = 5;
  params.chunks_x = 16;
  params.chunks_y = 16;
  params.random_ticks_per_chunk = 0;
  params.region_map.mode = sim::Ownership::by_map;
  params.region_map.fallback = sim::RegionId{1};
  server::RegionLinkConfig link_config;
  link_config.regions = {sim::RegionId{1}, sim::RegionId{2}};
  link_config.map_cells_x = params.chunks_x * sim::limits::chunk_size;
  link_config.map_cells_y = params.chunks_y * sim::limits::chunk_size;
  link_config.health_every_ms = 1'000'000;
  link_config.presence_every_ticks = 1'000'000;
  link_config.inbound_messages_max = 64;
  link_config.encode.compress_above_bytes = compress_above;
  link_config.region = sim::RegionId{1};
  params.region = sim::RegionId{1};
  Region a(sim::RegionId{1}, link_config, params);
  link_config.region = sim::RegionId{2};
  params.region = sim::RegionId{2};
  Region b(sim::RegionId{2}, link_config, params);
  a.link.start(*bus_a, a.sim.world(), now_us());
  b.link.start(*bus_b, b.sim.world(), now_us());

  // Region A's "tick": W writes of a 128 x 128 area (a busy build site), stamped by its HLC, handed
  // over as the effects of a tick (the sim's own step would need W valid player commands).
  sim::Effects effects;
  uint64_t tick = 0;
  uint64_t published_writes = 0;
  const auto make_tick = [&] {
    effects.clear();
    effects.tick = ++tick;
    for (size_t i = 0; i < writes_per_tick; ++i) {
      const int32_t x = static_cast<int32_t>((tick * 7919 + i) % 128);
      const int32_t y = static_cast<int32_t>(((tick * 104729 + i) / 128) % 128);
      effects.block_writes.push_back(sim::BlockWrite{{x, y},
                                                     sim::Layer::active,
                                                     static_cast<uint8_t>(1 + (i % 3)),
                                                     0,
                                                     sim::LwwStamp{a.hlc.now(now_us() / 1000), sim::RegionId{1}}});
    }
    published_writes += writes_per_tick;
  };
  // A's sim steps empty inputs (its world's tick must advance with the batches' ticks).
  const auto applied = [&] {
    return b.sim.world().counters.remote_writes_applied + b.sim.world().counters.remote_writes_superseded;
  };
  const auto start = Clock::now();
  uint64_t b_ticks = 0;
  uint64_t next_maintain = 0;
  while (seconds_since(start) < seconds) {
    // A: one tick whenever its link holds fewer than 4 batches (the pipeline stays full).
    if (a.link.status().world_held < 4) {
      a.input.tick = a.sim.tick() + 1;
      a.input.commands.clear();
      a.sim.step(a.input);
      make_tick();
      effects.tick = a.sim.tick();
      a.link.on_tick(a.sim, a.input, effects);
    }
    if (now_us() >= next_maintain) {  // as the runtime's bus thread does: broken consumers recreated
      bus_a->maintain(now_us());
      bus_b->maintain(now_us());
      next_maintain = now_us() + 250'000;
    }
    a.link.pump(*bus_a, now_us(), a.sim.tick());
    b.link.pump(*bus_b, now_us(), b.sim.tick());
    // B: a tick with whatever arrived.
    b.link.take_remote(b.scheduler, now_us() / 1000);
    b.scheduler.build(b.sim.tick() + 1, now_us() / 1000, b.input);
    const sim::Effects& b_effects = b.sim.step(b.input);
    b.link.on_tick(b.sim, b.input, b_effects);
    ++b_ticks;
  }
  const double elapsed = seconds_since(start);
  const uint64_t done = applied();
  const server::RegionLinkStatus sa = a.link.status();
  const server::RegionLinkStatus sb = b.link.status();
  if (std::getenv("STRATA_BENCH_DEBUG") != nullptr) {
    std::printf("B: subscribe_failures %llu resets %llu refused_subject %llu errors %llu\n",
                static_cast<unsigned long long>(sb.counters.subscribe_failures),
                static_cast<unsigned long long>(sb.bus.consumer_resets),
                static_cast<unsigned long long>(sb.bus.deliveries_refused_subject),
                static_cast<unsigned long long>(sb.bus.connection_errors));
    std::printf(
        "B: deliveries %llu, consumed %llu batches, inbound %llu, state %s, refused forged %llu malformed %llu "
        "bad_value %llu too_large %llu\n",
        static_cast<unsigned long long>(sb.bus.deliveries),
        static_cast<unsigned long long>(sb.counters.world_batches_consumed),
        static_cast<unsigned long long>(sb.inbound_waiting), server::name(sb.bus_state),
        static_cast<unsigned long long>(
            sb.counters.refused_decode[static_cast<size_t>(schema::BusDecodeError::forged)]),
        static_cast<unsigned long long>(
            sb.counters.refused_decode[static_cast<size_t>(schema::BusDecodeError::malformed)]),
        static_cast<unsigned long long>(
            sb.counters.refused_decode[static_cast<size_t>(schema::BusDecodeError::bad_value)]),
        static_cast<unsigned long long>(
            sb.counters.refused_decode[static_cast<size_t>(schema::BusDecodeError::too_large)]));
  }
  std::printf(
      "end to end, region A -> region B: %.0f writes/s applied in B's ticks (%llu of %llu published, "
      "%llu batches of %zu writes, %llu B ticks, %.1f writes per B tick)\n",
      static_cast<double>(done) / elapsed, static_cast<unsigned long long>(done),
      static_cast<unsigned long long>(published_writes),
      static_cast<unsigned long long>(sa.counters.world_batches_published), writes_per_tick,
      static_cast<unsigned long long>(b_ticks), static_cast<double>(done) / static_cast<double>(b_ticks));
  std::printf("ratio end-to-end writes/s : raw publishes/s = %.2f\n", static_cast<double>(done) / elapsed / raw);
  if (sa.counters.world_writes_published > 0) {
    std::printf("bytes per write on the wire: %.2f (zstd above %zu bytes)\n",
                static_cast<double>(sa.counters.world_bytes_published) /
                    static_cast<double>(sa.counters.world_writes_published),
                link_config.encode.compress_above_bytes);
  }
  std::printf("publish latency (hand-over to ack): mean %.2f ms over %llu batches\n",
              sa.publish_latency.count
                  ? static_cast<double>(sa.publish_latency.sum_us) / 1e3 / static_cast<double>(sa.publish_latency.count)
                  : 0.0,
              static_cast<unsigned long long>(sa.publish_latency.count));
  return 0;
}
