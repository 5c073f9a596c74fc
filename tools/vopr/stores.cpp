// tools/vopr/stores.cpp — see stores.h.
#include "tools/vopr/stores.h"

#include <variant>

#include "schema/log_codec.h"
#include "storage/codec.h"

namespace strata::vopr {

namespace {

// A save in a line: its position (raw fixed point), health, stamina and the sum of its items.
std::string text(const std::optional<sim::PlayerSave>& save) {
  if (!save) return "none";
  uint64_t items = 0;
  for (const auto count : save->inventory) items += count;
  return "{pos " + std::to_string(save->pos.x.raw()) + "," + std::to_string(save->pos.y.raw()) + " health " +
         std::to_string(save->health) + " stamina " + std::to_string(save->stamina) + " items " +
         std::to_string(items) + "}";
}

}  // namespace

storage::Outcome RecordingPlayers::save(std::span<const storage::PlayerRecord> records) {
  for (const storage::PlayerRecord& r : records) {
    const auto [slot, fresh] = offered.try_emplace({r.player, r.version}, r.state);
    uint64_t& newest = newest_offered[r.player];
    if (!fresh) {
      retried += 1;
      if (slot->second != r.state && version_problem.empty())
        version_problem = "player " + std::to_string(static_cast<uint32_t>(r.player)) + " version " +
                          std::to_string(r.version) + " offered again with other bytes";
    } else if (r.version <= newest && version_problem.empty()) {
      version_problem = "player " + std::to_string(static_cast<uint32_t>(r.player)) + ": a new save at version " +
                        std::to_string(r.version) + " not above " + std::to_string(newest) +
                        " (the store keeps the older one)";
    }
    newest = std::max(newest, r.version);
  }
  storage::Outcome outcome = cold_.save(records);
  if (!outcome.ok()) return outcome;
  acked_writes += records.size();
  for (const storage::PlayerRecord& r : records) {
    storage::PlayerRecord& a = acked[r.player];
    if (r.version > a.version) a = r;
  }
  return outcome;
}

VoprStores::VoprStores() = default;

void VoprStores::open(const server::ServerConfig& config, uint64_t wall_us) {
  std::string error;
  std::optional<server::StorageService::Options> options = server::StorageService::options_from(config, wall_us, error);
  STRATA_ASSERT(options.has_value(), error);
  options->worker_threads = false;  // pumped by the simulation: a run reproduces from its seed
  options->players_every_ticks = 100;
  options->shutdown_flush = std::chrono::milliseconds(1000);  // the end is quiet: one pump drains it
  auto stores = storage::StoreSet::over(cached_, cold_, hot_, cold_, {}, &journal_);
  service_ = server::StorageService::over(*options, std::move(stores));
  recorder_.acked_writes = 0;
  incarnations_ += 1;
}

void VoprStores::start(const sim::World& world) { service_->start(world, std::chrono::milliseconds(0)); }

void VoprStores::add_counters() {
  if (!service_) return;
  const server::StorageCounters c = service_->counters();
#define STRATA_VOPR_ADD_STORAGE(member, series, help) past_.member += c.member;
  STRATA_STORAGE_SERVICE_COUNTERS(STRATA_VOPR_ADD_STORAGE)
#undef STRATA_VOPR_ADD_STORAGE
}

void VoprStores::crash(uint64_t kept_tick, bool timeline_lost, bool machine) {
  add_counters();
  service_.reset();  // the ports die before the journal is touched
  if (machine) {
    journal_.for_each([&](std::string_view bytes) {
      if (std::optional<storage::PlayerRecord> r = storage::codec::decode_player_record(bytes)) {
        journal_lost_.insert(static_cast<uint32_t>(r->player));
        journal_lost_saves_ += 1;
      }
    });
    while (journal_.size() > 0) journal_.pop();
  }
  if (timeline_lost) {
    timeline_lost_ = true;
    rejoined_.clear();
  }
  degraded_.clear();
  for (auto& [player, leaves] : history_) std::erase_if(leaves, [&](const Left& l) { return l.tick > kept_tick; });
}

void VoprStores::closed() {
  add_counters();
  service_.reset();
}

void VoprStores::pump() {
  if (service_) (void)service_->pump();
}

void VoprStores::hold(int64_t target, std::optional<StoreOutage> outage) {
  storage::MemoryStores& store = twin(target);
  store.set_down(outage == StoreOutage::down);
  if (!outage || *outage == StoreOutage::down) {
    store.hold(std::nullopt);
  } else {
    store.hold(static_cast<storage::Fault>(*outage));  // stall, error, lost_connection: the same order
  }
}

void VoprStores::apply(const Fault& f, uint64_t tick) {
  if (f.kind == FaultKind::store_outage) {
    outages_ += 1;
    const auto target = static_cast<size_t>(f.target);
    outage_until_[target] = std::max(outage_until_[target], tick + f.duration);
    hold(f.target, static_cast<StoreOutage>(f.amount));
  } else if (f.kind == FaultKind::store_restart) {
    restarts_ += 1;
    twin(f.target).restart(f.target == static_cast<int64_t>(StoreTarget::cold) ? storage::RestartLoses::nothing
                                                                               : storage::RestartLoses::everything);
  }
}

void VoprStores::end_faults(uint64_t tick) {
  for (size_t target = 0; target < 2; ++target) {
    if (outage_until_[target] == 0 || tick < outage_until_[target]) continue;
    outage_until_[target] = 0;
    hold(static_cast<int64_t>(target), std::nullopt);
  }
}

std::string VoprStores::check_joins(uint64_t tick, const schema::TickRecord& record, const std::set<uint32_t>& before,
                                    uint64_t& checks) {
  std::set<uint32_t> present = before;
  std::map<uint32_t, sim::PlayerSave> left_now;  // leaves of this tick, in command order
  for (const sim::Command& command : record.input.commands) {
    if (const auto* leave = std::get_if<sim::LeaveCommand>(&command)) {
      const uint32_t id = sim::raw(leave->player);
      if (present.erase(id) == 0) continue;  // refused: not in the world
      auto found = history_.find(id);
      if (found != history_.end() && !found->second.empty() && found->second.back().tick == tick)
        left_now[id] = found->second.back().save;
      continue;
    }
    const auto* join = std::get_if<sim::JoinCommand>(&command);
    if (join == nullptr) continue;
    const uint32_t id = sim::raw(join->player);
    if (!present.insert(id).second) continue;  // refused: already in the world (a takeover)
    std::optional<sim::PlayerSave> expected;
    if (auto now = left_now.find(id); now != left_now.end()) {
      expected = now->second;
    } else if (auto found = history_.find(id); found != history_.end()) {
      for (auto it = found->second.rbegin(); it != found->second.rend(); ++it) {
        if (it->tick < tick) {
          expected = it->save;
          break;
        }
      }
    }
    const bool degraded = degraded_.erase(id) > 0;
    const bool first_since_loss = timeline_lost_ && !rejoined_.contains(id);
    if (join->save == expected) journal_lost_.erase(id);
    joins_checked_ += 1;
    joins_with_save_ += join->save ? 1 : 0;
    joins_degraded_ += degraded ? 1 : 0;
    if (join->save == expected) {
      checks += 1;
      if (first_since_loss) rejoined_.insert(id);
      continue;
    }
    if (degraded) {  // the node joined without the store's answer: counted, not a breach
      joins_degraded_differ_ += 1;
      continue;
    }
    if (timeline_lost_ && rejoined_.insert(id).second) {  // a save of a lost tick: the policy's risk
      joins_policy_lost_ += 1;
      continue;
    }
    if (journal_lost_.erase(id) > 0) {  // its save was in the journal a machine crash lost
      joins_journal_lost_ += 1;
      continue;
    }
    checks += 1;
    return "player " + std::to_string(id) + " joined with " + text(join->save) + " but left with " + text(expected);
  }
  return {};
}

std::string VoprStores::check_acked(uint64_t& checks) {
  checks += 1;
  for (const auto& [player, acked] : recorder_.acked) {
    auto found = cold_.players().find(player);
    if (found == cold_.players().end() || found->second.version < acked.version ||
        (found->second.version == acked.version && found->second.state != acked.state)) {
      return "player " + std::to_string(static_cast<uint32_t>(player)) + "'s acknowledged save version " +
             std::to_string(acked.version) + " is gone (the store holds " +
             (found == cold_.players().end() ? std::string("nothing") : std::to_string(found->second.version)) + ")";
    }
  }
  if (service_) {
    const uint64_t durable = service_->stores().players().durable_sequence();
    if (durable != recorder_.acked_writes) {
      return "the player port says " + std::to_string(durable) + " writes are durable, the store acknowledged " +
             std::to_string(recorder_.acked_writes);
    }
  }
  return {};
}

std::string VoprStores::check_versions(uint64_t& checks) {
  checks += 1;
  return recorder_.version_problem;
}

std::string VoprStores::check_final(uint64_t& checks) {
  for (const auto& [id, leaves] : history_) {
    if (leaves.empty() || (timeline_lost_ && !rejoined_.contains(id)) || journal_lost_.contains(id))
      continue;  // see check_joins
    checks += 1;
    auto found = cold_.players().find(storage::PlayerKey{id});
    const std::optional<sim::PlayerSave> stored =
        found == cold_.players().end() ? std::nullopt : server::decode_player_save(found->second.state);
    if (stored != leaves.back().save) {
      return "player " + std::to_string(id) + " left last at tick " + std::to_string(leaves.back().tick) + " with " +
             text(leaves.back().save) + ", the store holds " + text(stored) +
             (found == cold_.players().end() ? "" : " version " + std::to_string(found->second.version));
    }
  }
  return {};
}

bool VoprStores::request(sim::PlayerId player) {
  const bool queued = service_->request(player);
  if (queued) {
    degraded_.erase(sim::raw(player));
  } else {
    degraded_.insert(sim::raw(player));  // the node joins with last_known at once
  }
  return queued;
}

server::PlayerSaves::Poll VoprStores::poll(sim::PlayerId player, std::optional<sim::PlayerSave>& save) {
  const uint64_t failed = service_->counters().player_loads_failed;
  const Poll poll = service_->poll(player, save);
  if (poll == Poll::answered && service_->counters().player_loads_failed != failed) degraded_.insert(sim::raw(player));
  return poll;
}

void VoprStores::cancel(sim::PlayerId player) {
  degraded_.insert(sim::raw(player));  // a timeout (then last_known), or the client left before its join
  service_->cancel(player);
}

std::optional<sim::PlayerSave> VoprStores::last_known(sim::PlayerId player) { return service_->last_known(player); }

void VoprStores::left(uint64_t tick, std::span<const std::pair<sim::PlayerId, sim::PlayerSave>> saves) {
  for (const auto& [player, save] : saves) history_[sim::raw(player)].push_back(Left{tick, save});
  service_->left(tick, saves);
}

std::vector<std::string> VoprStores::stats() const {
  server::StorageCounters c = past_;
  if (service_) {
    const server::StorageCounters now = service_->counters();
#define STRATA_VOPR_ADD_STORAGE(member, series, help) c.member += now.member;
    STRATA_STORAGE_SERVICE_COUNTERS(STRATA_VOPR_ADD_STORAGE)
#undef STRATA_VOPR_ADD_STORAGE
  }
  const storage::CacheCounters cache = cached_.counters();
  const storage::FaultCounters& cold = cold_.fault_counters();
  const storage::FaultCounters& hot = hot_.fault_counters();
  std::vector<std::string> out;
  auto add = [&](const char* name, uint64_t value) { out.push_back(std::string(name) + "=" + std::to_string(value)); };
  add("store_outages", outages_);
  add("store_restarts", restarts_);
  add("store_calls_failed", cold.failed_down + cold.stalls + cold.errors + cold.lost_connections + hot.failed_down +
                                hot.stalls + hot.errors + hot.lost_connections);
  add("store_lost_acks", cold.lost_connections + hot.lost_connections);
  add("player_saves_left", c.player_saves_left);
  add("player_saves_periodic", c.player_saves_periodic);
  add("player_saves_refused", c.player_saves_refused);
  add("players_with_acked_saves", recorder_.acked.size());
  add("player_saves_retried", recorder_.retried);
  add("player_loads_found", c.player_loads_found);
  add("player_loads_none", c.player_loads_none);
  add("player_loads_failed", c.player_loads_failed);
  add("player_loads_cancelled", c.player_loads_cancelled);
  add("cache_hits", cache.hits);
  add("cache_misses", cache.misses);
  add("cache_failures", cache.cache_failures);
  add("cache_stale_skips", cache.stale_skips);
  add("joins_checked", joins_checked_);
  add("joins_with_save", joins_with_save_);
  add("joins_degraded", joins_degraded_);
  add("joins_degraded_differ", joins_degraded_differ_);
  add("joins_policy_lost", joins_policy_lost_);
  add("journal_lost_saves", journal_lost_saves_);
  add("joins_journal_lost", joins_journal_lost_);
  add("storage_incarnations", incarnations_);
  return out;
}

}  // namespace strata::vopr
