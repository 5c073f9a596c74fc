// tests/server/edge_counters_test.cpp — the counters are listed once and written alike to JSON and
// Prometheus: the edge's (every name unique and a valid label value, every refusal and close reason
// of the TCP listener present, values carried through), and the counter lists (NodeCounters,
// DeferralCounters, the scheduler's verdicts, the netchannel's traffic and drops): every member in
// the JSON and in Prometheus exactly once with its value, the generated sums, label values from the
// enums, and the exposition accepted by Prometheus' own parser (promtool).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

#include "server/edge_counters.h"
#include "server/status.h"

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

TEST(EdgeCounters, HttpCountsAreValidAndPrometheusIsWellFormed) {
  HttpCounters http;
  http.read_timeouts = 5;
  const NamedCounts counts = http_event_counts(http);
  expect_names_valid(counts);
  const std::string text = counts_prometheus("strata_http_events_total", "help text", counts);
  EXPECT_EQ(text.rfind("# HELP strata_http_events_total help text\n# TYPE strata_http_events_total counter\n", 0), 0U);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), static_cast<ptrdiff_t>(counts.size() + 2));
  const std::string series = counts_prometheus_series("strata_http_events_total", "listener=\"admin\"", counts);
  EXPECT_NE(series.find("strata_http_events_total{listener=\"admin\",event=\"read_timeouts\"} 5\n"), std::string::npos)
      << series;
}

// Every counter of every list set to a value no other counter has (1000, 1001, ...).
CounterSnapshot distinct_counters() {
  CounterSnapshot c;
  uint64_t next = 1000;
#define SET_(member, ...) c.node.member = next++;
#define SET_ARRAY_(member, ...) \
  for (uint64_t & v : c.node.member) v = next++;
  STRATA_NODE_COUNTERS(SET_, SET_ARRAY_)
#undef SET_
#define SET_(member, ...) c.net.member = next++;
  STRATA_NET_HANDSHAKE_COUNTERS(SET_)
#undef SET_
#define SET_(member, ...) c.deferrals.member = next++;
  STRATA_DEFERRAL_COUNTERS(SET_)
#undef SET_
#undef SET_ARRAY_
  for (uint64_t& v : c.inputs) v = next++;
  for (uint64_t& v : c.drops.by_reason) v = next++;
  return c;
}

// (Strings built with append: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string here.)
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const std::string_view part : parts) out.append(part);
  return out;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

net::CounterSamples all_samples(const CounterSnapshot& c) {
  net::CounterSamples samples = net_samples(c);
  const net::CounterSamples node = node_samples(c);
  samples.insert(samples.end(), node.begin(), node.end());
  return samples;
}

TEST(CounterLists, EveryMemberIsInTheJsonAndInPrometheusExactlyOnce) {
  const CounterSnapshot c = distinct_counters();
  const std::string node_json = net::counters_json(node_samples(c));
  const std::string net_json = net::counters_json(net_samples(c));
  const std::string json = node_json + net_json;
  const std::string text = net::counters_prometheus(all_samples(c));
  size_t members = 0;
  // A plain member: "name":value once in the JSON, one series ending in its value.
  const auto expect_once = [&](const std::string& key, uint64_t value) {
    ++members;
    const std::string v = std::to_string(value);
    EXPECT_EQ(count_of(json, cat({"\"", key, "\":", v})), 1U) << key << "\n" << json;
    EXPECT_EQ(count_of(json, cat({"\"", key, "\":"})), 1U) << key;
    EXPECT_EQ(count_of(text, cat({" ", v, "\n"})), 1U) << key << "\n" << text;
  };
  // An array member: its object once in the JSON, one series per labelled value.
  const auto expect_array = [&](const std::string& key, auto values, size_t first) {
    EXPECT_EQ(count_of(json, cat({"\"", key, "\":{"})), 1U) << key;
    for (size_t i = first; i < values.size(); ++i) {
      ++members;
      const std::string v = std::to_string(values[i]);
      EXPECT_EQ(count_of(json, cat({"\":", v})), 1U) << key << i;  // the values have 4 digits
      EXPECT_EQ(count_of(text, cat({" ", v, "\n"})), 1U) << key << i << "\n" << text;
    }
  };
#define ONCE_(member, ...) expect_once(#member, c.node.member);
#define ARRAY_(member, Enum, first, ...) expect_array(#member, c.node.member, first);
  STRATA_NODE_COUNTERS(ONCE_, ARRAY_)
#undef ONCE_
#define ONCE_(member, ...) expect_once(#member, c.net.member);
  STRATA_NET_HANDSHAKE_COUNTERS(ONCE_)
#undef ONCE_
#define ONCE_(member, event, ...) expect_once(#event, c.deferrals.member);
  STRATA_DEFERRAL_COUNTERS(ONCE_)
#undef ONCE_
#undef ARRAY_
  expect_array("inputs", c.inputs, 0);
  expect_array("dropped", c.drops.by_reason, 0);
  // Nothing else: one series per counter (the arrays' reason 0, "none", is not a counter).
  const net::CounterSamples samples = all_samples(c);
  EXPECT_EQ(samples.size(), members);
  size_t series = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) series += !line.empty() && line[0] != '#';
  EXPECT_EQ(series, members);
  // HELP and TYPE once per family.
  std::set<std::string_view> families;
  for (const net::CounterSample& s : samples) families.insert(s.family);
  for (const std::string_view family : families) {
    EXPECT_EQ(count_of(text, "# TYPE " + std::string(family) + " counter\n"), 1U) << family;
    EXPECT_EQ(count_of(text, "# HELP " + std::string(family) + " "), 1U) << family;
  }
}

TEST(CounterLists, TheNamesTheToolsReadAreKept) {
  CounterSnapshot c;
  c.node.chat_withheld = 3;
  c.node.snapshot_bytes = 4096;
  c.node.checksum_mismatches = 1;
  c.node.rejected[static_cast<size_t>(sim::RejectReason::out_of_reach)] = 1;
  c.node.messages_refused[static_cast<size_t>(view::MessageError::too_large)] = 6;
  c.node.chat_relayed = 8;
  c.deferrals.fair_share = 9;
  c.inputs[static_cast<size_t>(InputVerdict::late)] = 2;
  c.net.bytes_sent = 90000;
  c.net.datagrams_sent = 70;
  c.drops.bump(net::DropReason::bad_mac);
  const std::string text = net::counters_prometheus(all_samples(c));
  for (const char* line : {
           "strata_node_events_total{event=\"chat_withheld\"} 3",
           "strata_node_events_total{event=\"inputs_deferred_fair_share\"} 9",
           "strata_inputs_total{verdict=\"late\"} 2",
           "strata_inputs_total{verdict=\"clock_ahead\"} 0",
           "strata_commands_rejected_total{reason=\"out_of_reach\"} 1",
           "strata_client_messages_refused_total{reason=\"too_large\"} 6",
           "strata_chat_lines_total{outcome=\"relayed\"} 8",
           "strata_net_bytes_total{direction=\"out\"} 90000",
           "strata_net_packets_total{direction=\"out\"} 70",
           "strata_net_dropped_total{reason=\"bad_mac\"} 1",
           "strata_snapshot_bytes_total 4096",
           "strata_checksum_mismatches_total 1",
       }) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << text;
  }
  const std::string json = net::counters_json(node_samples(c));
  EXPECT_NE(json.find("\"chat_withheld\":3"), std::string::npos) << json;
  EXPECT_NE(json.find("\"inputs_deferred_fair_share\":9"), std::string::npos) << json;
  EXPECT_NE(json.find("\"rejected\":{\"bad_player_id\":0,"), std::string::npos) << json;
}

TEST(CounterLists, LabelValuesComeFromTheEnums) {
  const std::string text = net::counters_prometheus(all_samples(CounterSnapshot{}));
  for (size_t i = 1; i < sim::reject_reason_count; ++i) {
    const auto reason = std::string(sim::name(static_cast<sim::RejectReason>(i)));
    EXPECT_EQ(count_of(text, "strata_commands_rejected_total{reason=\"" + reason + "\"} 0\n"), 1U) << reason;
  }
  for (size_t i = 0; i < net::drop_reason_count; ++i) {
    const auto reason = std::string(net::name(static_cast<net::DropReason>(i)));
    EXPECT_EQ(count_of(text, "strata_net_dropped_total{reason=\"" + reason + "\"} 0\n"), 1U) << reason;
  }
  for (size_t i = 0; i < input_verdict_count; ++i) {
    const auto verdict = std::string(name(static_cast<InputVerdict>(i)));
    EXPECT_EQ(count_of(text, "strata_inputs_total{verdict=\"" + verdict + "\"} 0\n"), 1U) << verdict;
  }
  for (size_t i = 1; i < static_cast<size_t>(view::MessageError::count); ++i) {
    const auto reason = std::string(view::name(static_cast<view::MessageError>(i)));
    EXPECT_EQ(count_of(text, "strata_client_messages_refused_total{reason=\"" + reason + "\"} 0\n"), 1U) << reason;
  }
  EXPECT_EQ(text.find("\"none\""), std::string::npos) << "reason 0 is no reason";
}

TEST(CounterLists, SumsAreMemberwise) {
  const CounterSnapshot a = distinct_counters();
  CounterSnapshot b = distinct_counters();
  b.node += a.node;
  b.deferrals += a.deferrals;
  b.net += a.net;
  b.drops += a.drops;
#define SUM_(member, ...) EXPECT_EQ(b.node.member, 2 * a.node.member) << #member;
#define SUM_ARRAY_(member, ...) \
  for (size_t i = 0; i < a.node.member.size(); ++i) EXPECT_EQ(b.node.member[i], 2 * a.node.member[i]) << #member;
  STRATA_NODE_COUNTERS(SUM_, SUM_ARRAY_)
#undef SUM_
#define SUM_(member, ...) EXPECT_EQ(b.net.member, 2 * a.net.member) << #member;
  STRATA_NET_HANDSHAKE_COUNTERS(SUM_)
#undef SUM_
#define SUM_(member, ...) EXPECT_EQ(b.deferrals.member, 2 * a.deferrals.member) << #member;
  STRATA_DEFERRAL_COUNTERS(SUM_)
#undef SUM_
#undef SUM_ARRAY_
  EXPECT_EQ(b.drops.total(), 2 * a.drops.total());
  NodeCounters twice = a.node;
  twice += a.node;
  EXPECT_EQ(twice, b.node);
}

// `promtool check metrics` on the lists' exposition: valid, and no lint problems.
TEST(CounterLists, PrometheusTextPassesPromtool) {
  const std::string promtool = STRATA_PROMTOOL;
  ASSERT_FALSE(promtool.empty()) << "promtool was not found at configure time (install the Debian package prometheus)";
  char path[] = "/tmp/strata-counters-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << net::counters_prometheus(all_samples(distinct_counters()));
  const std::string out_path = std::string(path) + ".out";
  const int status = std::system((promtool + " check metrics < " + path + " > " + out_path + " 2>&1").c_str());
  std::stringstream output;
  output << std::ifstream(out_path).rdbuf();
  std::remove(path);
  std::remove(out_path.c_str());
  EXPECT_EQ(status, 0) << output.str();
  EXPECT_EQ(output.str(), "") << "promtool lint problems:\n" << output.str();
}

}  // namespace
}  // namespace strata::server
