// tests/net/metrics_test.cpp: every drop reason is exposed, counters reach the Prometheus text,
// per-connection statistics appear per client.
#include <gtest/gtest.h>

#include <set>

#include "net/metrics.h"
#include "tests/net/endpoint_harness.h"

namespace strata::net {
namespace {

TEST(net_metrics, every_drop_reason_is_published_once) {
  const Key key = random_key();
  test::World world(test::World::default_config(key), LinkConfig{}, 1);
  size_t drop_samples = 0;
  for_each_metric(world.server(), true, [&](const MetricSample& m) {
    if (m.name == "strata_net_dropped_total") ++drop_samples;
  });
  EXPECT_EQ(drop_samples, drop_reason_count);
}

TEST(net_metrics, every_drop_reason_has_a_distinct_name) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < drop_reason_count; ++i) {
    const std::string_view n = name(static_cast<DropReason>(i));
    EXPECT_FALSE(n.empty()) << i;
    EXPECT_NE(n, "unknown") << i;
    names.insert(n);
  }
  EXPECT_EQ(names.size(), drop_reason_count);
}

TEST(net_metrics, prometheus_text_carries_counters_and_client_stats) {
  const Key key = random_key();
  LinkConfig link;
  link.latency_us = 20'000;
  test::World world(test::World::default_config(key), link, 1);
  world.add_client();
  ASSERT_TRUE(world.client(0).connect(world.mint(key, ClientId{77}), world.now_us()));
  const std::vector<uint8_t> junk = {0xff, 1, 2};
  world.server().receive(TransportKind::datagram, test::client_address(5), junk, world.now_us(), world.server_sink());
  for (int i = 0; i < 300; ++i) {
    world.step(10'000);
    if (world.client(0).state() == ClientState::connected) {
      (void)world.client(0).send(Channel::unreliable_sequenced, std::vector<uint8_t>(100));
    }
  }
  const std::string text = prometheus_text(world.server(), true);
  EXPECT_NE(text.find("# TYPE strata_net_dropped_total counter"), std::string::npos);
  EXPECT_NE(text.find("strata_net_dropped_total{reason=\"bad_header\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("strata_net_connected_clients 1\n"), std::string::npos);
  EXPECT_NE(text.find("strata_net_client_rtt_seconds{client=\"77\"} 0.0"), std::string::npos);
  EXPECT_NE(text.find("strata_net_client_received_packets_per_second{client=\"77\"}"), std::string::npos);
  const ConnectionStats* s = world.server().client_stats(ClientId{77});
  ASSERT_NE(s, nullptr);
  EXPECT_GT(s->rtt_ms, 30.0);
  EXPECT_GT(s->received_packets_per_second, 50.0);
  EXPECT_GT(s->received_bytes_per_second, 5000.0);
}

}  // namespace
}  // namespace strata::net
