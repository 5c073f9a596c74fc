// server/config.h — the node's configuration: defaults, then a YAML file, then environment
// variables, then command-line flags (each later source wins). Every key of the YAML file can be
// overridden by an environment variable named STRATA_ + its path in upper case with '_' for '.'
// (world.seed -> STRATA_WORLD_SEED). Unknown keys, wrong types and out-of-range values are errors
// that name the key, the source and, for YAML, the line: a typo never silently means "default".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "replay/rocks_log.h"
#include "server/input_scheduler.h"
#include "server/limits.h"
#include "sim/world.h"

namespace strata::server {

// Authentication (server/login.h). Secrets are read from files named here (or, for the admin
// token, from STRATA_AUTH_ADMIN_TOKEN), so they need not appear on a command line.
struct AuthSettings {
  std::string mode = "dev";     // dev (open, loopback only), static (accounts file), ticket (signed tickets)
  std::string accounts_file;    // static: "<name> <crypto_pwhash_str hash>" lines
  std::string ticket_key_file;  // ticket: 64 hex digits, the key shared with the game's backend
  uint32_t ticket_lifetime_max_s = 300;
  std::string admin_token;  // observers' credential ("Authorization: Bearer ..."); empty: none
  std::string admin_token_file;
  uint32_t attempts_per_address_per_s = 20;  // login attempts, token bucket per peer address
  uint32_t attempts_burst_per_address = 40;
  uint32_t dev_new_names_per_address_per_min = 1000;
  uint32_t dev_names_max = 100'000;
  uint32_t verify_threads = 1;  // password verifications at once (each ~64 MiB, ~0.1 s)
  uint32_t verify_queue_max = limits::verify_queue_default;
  bool accounts_sync = true;  // fsync each new account binding (not in dev mode)
};

// The stores (storage/store_set.h, server/storage_service.h): the embedded RocksDB under the data
// dir by default (no service needed); Redis (live positions, hot cache) and MariaDB (the cold store)
// when their host is set. The MariaDB password comes from password_file or
// STRATA_STORAGE_MARIADB_PASSWORD, so it need not appear on a command line.
struct StorageSettings {
  bool sync = true;                     // fsync the embedded store's player, map and session writes
  uint32_t positions_every_ticks = 20;  // M: live positions written every M ticks
  uint32_t players_every_ticks = 600;   // connected players whose state changed saved this often
  uint32_t join_wait_ticks = 40;        // a join waits this long for its save, then uses the last known
  uint32_t map_every_ticks = 1200;      // the map's changed chunks saved this often (0: only at stop)
  uint32_t writes_queued_max = 4096;    // per port, in memory (players and sessions spill beyond it)
  uint32_t shutdown_flush_ms = 5000;    // how long stop waits for the queues to reach the stores
  uint32_t map_id = 1;                  // the map's key in the store
  bool load_map_from_store = false;     // world.load_map_from_store: a new world takes the stored chunks
  std::string redis_host;               // empty: no Redis
  uint16_t redis_port = 6379;
  std::string redis_prefix;  // empty: "strata:<region>:"
  uint32_t redis_timeout_ms = 500;
  uint32_t redis_cache_ttl_s = 1800;
  std::string redis_index = "geo";  // geo or grid (storage/redis_stores.h)
  std::string mariadb_host;         // empty: no MariaDB
  uint16_t mariadb_port = 3306;
  std::string mariadb_user;
  std::string mariadb_password;
  std::string mariadb_password_file;
  std::string mariadb_database = "strata";
  bool mariadb_create_database = false;
  uint32_t mariadb_connect_timeout_s = 2;
  uint32_t mariadb_io_timeout_s = 5;
  // How long a region's hold of its online players outlives its last renewal (renewed every third
  // of it): a crashed region's players may join elsewhere after at most this (issue 16 item 5).
  uint32_t mariadb_lease_s = 30;
};

// True for 127.0.0.0/8, ::1, ::ffff:127.x.y.z and "localhost".
[[nodiscard]] bool is_loopback(std::string_view address);

// The region event bus (DESIGN.md "Regions"): empty url is one region alone, no bus.
struct BusSettings {
  std::string url;                // nats://host:port, or a comma-separated list (a cluster)
  std::vector<uint16_t> regions;  // every region of the deployment, this one included
  std::string stream = "GLOBAL_EVENTS";
  std::string subject_namespace;  // prefixed to the subjects (tests; empty in production)
  uint32_t replicas = 1;          // of the stream (3 on a 3-node JetStream cluster)
  uint64_t dedup_window_ms = 120'000;
  uint32_t pending_max = 256;           // publishes awaiting their ack
  uint32_t publish_max_wait_ms = 5000;  // before a publish is sent again
  uint64_t health_every_ms = 2000;
  uint32_t presence_every_ticks = 10;
  uint32_t compress_above_bytes = 1024;
  uint32_t world_batches_max = 65536;  // held until acknowledged (20 Hz: 55 minutes of busy ticks)
  // Map snapshots (server/map_snapshots.h): published every map_snapshot_every_s (0: only on a
  // desync) to the key-value bucket map_bucket; a region started with an empty log and
  // bootstrap_from set ("<region>" or "any") starts from one.
  uint32_t map_snapshot_every_s = 60;
  std::string map_bucket = "STRATA_MAPS";
  std::string bootstrap_from;
};

struct ServerConfig {
  uint32_t tick_rate_hz = 20;
  uint16_t region = 1;
  sim::WorldParams world;  // seed, chunks_x, chunks_y, npc_count, random_ticks_per_chunk
  std::string data_dir = "./strata-data";
  uint32_t snapshot_every_ticks = 600;   // K: a snapshot every 30 s at 20 Hz
  uint32_t full_hash_every_ticks = 100;  // N
  // When the log's WAL is fsynced (DESIGN.md step 4). background: by a log thread after every tick,
  // and what is derived from a tick leaves the node only once the disk holds it (an input a client
  // saw processed survives power loss; the tick thread never waits on the disk unless it lags by
  // LogConfig::sync_lag_ticks_max). every_tick: the same on the tick thread (costs the disk's flush
  // latency each tick: p99 45 ms at 1,000 bots on this VM). none: a process kill loses nothing, a
  // machine crash may lose what the OS had not written.
  replay::WalSync log_sync = replay::WalSync::background;
  std::string bind_address = "127.0.0.1";
  uint16_t udp_port = 27500;
  uint16_t tcp_port = 27501;
  // Bytes queued for one TCP stream that the kernel has not taken; a peer that does not read past it
  // is dropped (net::TcpConfig::send_queue_bytes_max).
  uint32_t tcp_send_queue_bytes = limits::tcp_send_queue_bytes_default;
  uint32_t tcp_send_buffer_bytes = 0;  // SO_SNDBUF of each accepted stream (0: the OS default, autotuned)
  uint16_t http_port = 8080;
  uint16_t metrics_port = 9100;
  uint32_t max_clients = 5000;
  // The network thread runs at most one loop turn per this many microseconds: datagrams gather in
  // the socket and are taken in batches, instead of one wake-up (a context switch) per datagram.
  // 1 ms adds at most 1 ms to a round trip; at 1000 clients it halved the thread's CPU.
  uint32_t net_loop_min_us = 1000;
  // The network thread runs this much nicer than the tick thread: on a saturated box the tick
  // keeps its budget; datagrams wait a little longer in the socket (inputs are taken once a tick).
  uint32_t net_thread_nice = 2;
  uint32_t aoi_radius_cells = 24;
  uint32_t client_snapshot_rate_hz = 20;
  uint32_t aoi_near_cells = 8;  // refreshed every snapshot; see AoiParams
  uint32_t aoi_mid_cells = 16;  // every 2nd; beyond, every 4th
  uint32_t snapshot_threads = 1;
  // Builder threads run this much nicer than the tick thread: on a saturated box the tick keeps its
  // budget and snapshots degrade instead (a busy builder skips to the newest frame).
  uint32_t snapshot_threads_nice = 5;
  uint64_t hlc_max_offset_ms = 2000;
  InputSchedulerConfig inputs;
  uint32_t connect_token_ttl_s = 30;
  // The admin listener (sessions, world status, observer logins): loopback by default.
  std::string admin_bind_address = "127.0.0.1";
  uint16_t admin_port = 8081;
  AuthSettings auth;
  StorageSettings storage;
  BusSettings bus;
};

struct ConfigError {
  std::string message;  // names the key and the source
};

// Loads the configuration: yaml_text may be empty (no file); env is the process environment
// (injected for tests). Returns the errors; on errors the config holds what could be applied.
[[nodiscard]] std::vector<ConfigError> load_config(ServerConfig& config, const std::string& yaml_text,
                                                   const std::string& source_name,
                                                   const std::map<std::string, std::string>& env);

// Applies one "path=value" override (command-line --set), with the same checks.
[[nodiscard]] std::vector<ConfigError> apply_override(ServerConfig& config, const std::string& assignment);

// Every key, for --help and docs: "path (ENV_NAME): description [default]".
[[nodiscard]] std::vector<std::string> describe_config_keys();

// Cross-field checks (world params valid, ports distinct, ...); run after loading.
[[nodiscard]] std::vector<ConfigError> validate_config(const ServerConfig& config);

// The environment of this process as a map (only STRATA_* entries).
[[nodiscard]] std::map<std::string, std::string> strata_environment();

}  // namespace strata::server
