// tests/server/bus_nats_cluster_test.cpp — NatsBus on a 3-node JetStream cluster (the CTest
// fixture `nats_cluster`, tools/service-nats.sh start-cluster) with a stream of 3 replicas: one
// nats-server is killed (SIGKILL) while a region publishes and another consumes; every publish is
// acked, the stream holds each message exactly once, and the consumer gets them all, in order
// (its consumer recreated by NatsBus::maintain() if nats.c gave up on it).
// (nats-server 2.9.10 fsyncs every 60 s: durability comes from the replicas, DESIGN.md.)
#include <signal.h>

#include <atomic>
#include <set>
#include <sstream>

#include "tests/server/bus_nats_harness.h"

namespace strata::server {
namespace {

using test::bytes;
using test::now_us;
using test::poll_until;
using namespace std::chrono_literals;

struct Cluster {
  std::string urls;
  std::vector<pid_t> pids;
};

std::optional<Cluster> nats_cluster() {
  auto values = test::service_env("nats-cluster", {"STRATA_NATS_CLUSTER_URLS", "STRATA_NATS_CLUSTER_PIDS"});
  if (!values) return std::nullopt;
  Cluster cluster{(*values)["STRATA_NATS_CLUSTER_URLS"], {}};
  std::stringstream pids((*values)["STRATA_NATS_CLUSTER_PIDS"]);
  for (std::string pid; std::getline(pids, pid, ',');) cluster.pids.push_back(static_cast<pid_t>(std::stol(pid)));
  if (cluster.pids.size() != 3) {
    ADD_FAILURE() << "nats-cluster.env names " << cluster.pids.size() << " servers, not 3";
    return std::nullopt;
  }
  return cluster;
}

// The cluster elects its metadata leader a moment after it starts: until then creating a stream
// fails, so open() is tried again for a while.
std::unique_ptr<NatsBus> open_when_ready(const NatsBusConfig& config) {
  std::string error;
  const uint64_t deadline = now_us() + 30'000'000;
  while (now_us() < deadline) {
    if (auto bus = NatsBus::open(config, error)) return bus;
    std::this_thread::sleep_for(250ms);
  }
  ADD_FAILURE() << "the cluster never took the stream: " << error;
  return nullptr;
}

TEST(NatsBusCluster, KillingOneOfThreeServersLosesNothing) {
  const auto cluster = nats_cluster();
  ASSERT_TRUE(cluster);
  NatsBusConfig config = test::test_config(cluster->urls, "cluster");
  config.replicas = 3;
  config.publish_attempts = 10;  // a leader election may time a few sends out
  // After the kill, creating a consumer times out for a while (the stream's consumers are R1 and
  // may be placed on the dead peer until the cluster marks it offline): retry quickly and often.
  config.consumer_idle_recreate_ms = 2000;
  config.api_wait_ms = 1000;
  auto writer = open_when_ready(config);
  ASSERT_TRUE(writer);
  auto reader = open_when_ready(config);
  ASSERT_TRUE(reader);
  const sim::RegionId one{1};
  const auto sub = reader->subscribe({one, std::nullopt}, 0, now_us());
  ASSERT_TRUE(sub);
  // The runtime's side: maintain() on a thread of its own, as the node's runtime would run it.
  std::atomic<bool> stop{false};
  std::thread maintainer([&] {
    while (!stop) {
      reader->maintain(now_us());
      std::this_thread::sleep_for(100ms);
    }
  });
  struct Join {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~Join() {
      stop = true;
      thread.join();
    }
  } join{stop, maintainer};

  constexpr uint64_t count = 600;
  BusPoll got;
  for (uint64_t tick = 1; tick <= count; ++tick) {
    if (tick == count / 3) {
      ASSERT_EQ(::kill(cluster->pids[0], SIGKILL), 0);  // the first server, mid-play
    }
    ASSERT_TRUE(poll_until({writer.get(), reader.get()}, got, [&](const BusPoll&) { return writer->pending() < 64; }));
    ASSERT_EQ(writer->publish({one, BusChannel::world}, {one, tick}, bytes(std::to_string(tick)), now_us()),
              PublishVerdict::accepted);
    std::this_thread::sleep_for(1ms);  // a region publishes once per tick, not in one burst
  }
  ASSERT_TRUE(poll_until(
      {writer.get(), reader.get()}, got,
      [&](const BusPoll& p) { return p.acks.size() == count && p.deliveries.size() >= count; }, 90'000'000))
      << "acks " << got.acks.size() << ", deliveries " << got.deliveries.size() << ", reader state "
      << static_cast<int>(reader->state()) << ", reader reconnects " << reader->counters().reconnects
      << ", consumer resets " << reader->counters().consumer_resets << ", reader errors "
      << reader->counters().connection_errors << ", writer reconnects " << writer->counters().reconnects
      << ", reader's last error: " << reader->last_error();
  std::set<uint64_t> acked;
  for (const PublishAck& ack : got.acks) {
    EXPECT_NE(ack.kind, AckKind::failed) << ack.id.tick;
    acked.insert(ack.id.tick);
  }
  EXPECT_EQ(acked.size(), count);
  EXPECT_EQ(writer->stream_last_seq(), count);  // each stored once: resends were deduplicated
  ASSERT_EQ(got.deliveries.size(), count);
  for (uint64_t i = 0; i < count; ++i) {
    EXPECT_EQ(got.deliveries[i].id.tick, i + 1);
    EXPECT_EQ(got.deliveries[i].stream_seq, i + 1);
  }
  std::printf("figure: cluster kill: %llu resends, %llu writer reconnects, %llu reader consumer resets\n",
              static_cast<unsigned long long>(writer->counters().resends),
              static_cast<unsigned long long>(writer->counters().reconnects),
              static_cast<unsigned long long>(reader->counters().consumer_resets));
}

}  // namespace
}  // namespace strata::server
