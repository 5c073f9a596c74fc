// strata-server — the regional node's process, wiring only: reads the configuration (YAML +
// STRATA_* + flags), opens the transports (server/transports.h), builds the node (RegionalNode,
// sans I/O) with its ports, the login and the HTTP listeners, and hands them to the runtime
// (server/runtime.h: the tick and network loops, metrics, status, graceful shutdown on
// SIGINT/SIGTERM). Also the auth tools: --hash-password, --new-ticket-key, --mint-ticket.
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "replay/rocks_log.h"
#include "server/auth_tools.h"
#include "server/clock.h"
#include "server/login.h"
#include "server/login_http.h"
#include "server/metrics.h"
#include "server/node.h"
#include "server/node_start.h"
#include "server/region_bus.h"
#include "server/runtime.h"
#include "server/status.h"
#include "server/storage_service.h"
#include "server/transports.h"
#include "sim/limits.h"
#include "storage/account_registry.h"

namespace {

using namespace strata;

std::atomic<bool> stop_requested{false};
void on_signal(int) { stop_requested.store(true); }

constexpr uint64_t protocol_id = 0x5354524154410000ULL | 1;  // "STRATA", protocol 1

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strata-server: the authoritative regional node"};
  std::string config_path, hash_password_name, mint_ticket_name;
  std::vector<std::string> overrides;
  double run_seconds = 0;
  bool list_keys = false, new_ticket_key = false;
  uint32_t ticket_ttl_s = 60;
  app.add_option("-c,--config", config_path, "YAML configuration file (optional; every key also STRATA_<KEY>)");
  app.add_option("--set", overrides, "override one key: path=value (repeatable), e.g. --set net.udp_port=0");
  app.add_option("--run-for", run_seconds, "stop after this many seconds (0: until SIGINT/SIGTERM)");
  app.add_flag("--list-keys", list_keys, "print every configuration key with its environment name and default");
  app.add_option("--hash-password", hash_password_name,
                 "print an accounts file line '<NAME> <hash>' for the password read from stdin, and exit");
  app.add_flag("--new-ticket-key", new_ticket_key, "print a new random ticket key (64 hex digits), and exit");
  app.add_option("--mint-ticket", mint_ticket_name,
                 "print a login ticket for NAME signed with auth.ticket_key_file (for tests and backends), and exit");
  app.add_option("--ticket-ttl", ticket_ttl_s, "lifetime of --mint-ticket's ticket in seconds");
  CLI11_PARSE(app, argc, argv);
  if (list_keys) {
    for (const std::string& line : server::describe_config_keys()) std::printf("%s\n", line.c_str());
    return 0;
  }
  if (sodium_init() < 0) {
    spdlog::error("libsodium failed to initialise");
    return 1;
  }
  if (!hash_password_name.empty()) return server::hash_password_tool(hash_password_name);
  if (new_ticket_key) return server::new_ticket_key_tool();
  const auto config = server::read_server_config(config_path, overrides);
  if (!config) return 2;
  if (!mint_ticket_name.empty()) return server::mint_ticket_tool(*config, mint_ticket_name, ticket_ttl_s);
  std::string error;
  server::LoginConfig login_config;
  if (!server::configure_login(*config, login_config, error)) {
    spdlog::error("config: {}", error);
    return 2;
  }
  server::log_auth_mode(login_config);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  auto transports = server::Transports::open(*config);
  if (!transports) return 1;
  // The node's ports (they outlive it): the host's clocks and the OS's randomness.
  const server::SystemClock clock;
  net::OsRandom random;

  // The node (recovers from its log if one is there).
  const net::Key key = random.key();
  server::RegionalNode::Options options;
  options.config = *config;
  options.net = net::default_server_config();
  options.net.protocol_id = protocol_id;
  options.net.public_address = transports->udp_address();
  options.net.private_key = key;
  options.net.max_clients = config->max_clients;
  options.clock = &clock;
  options.random = &random;
  options.snapshot_threads = config->snapshot_threads;
  options.snapshot_threads_nice = static_cast<int>(config->snapshot_threads_nice);
  // The region event bus, when bus.url names one (server/region_bus.h).
  std::optional<server::RegionBus> region_bus = server::open_region_bus(*config, error);
  if (!region_bus && !error.empty()) {
    spdlog::error("{}", error);
    return 1;
  }
  if (region_bus) options.link = region_bus->link.get();
  const std::string log_dir = config->data_dir + "/session-log";
  // The stores (embedded RocksDB by default; Redis and MariaDB when configured), before the node: a
  // new world may take its map from them.
  auto storage_options = server::StorageService::options_from(*config, clock.wall_us(), error);
  auto storage = storage_options ? server::StorageService::open(*storage_options, error) : nullptr;
  if (!storage) {
    spdlog::error("storage: {}", error);
    return 1;
  }
  options.player_saves = storage.get();  // joins wait for the player's save (storage.join_wait_ticks at most)
  options.join_wait_ticks = config->storage.join_wait_ticks;
  // Map snapshots (server/map_snapshots.h): published to the bus's key-value bucket, written on a
  // desync, and what a new region (no log yet, bus.bootstrap_from set) starts from.
  std::unique_ptr<server::MapStore> map_store;
  std::unique_ptr<server::MapSnapshotPublisher> map_snapshots;
  std::optional<sim::WorldSeed> seed;
  if (region_bus) {
    map_store = server::open_map_store(*config, error);
    if (!map_store) spdlog::warn("map snapshots: {} (none published; a desync still writes the map)", error);
    if (!std::filesystem::exists(log_dir) && !config->bus.bootstrap_from.empty()) {
      if (!map_store) return 1;
      seed = server::bootstrap_from_snapshot(*config, *map_store, error);
      if (!seed) {
        spdlog::error("bootstrap: {}", error);
        return 1;
      }
    }
    map_snapshots = server::make_map_snapshot_publisher(*config, map_store.get(), *region_bus->link);
    options.after_tick = [publisher = map_snapshots.get()](const sim::Simulation& sim) { publisher->on_tick(sim); };
  }
  std::unique_ptr<server::RegionalNode> node;
  // A bootstrapped region starts from the snapshot's map; otherwise the stores may give the map
  // (world.load_map_from_store) of a new log.
  std::optional<server::NodeStart> start = seed ? server::open_rocks_start(*config, log_dir, error, {}, std::move(seed))
                                                : server::open_start_with_storage(*config, log_dir, *storage, error);
  if (start) node = server::RegionalNode::create(options, std::move(*start), error);
  if (!node) {
    spdlog::error("{}", error);
    return 1;
  }
  server::log_node_start(*node, *config);
  storage->start(node->simulation().world());
  if (region_bus) {
    // Our own writes read back from the log (read-only: the node appends to it), for the batches
    // the link does not hold: every recovered tick after our last batch the stream stored, and
    // those let go during a long partition.
    region_bus->own_writes = std::make_unique<server::LogOwnWrites>(
        [log_dir](replay::Status& status) { return replay::open_rocks_log(log_dir, status); });
    region_bus->link->use_log(region_bus->own_writes.get(), node->recovered_from_tick());
  }
  if (region_bus) {
    region_bus->link->start(*region_bus->bus, node->simulation().world(), clock.monotonic_us());
    region_bus->link->set_on_desync([data_dir = config->data_dir, region = config->region,
                                     publisher = map_snapshots.get()](const server::Desync& d) {
      const std::string report = server::write_desync_report(data_dir, sim::RegionId{region}, d);
      publisher->request_desync(d);  // the map, at the next tick, to <data_dir>/desync/ and the bucket
      spdlog::error(
          "desync: region {} and region {} applied the same events (vector of {} origins) but region {} has "
          "map hash {:016x} at tick {} and region {} has {:016x} at tick {}; report {}",
          region, sim::raw(d.peer), d.applied.size(), region, d.our_hash, d.our_tick, sim::raw(d.peer), d.peer_hash,
          d.peer_tick, report);
    });
    spdlog::info("bus: region {} of {} on {} (stream {})", config->region, config->bus.regions.size(), config->bus.url,
                 config->bus.stream);
  }

  // The account registry (name -> persistent player id), the login and the HTTP listeners. Dev
  // mode's names are written without fsync: a burst of new names costs the HTTP thread no flushes.
  const bool accounts_sync = config->auth.accounts_sync && login_config.mode != server::AuthMode::dev;
  auto registry = storage::RocksAccountRegistry::open(config->data_dir + "/accounts", sim::limits::player_id_max,
                                                      accounts_sync, error);
  if (!registry) {
    spdlog::error("{}", error);
    return 1;
  }
  login_config.protocol_id = protocol_id;
  login_config.private_key = key;
  login_config.server_addresses = {transports->udp_address()};
  server::Login login(login_config, *registry, random);
  auto metrics = server::Metrics::create(server::default_metrics_config(), error);
  if (!metrics) {
    spdlog::error("metrics: {}", error);
    return 1;
  }
  server::Status status;
  status.storage = storage.get();
  if (region_bus) status.link = region_bus->link.get();
  server::HttpListeners listeners(*config, login, *metrics, status, transports->tcp_address().port);
  if (!listeners.start(error)) {
    spdlog::error("cannot start HTTP: {}", error);
    return 1;
  }
  server::log_listening(*config, *transports, listeners);
  spdlog::info("auth.mode {}; account registry {}/accounts holds {} names", config->auth.mode, config->data_dir,
               registry->size());
  spdlog::info("session log: {} ; logging to stderr", log_dir);
  std::fflush(stdout);

  server::RuntimeConfig runtime_config = server::runtime_config(*config);
  runtime_config.run_for_us = static_cast<uint64_t>(run_seconds * 1e6);
  runtime_config.stop_signal = &stop_requested;
  server::Runtime runtime(runtime_config, clock, std::move(node), *transports, metrics.get(), &status);
  if (region_bus) {
    server::NatsBus* bus = region_bus->bus.get();
    runtime.attach_bus({bus, region_bus->link.get(), [bus](uint64_t now_us) { bus->maintain(now_us); }});
  }
  runtime.add_tick_observer(*storage);
  runtime.add_stop_step([&storage] { storage->close_queries(); });  // answered before the listeners stop
  runtime.add_stop_step([&listeners] { listeners.stop(); });        // after the log is closed
  return runtime.run().exit_code();
}
