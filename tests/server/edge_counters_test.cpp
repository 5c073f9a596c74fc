// tests/server/edge_counters_test.cpp — the edge's counters are listed once and written alike to
// JSON and Prometheus: every name unique and a valid label value, every refusal and close reason of
// the TCP listener present, values carried through.
#include <gtest/gtest.h>
#include <cstddef>

#include <set>

#include "server/edge_counters.h"

namespace strata::server {
namespace {

void expect_names_valid(const NamedCounts& counts) {
  std::set<std::string> seen;
  for (const NamedCount& c : counts) {
    EXPECT_FALSE(c.name.empty());
    for (char ch : c.name) EXPECT_TRUE((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_') << c.name;
    EXPECT_TRUE(seen.insert(c.name).second) << "twice: " << c.name;
  }
}

TEST(EdgeCounters, TcpListsEveryReasonWithItsValue) {
  net::TransportStats stats;
  for (size_t i = 0; i < net::stream_close_count; ++i) stats.streams_closed_by[i] = 100 + i;
  for (size_t i = 0; i < net::stream_refusal_count; ++i) stats.streams_refused_by[i] = 200 + i;
  stats.frames_malformed = 7;
  const NamedCounts counts = tcp_event_counts(stats);
  expect_names_valid(counts);
  const std::string json = counts_json(counts);
  EXPECT_NE(json.find("\"closed_handshake_timeout\":" +
                      std::to_string(100 + static_cast<size_t>(net::StreamClose::handshake_timeout))),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"refused_address_max\":" +
                      std::to_string(200 + static_cast<size_t>(net::StreamRefusal::address_max))),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"frames_malformed\":7"), std::string::npos) << json;
  size_t closed = 0;
  for (const NamedCount& c : counts) closed += c.name.rfind("closed_", 0) == 0;
  EXPECT_EQ(closed, net::stream_close_count);
}

TEST(EdgeCounters, NodeAndHttpCountsAreValidAndPrometheusIsWellFormed) {
  NodeCounters node;
  node.chat_withheld = 3;
  DeferralCounters deferrals;
  deferrals.fair_share = 9;
  const NamedCounts counts = node_event_counts(node, deferrals);
  expect_names_valid(counts);
  HttpCounters http;
  http.read_timeouts = 5;
  expect_names_valid(http_event_counts(http));
  const std::string text = counts_prometheus("strata_node_events_total", "help text", counts);
  EXPECT_EQ(text.rfind("# HELP strata_node_events_total help text\n# TYPE strata_node_events_total counter\n", 0), 0U);
  EXPECT_NE(text.find("strata_node_events_total{event=\"chat_withheld\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("strata_node_events_total{event=\"inputs_deferred_fair_share\"} 9\n"), std::string::npos);
  const std::string series =
      counts_prometheus_series("strata_http_events_total", "listener=\"admin\"", http_event_counts(http));
  EXPECT_NE(series.find("strata_http_events_total{listener=\"admin\",event=\"read_timeouts\"} 5\n"), std::string::npos)
      << series;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), static_cast<ptrdiff_t>(counts.size() + 2));
}

}  // namespace
}  // namespace strata::server
