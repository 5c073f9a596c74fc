// tests/server/map_snapshots_nats_test.cpp — map snapshots against the real nats-server fixture:
// the bucket (JetStream KV, history 1) answers as its twin does (MemoryMapStore), and a region
// bootstraps from a snapshot published through it and converges over the real stream.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "server/clock.h"
#include "server/map_snapshots.h"
#include "server/nats_map_store.h"
#include "tests/server/bootstrap_harness.h"
#include "tests/server/bus_nats_harness.h"

namespace strata::server::test {
namespace {

std::unique_ptr<NatsMapStore> open_store(const std::string& url, const std::string& name) {
  NatsMapStoreConfig config;
  config.url = url;
  config.bucket = std::string("T").append(std::to_string(::getpid())).append("_").append(name);
  config.memory_storage = true;
  std::string error;
  auto store = NatsMapStore::open(config, error);
  EXPECT_NE(store, nullptr) << error;
  return store;
}

// One script of puts and gets; the statuses and values each store answers.
std::vector<std::string> store_script(MapStore& store) {
  std::vector<std::string> out;
  auto bytes = [](const std::string& text) { return std::vector<uint8_t>(text.begin(), text.end()); };
  std::vector<uint8_t> value;
  auto get = [&](const std::string& key) {
    const MapStoreStatus s = store.get(key, value);
    std::string line = key;
    line.append(" get ").append(name(s));
    if (s == MapStoreStatus::ok) line.append(" ").append(value.begin(), value.end());
    out.push_back(line);
  };
  auto put = [&](const std::string& key, const std::vector<uint8_t>& v) {
    std::string line = key;
    line.append(" put ").append(name(store.put(key, v)));
    out.push_back(line);
  };
  get("r1.head");
  put("r1.head", bytes("first"));
  get("r1.head");
  put("r1.head", bytes("second"));  // one value kept per key: the latest
  get("r1.head");
  put("r1.part0", bytes("p0"));
  get("r1.part0");
  get("r1.part1");
  put("r1.part1", std::vector<uint8_t>(map_snapshot_limits::value_bytes_max + 1, 7));
  get("r1.part1");
  std::vector<uint8_t> largest(map_snapshot_limits::value_bytes_max, 9);
  put("r2.part0", largest);
  const MapStoreStatus s = store.get("r2.part0", value);
  out.push_back(std::string("r2.part0 largest ").append(name(s)).append(value == largest ? " same" : " differs"));
  return out;
}

TEST(MapSnapshotNats, TheBucketAnswersAsItsTwin) {
  const auto service = nats_service();
  ASSERT_TRUE(service);
  auto store = open_store(service->url, "twin");
  ASSERT_TRUE(store);
  MemoryMapStore twin;
  const std::vector<std::string> real = store_script(*store);
  EXPECT_EQ(real, store_script(twin));
  EXPECT_EQ(real[0], "r1.head get not found");
  EXPECT_EQ(real[4], "r1.head get ok second");
}

TEST(MapSnapshotNats, ANewRegionBootstrapsFromAPublishedSnapshotAndConvergesOverTheStream) {
  const auto service = nats_service();
  ASSERT_TRUE(service);
  NatsBusConfig config = test_config(service->url, "boot");
  config.memory_storage = true;
  auto bus1 = open_bus(config);
  auto bus3 = open_bus(config);
  ASSERT_TRUE(bus1 && bus3);
  auto store = open_store(service->url, "boot");
  ASSERT_TRUE(store);
  const SystemClock system;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  uint64_t next_maintain_us = 0;
  BootClock clock{[&] { return system.monotonic_us(); },
                  [&] {
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                    // As the runtime's bus thread: maintain() recreates broken or idle consumers.
                    if (const uint64_t now = system.monotonic_us(); now >= next_maintain_us) {
                      bus1->maintain(now);
                      bus3->maintain(now);
                      next_maintain_us = now + 500'000;
                    }
                    return std::chrono::steady_clock::now() < deadline;
                  },
                  [&] {
                    const NatsBus::Buffered b = bus3->buffered_deliveries();
                    return std::string(" bus3 state ")
                        .append(std::to_string(static_cast<int>(bus3->state())))
                        .append(" buffered ")
                        .append(std::to_string(b.messages))
                        .append(" last error ")
                        .append(bus3->last_error());
                  }};
  run_bootstrap_scenario(*bus1, *bus3, *store, clock);
}

}  // namespace
}  // namespace strata::server::test
