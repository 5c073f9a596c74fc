// tools/vopr/schedule.cpp — see schedule.h.
#include "tools/vopr/schedule.h"

#include <algorithm>
#include <cstdio>

#include "sim/rng.h"

namespace strata::vopr {

namespace {

constexpr const char* group_names[fault_group_count] = {"net",   "partition", "churn", "hostile",
                                                        "crash", "clock",     "log",   "store"};

// How many faults of a kind a run draws: `per_run` per 2400 ticks (two simulated minutes), at
// least one when the group is on, plus up to `extra` more.
uint64_t count(net::SeededRandom& rng, uint64_t ticks, uint64_t per_run, uint64_t extra) {
  const uint64_t base = std::max<uint64_t>(1, per_run * ticks / 2400);
  return base + (extra > 0 ? rng.below(extra + 1) : 0);
}

// A tick in [first, quiet) and a duration that ends before quiet.
struct Window {
  uint64_t first = 40;  // the clients have joined
  uint64_t quiet = 0;
  uint64_t start(net::SeededRandom& rng) const { return first + rng.below(std::max<uint64_t>(1, quiet - first)); }
  uint64_t duration(net::SeededRandom& rng, uint64_t at, uint64_t lo, uint64_t hi) const {
    const uint64_t d = lo + rng.below(hi - lo + 1);
    return std::max<uint64_t>(1, std::min(d, quiet > at ? quiet - at : 1));
  }
};

net::LinkConfig draw_link(net::SeededRandom& rng, bool faulty) {
  net::LinkConfig link;
  link.latency_us = 5'000 + rng.below(75'000);
  link.jitter_us = rng.below(link.latency_us / 2 + 1);
  if (faulty) {
    link.loss = static_cast<double>(rng.below(51)) / 1000.0;  // up to 5%
    link.duplicate = static_cast<double>(rng.below(31)) / 1000.0;
    link.reorder = static_cast<double>(rng.below(51)) / 1000.0;
    link.reorder_delay_us = 20'000 + rng.below(40'000);
  }
  return link;
}

replay::WalSync draw_sync(net::SeededRandom& rng, bool durable_only) {
  const uint64_t roll = rng.below(10);
  if (durable_only) return roll < 6 ? replay::WalSync::background : replay::WalSync::every_tick;
  if (roll < 4) return replay::WalSync::background;
  if (roll < 6) return replay::WalSync::every_tick;
  if (roll < 8) return replay::WalSync::every_n_ticks;
  return replay::WalSync::none;
}

void draw_clients(net::SeededRandom& rng, const RunShape& shape, const Window& w, std::vector<Fault>& out) {
  const auto client = [&] { return static_cast<int64_t>(rng.below(shape.clients)); };
  if (shape.faults.has(FaultGroup::partition)) {
    for (uint64_t i = count(rng, shape.ticks, shape.clients / 2 + 1, 2); i > 0; --i) {
      Fault f{w.start(rng), FaultKind::partition, client()};
      f.duration = w.duration(rng, f.tick, 4, 200);  // up to 10 s: beyond the 5 s timeout sometimes
      out.push_back(f);
    }
  }
  if (shape.faults.has(FaultGroup::churn)) {
    for (uint64_t i = count(rng, shape.ticks, shape.clients / 3 + 1, 2); i > 0; --i) {
      Fault f{w.start(rng), FaultKind::leave, client()};
      f.duration = w.duration(rng, f.tick, 1, 200);
      out.push_back(f);
    }
  }
  if (shape.faults.has(FaultGroup::clock)) {
    for (uint64_t i = count(rng, shape.ticks, 2, 1); i > 0; --i) {
      Fault f{w.start(rng), FaultKind::client_clock_jump, client()};
      f.amount = 50 + static_cast<int64_t>(rng.below(8'000));  // ms forwards: past the timeout sometimes
      out.push_back(f);
    }
    for (uint64_t i = count(rng, shape.ticks, 2, 1); i > 0; --i) {
      Fault f{w.start(rng), FaultKind::node_clock_jump, -1};
      const uint64_t max = shape.node_clock_jump_ms_max;  // ms, either way (NTP steps)
      f.amount = static_cast<int64_t>(rng.below(2 * max + 1)) - static_cast<int64_t>(max);
      out.push_back(f);
    }
  }
}

void draw_node(net::SeededRandom& rng, const RunShape& shape, const Window& w, replay::WalSync sync,
               std::vector<Fault>& out) {
  if (shape.faults.has(FaultGroup::net)) {
    for (uint64_t i = count(rng, shape.ticks, 2, 1); i > 0; --i) {
      Fault f{w.start(rng), FaultKind::link_storm, -1};
      f.duration = w.duration(rng, f.tick, 10, 100);
      f.amount = 200 + static_cast<int64_t>(rng.below(400));  // loss, per mille
      out.push_back(f);
    }
  }
  if (shape.faults.has(FaultGroup::hostile)) {
    const FaultKind kinds[] = {FaultKind::garbage, FaultKind::replay, FaultKind::flood, FaultKind::bad_messages};
    for (const FaultKind kind : kinds) {
      for (uint64_t i = count(rng, shape.ticks, 1, 1); i > 0; --i) {
        Fault f{w.start(rng), kind, kind == FaultKind::replay ? static_cast<int64_t>(rng.below(shape.clients)) : -1};
        f.duration = w.duration(rng, f.tick, 5, 80);
        f.amount = 1 + static_cast<int64_t>(rng.below(kind == FaultKind::flood ? 200 : 40));
        out.push_back(f);
      }
    }
  }
  if (shape.faults.has(FaultGroup::crash)) {
    for (uint64_t i = rng.below(3) + (shape.ticks >= 2400 ? 1 : 0); i > 0; --i) {
      Fault f{w.start(rng), FaultKind::crash, -1};
      f.amount = static_cast<int64_t>(rng.below(2));  // process or machine
      f.phase = static_cast<uint32_t>(rng.below(3));
      f.duration = rng.below(40);  // ticks down before the restart
      out.push_back(f);
    }
  }
  if (shape.faults.has(FaultGroup::log)) {
    if (sync == replay::WalSync::background) {
      for (uint64_t i = count(rng, shape.ticks, 2, 1); i > 0; --i) {
        Fault f{w.start(rng), rng.below(2) == 0 ? FaultKind::log_slow : FaultKind::log_stuck, -1};
        f.duration = w.duration(rng, f.tick, 2, 60);
        f.amount = 1 + static_cast<int64_t>(rng.below(30));
        out.push_back(f);
      }
    }
    for (uint64_t i = rng.below(2); i > 0; --i) {
      Fault f{w.start(rng), FaultKind::log_fail, -1};
      f.amount = sync == replay::WalSync::background ? static_cast<int64_t>(rng.below(2)) : 0;  // append or fsync
      out.push_back(f);
    }
  }
}

// The store group, from a generator of its own (so the other groups draw what they always drew):
// outages of either store (stall, error, lost connection, down), restarts, and leaves with short
// absences so that players return often, many of them while a store is out. An outage lasts up to
// 80 ticks, beyond the node's join wait (40 ticks) sometimes.
void draw_stores(net::SeededRandom& rng, const RunShape& shape, const Window& w, std::vector<Fault>& out) {
  for (uint64_t i = count(rng, shape.ticks, 6, 3); i > 0; --i) {
    Fault f{w.start(rng), FaultKind::store_outage,
            static_cast<int64_t>(rng.below(4) == 0 ? StoreTarget::hot : StoreTarget::cold)};
    f.amount = static_cast<int64_t>(rng.below(store_outage_count));
    f.duration = w.duration(rng, f.tick, 1, rng.below(4) == 0 ? 80 : 30);
    out.push_back(f);
  }
  for (uint64_t i = count(rng, shape.ticks, 2, 1); i > 0; --i) {
    Fault f{w.start(rng), FaultKind::store_restart, static_cast<int64_t>(rng.below(2))};
    out.push_back(f);
  }
  for (uint64_t i = count(rng, shape.ticks, shape.clients + 2, 3); i > 0; --i) {
    Fault f{w.start(rng), FaultKind::leave, static_cast<int64_t>(rng.below(shape.clients))};
    f.duration = w.duration(rng, f.tick, 1, 60);
    out.push_back(f);
  }
}

}  // namespace

const char* name(FaultGroup group) { return group_names[static_cast<size_t>(group)]; }

bool parse_faults(const std::string& list, FaultSet& out, std::string& error) {
  out = FaultSet{};
  size_t at = 0;
  while (at <= list.size()) {
    const size_t comma = std::min(list.find(',', at), list.size());
    const std::string item = list.substr(at, comma - at);
    at = comma + 1;
    if (item.empty() || item == "none") continue;
    if (item == "all") {
      std::fill(std::begin(out.on), std::end(out.on), true);
      continue;
    }
    const auto* found = std::find(std::begin(group_names), std::end(group_names), item);
    if (found == std::end(group_names)) {
      error =
          "unknown fault group '" + item + "' (all, none, net, partition, churn, hostile, crash, clock, log, store)";
      return false;
    }
    out.on[static_cast<size_t>(found - std::begin(group_names))] = true;
  }
  return true;
}

std::string describe(const FaultSet& set) {
  std::string out;
  for (size_t i = 0; i < fault_group_count; ++i) {
    if (!set.on[i]) continue;
    if (!out.empty()) out += ',';
    out += group_names[i];
  }
  return out.empty() ? "none" : out;
}

const char* name(FaultKind kind) {
  switch (kind) {
    case FaultKind::link_storm: return "link_storm";
    case FaultKind::partition: return "partition";
    case FaultKind::leave: return "leave";
    case FaultKind::client_clock_jump: return "client_clock_jump";
    case FaultKind::node_clock_jump: return "node_clock_jump";
    case FaultKind::garbage: return "garbage";
    case FaultKind::replay: return "replay";
    case FaultKind::flood: return "flood";
    case FaultKind::bad_messages: return "bad_messages";
    case FaultKind::crash: return "crash";
    case FaultKind::log_slow: return "log_slow";
    case FaultKind::log_stuck: return "log_stuck";
    case FaultKind::log_fail: return "log_fail";
    case FaultKind::bus_partition: return "bus_partition";
    case FaultKind::store_outage: return "store_outage";
    case FaultKind::store_restart: return "store_restart";
  }
  return "invalid";
}

const char* name(StoreOutage outage) {
  switch (outage) {
    case StoreOutage::stall: return "stall";
    case StoreOutage::error: return "error";
    case StoreOutage::lost_connection: return "lost_connection";
    case StoreOutage::down: return "down";
  }
  return "invalid";
}

const char* name(replay::WalSync sync) {
  switch (sync) {
    case replay::WalSync::none: return "none";
    case replay::WalSync::every_tick: return "every_tick";
    case replay::WalSync::every_n_ticks: return "every_n_ticks";
    case replay::WalSync::background: return "background";
  }
  return "invalid";
}

std::string describe(const Fault& f) {
  char line[256];
  const bool store = f.kind == FaultKind::store_outage || f.kind == FaultKind::store_restart;
  const std::string target = f.target < 0                         ? "node"
                             : f.kind == FaultKind::bus_partition ? "region" + std::to_string(f.target + 1)
                             : store
                                 ? (f.target == static_cast<int64_t>(StoreTarget::cold) ? "cold_store" : "hot_store")
                                 : "client" + std::to_string(f.target);
  int n = std::snprintf(line, sizeof line, "fault tick=%llu kind=%s target=%s", static_cast<unsigned long long>(f.tick),
                        name(f.kind), target.c_str());
  const auto rest = [&](const char* format, auto... values) {
    n += std::snprintf(line + n, sizeof line - static_cast<size_t>(n), format, values...);
  };
  switch (f.kind) {
    case FaultKind::crash:
      rest(" as=%s phase=%s down_ticks=%llu", f.amount == 0 ? "process" : "machine",
           f.phase == 0   ? "before_tick"
           : f.phase == 1 ? "before_sends"
                          : "after_sends",
           static_cast<unsigned long long>(f.duration));
      break;
    case FaultKind::client_clock_jump:
    case FaultKind::node_clock_jump: rest(" ms=%lld", static_cast<long long>(f.amount)); break;
    case FaultKind::log_fail: rest(" fails=%s", f.amount == 0 ? "append" : "fsync"); break;
    case FaultKind::store_outage:
      rest(" ticks=%llu outage=%s", static_cast<unsigned long long>(f.duration),
           name(static_cast<StoreOutage>(f.amount)));
      break;
    case FaultKind::store_restart:
      rest(" loses=%s", f.target == static_cast<int64_t>(StoreTarget::cold) ? "nothing" : "everything");
      break;
    default:
      rest(" ticks=%llu amount=%lld", static_cast<unsigned long long>(f.duration), static_cast<long long>(f.amount));
      break;
  }
  return line;
}

Plan draw_plan(uint64_t seed, const RunShape& shape) {
  net::SeededRandom rng(seed);
  Plan plan;
  plan.seed = seed;
  plan.link = draw_link(rng, shape.faults.has(FaultGroup::net));
  plan.log_sync = draw_sync(rng, shape.regions > 1);
  // The last stretch is quiet (longer than the convergence bound): every client must end converged.
  const uint64_t quiet_len = std::max<uint64_t>(shape.ticks * 15 / 100, 360);
  plan.quiet_from = shape.ticks > quiet_len + 80 ? shape.ticks - quiet_len : shape.ticks;
  const Window window{40, plan.quiet_from};
  if (window.quiet > window.first + 1 && shape.clients > 0) {
    draw_clients(rng, shape, window, plan.faults);
    draw_node(rng, shape, window, plan.log_sync, plan.faults);
    if (shape.faults.has(FaultGroup::store)) {
      net::SeededRandom stores(sim::mix64(seed ^ 0x53544F5245000000ULL));  // "STORE"
      draw_stores(stores, shape, window, plan.faults);
    }
  }
  std::stable_sort(plan.faults.begin(), plan.faults.end(),
                   [](const Fault& a, const Fault& b) { return a.tick < b.tick; });
  return plan;
}

uint64_t region_seed(uint64_t seed, size_t region) {
  return region == 0 ? seed : sim::mix64(seed ^ (0x5245474E00000000ULL + region));  // "REGN"
}

ClusterPlan draw_cluster_plan(uint64_t seed, const RunShape& shape) {
  ClusterPlan plan;
  plan.seed = seed;
  for (size_t r = 0; r < shape.regions; ++r) plan.regions.push_back(draw_plan(region_seed(seed, r), shape));
  net::SeededRandom rng(sim::mix64(seed ^ 0x4255534255534255ULL));  // the bus's own draws
  BusPlan& bus = plan.bus;
  // A region near its stream or across an ocean: up to 60 ms one way. One world message is in
  // flight per region (BusOutbox), and the ticks that became ready meanwhile go out merged in the
  // next one, so a far region keeps up and catches up after a cut. (When a message held one tick,
  // 20 ms one way and 10 % losses left a region behind for good: the bound was 5 ms.)
  bus.latency_us = 200 + rng.below(60'000);
  if (shape.faults.has(FaultGroup::net)) {
    bus.ack_loss_per_mille = static_cast<uint32_t>(rng.below(51));  // up to 5 %
    bus.publish_loss_per_mille = static_cast<uint32_t>(rng.below(51));
    bus.delivery_loss_per_mille = static_cast<uint32_t>(rng.below(51));
  }
  const uint64_t quiet = plan.regions.empty() ? shape.ticks : plan.regions[0].quiet_from;
  const Window w{40, quiet};
  if (shape.faults.has(FaultGroup::partition) && shape.regions > 1 && w.quiet > w.first + 1) {
    for (uint64_t i = count(rng, shape.ticks, 2, 2); i > 0; --i) {
      Fault f{w.start(rng), FaultKind::bus_partition, static_cast<int64_t>(rng.below(shape.regions))};
      f.duration = w.duration(rng, f.tick, 20, 1200);  // up to 60 s (the partition)
      bus.faults.push_back(f);
    }
  }
  std::stable_sort(bus.faults.begin(), bus.faults.end(),
                   [](const Fault& a, const Fault& b) { return a.tick < b.tick; });
  return plan;
}

}  // namespace strata::vopr
