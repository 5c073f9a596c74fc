// server/config.cpp — one table of keys drives the YAML reader, the environment overrides, the
// --set overrides and the key listing, so a key cannot be readable from one source but not another.
#include "server/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <limits>

extern char** environ;

namespace strata::server {
namespace {

// A key sets a field from text; it returns an error message (empty when fine). A `list` key also
// takes a YAML sequence of scalars, given to `set` joined by spaces.
struct Key {
  const char* path;
  const char* description;
  std::function<std::string(ServerConfig&, const std::string&)> set;
  std::function<std::string(const ServerConfig&)> get;
  bool list = false;
};

// world.region_map: rectangles "X,Y,W,H:REGION" (in chunks) separated by spaces or ';'. Empty: no
// map (this region owns every chunk, unless world.region_map_default names another owner).
std::string parse_region_rects(const std::string& text, std::vector<sim::RegionRect>& out) {
  out.clear();
  size_t at = 0;
  while (at < text.size()) {
    const size_t start = text.find_first_not_of(" \t;", at);
    if (start == std::string::npos) break;
    const size_t end = std::min(text.find_first_of(" \t;", start), text.size());
    const std::string item = text.substr(start, end - start);
    at = end;
    uint64_t v[5] = {};
    size_t field = 0;
    const char* p = item.data();
    const char* const last = item.data() + item.size();
    bool ok = true;
    while (ok && field < 5) {
      auto [next, ec] = std::from_chars(p, last, v[field]);
      ok = ec == std::errc() && next != p;
      p = next;
      field += 1;
      if (!ok || field == 5) break;
      const char want = field == 4 ? ':' : ',';
      ok = p != last && *p == want;
      p += ok ? 1 : 0;
    }
    if (!ok || p != last)
      return "expected rectangles X,Y,W,H:REGION (in chunks) separated by spaces, got '" + item + "'";
    if (out.size() >= sim::limits::region_rects_max) {
      return "more than " + std::to_string(sim::limits::region_rects_max) + " rectangles";
    }
    const uint64_t axis = sim::limits::map_chunks_per_axis_max;
    if (v[0] >= axis || v[1] >= axis || v[2] < 1 || v[2] > axis || v[3] < 1 || v[3] > axis || v[4] < 1 ||
        v[4] > 65535) {
      return "rectangle '" + item + "' out of range (X, Y < " + std::to_string(axis) + "; W, H in [1, " +
             std::to_string(axis) + "]; REGION in [1, 65535])";
    }
    out.push_back(sim::RegionRect{static_cast<int32_t>(v[0]), static_cast<int32_t>(v[1]), static_cast<int32_t>(v[2]),
                                  static_cast<int32_t>(v[3]), sim::RegionId{static_cast<uint16_t>(v[4])}});
  }
  return {};
}

std::string show_rect(const sim::RegionRect& r) {
  return std::to_string(r.x) + "," + std::to_string(r.y) + "," + std::to_string(r.w) + "," + std::to_string(r.h) + ":" +
         std::to_string(sim::raw(r.region));
}

// The map is by rectangles as soon as it has one or names a fallback owner; else the region owns all.
void settle_region_map(sim::RegionMap& map) {
  map.mode = map.rects.empty() && sim::raw(map.fallback) == 0 ? sim::Ownership::whole : sim::Ownership::by_map;
}

template <class T>
std::string parse_unsigned(const std::string& text, T& out, uint64_t min, uint64_t max) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return "expected an unsigned integer, got '" + text + "'";
  if (value < min || value > max) {
    return "value " + text + " out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  }
  out = static_cast<T>(value);
  return {};
}

[[maybe_unused]] std::string parse_bool(const std::string& text, bool& out) {
  if (text == "true" || text == "1" || text == "yes" || text == "on") {
    out = true;
    return {};
  }
  if (text == "false" || text == "0" || text == "no" || text == "off") {
    out = false;
    return {};
  }
  return "expected true or false, got '" + text + "'";
}

#define STRATA_UNSIGNED(PATH, FIELD, MIN, MAX, DESCRIPTION)                                                        \
  Key {                                                                                                            \
    PATH, DESCRIPTION, [](ServerConfig& c, const std::string& t) { return parse_unsigned(t, c.FIELD, MIN, MAX); }, \
        [](const ServerConfig& c) { return std::to_string(c.FIELD); }                                              \
  }
#define STRATA_STRING(PATH, FIELD, DESCRIPTION)       \
  Key {                                               \
    PATH, DESCRIPTION,                                \
        [](ServerConfig& c, const std::string& t) {   \
          c.FIELD = t;                                \
          return std::string();                       \
        },                                            \
        [](const ServerConfig& c) { return c.FIELD; } \
  }

#define STRATA_BOOL(PATH, FIELD, DESCRIPTION)                                                        \
  Key {                                                                                              \
    PATH, DESCRIPTION, [](ServerConfig& c, const std::string& t) { return parse_bool(t, c.FIELD); }, \
        [](const ServerConfig& c) { return std::string(c.FIELD ? "true" : "false"); }                \
  }

const std::vector<Key>& keys() {
  static const std::vector<Key> table = {
      STRATA_UNSIGNED("tick_rate_hz", tick_rate_hz, 1, 1000, "simulation ticks per second"),
      STRATA_UNSIGNED("region", region, 1, 65535, "this region's id"),
      STRATA_UNSIGNED("world.seed", world.seed, 0, std::numeric_limits<uint64_t>::max(), "world seed"),
      STRATA_UNSIGNED("world.chunks_x", world.chunks_x, 1, 64, "map width in 32-cell chunks"),
      STRATA_UNSIGNED("world.chunks_y", world.chunks_y, 1, 64, "map height in 32-cell chunks"),
      STRATA_UNSIGNED("world.npcs", world.npc_count, 0, 16384, "NPCs created with the world"),
      STRATA_UNSIGNED("world.random_ticks_per_chunk", world.random_ticks_per_chunk, 0, 64,
                      "random cell updates per chunk per tick"),
      Key{"world.region_map",
          "chunks each region owns (runs their random ticks and NPCs): rectangles X,Y,W,H:REGION in chunks, "
          "separated by spaces (a YAML list of them too); chunks no rectangle covers go to "
          "world.region_map_default. Empty: this region owns every chunk",
          [](ServerConfig& c, const std::string& t) {
            std::string problem = parse_region_rects(t, c.world.region_map.rects);
            if (!problem.empty()) c.world.region_map.rects.clear();
            settle_region_map(c.world.region_map);
            return problem;
          },
          [](const ServerConfig& c) {
            std::string text;
            for (const sim::RegionRect& r : c.world.region_map.rects) {
              if (!text.empty()) text += ' ';
              text += show_rect(r);
            }
            return text;
          },
          true},
      Key{"world.region_map_default",
          "owner of the chunks no world.region_map rectangle covers (0: no region, their random ticks and NPCs "
          "run nowhere)",
          [](ServerConfig& c, const std::string& t) {
            uint16_t owner = 0;
            std::string problem = parse_unsigned(t, owner, 0, 65535);
            if (problem.empty()) c.world.region_map.fallback = sim::RegionId{owner};
            settle_region_map(c.world.region_map);
            return problem;
          },
          [](const ServerConfig& c) { return std::to_string(sim::raw(c.world.region_map.fallback)); }},
      STRATA_STRING("bus.url", bus.url,
                    "NATS server(s) of the region event bus, nats://host:port[,...] (empty: one region alone)"),
      Key{"bus.regions", "every region of the deployment, this one included (ids separated by spaces or commas)",
          [](ServerConfig& c, const std::string& t) {
            c.bus.regions.clear();
            std::string item;
            for (size_t i = 0; i <= t.size(); ++i) {
              if (i < t.size() && t[i] != ',' && t[i] != ' ' && t[i] != ';') {
                item += t[i];
                continue;
              }
              if (item.empty()) continue;
              uint16_t region = 0;
              if (std::string problem = parse_unsigned(item, region, 1, 65535); !problem.empty()) return problem;
              if (c.bus.regions.size() >= sim::limits::regions_max) return std::string("too many regions");
              c.bus.regions.push_back(region);
              item.clear();
            }
            return std::string();
          },
          [](const ServerConfig& c) {
            std::string text;
            for (const uint16_t r : c.bus.regions) {
              if (!text.empty()) text.push_back(' ');
              text.append(std::to_string(r));
            }
            return text;
          },
          true},
      STRATA_STRING("bus.stream", bus.stream, "JetStream stream of the region events"),
      STRATA_STRING("bus.subject_namespace", bus.subject_namespace, "prefix of the bus subjects (empty in production)"),
      STRATA_UNSIGNED("bus.replicas", bus.replicas, 1, 5, "replicas of the stream (3 on a 3-node JetStream cluster)"),
      STRATA_UNSIGNED("bus.dedup_window_ms", bus.dedup_window_ms, 1000, 86'400'000,
                      "the stream's duplicate window: a resend within it is stored once"),
      STRATA_UNSIGNED("bus.pending_max", bus.pending_max, 1, 4096, "publishes waiting for their acknowledgement"),
      STRATA_UNSIGNED("bus.publish_max_wait_ms", bus.publish_max_wait_ms, 100, 600'000,
                      "wait for a publish acknowledgement before sending again"),
      STRATA_UNSIGNED("bus.health_every_ms", bus.health_every_ms, 100, 3'600'000,
                      "period of the health points (applied vector, map hash)"),
      STRATA_UNSIGNED("bus.presence_every_ticks", bus.presence_every_ticks, 1, 100'000,
                      "ticks between presence samples"),
      STRATA_UNSIGNED("bus.compress_above_bytes", bus.compress_above_bytes, 0, 1'000'000,
                      "payloads above this many bytes are compressed (zstd)"),
      STRATA_UNSIGNED("bus.world_batches_max", bus.world_batches_max, 1, 1'000'000,
                      "world batches held until the stream acknowledges them"),
      STRATA_UNSIGNED("bus.map_snapshot_every_s", bus.map_snapshot_every_s, 0, 86'400,
                      "period of the published map snapshots new regions bootstrap from (0: only on a desync)"),
      STRATA_STRING("bus.map_bucket", bus.map_bucket, "JetStream key-value bucket of the published map snapshots"),
      STRATA_STRING("bus.bootstrap_from", bus.bootstrap_from,
                    "with an empty log: start from this region's published map snapshot (a region id, or 'any': "
                    "the most advanced of the peers'; empty: a new world)"),
      STRATA_STRING("log.dir", data_dir, "folder of the embedded store (session log, snapshots)"),
      STRATA_UNSIGNED("log.snapshot_every_ticks", snapshot_every_ticks, 1, 1000000, "snapshot period K"),
      STRATA_UNSIGNED("log.full_hash_every_ticks", full_hash_every_ticks, 1, 1000000, "full hash period N"),
      Key{"log.sync",
          "when the log is fsynced: background (a log thread after every tick; what a tick shows is sent once "
          "the disk holds it), tick (on the tick thread, every tick), none (when the OS decides: a machine crash "
          "loses the last seconds)",
          [](ServerConfig& c, const std::string& t) {
            if (t == "background")
              c.log_sync = replay::WalSync::background;
            else if (t == "tick")
              c.log_sync = replay::WalSync::every_tick;
            else if (t == "none")
              c.log_sync = replay::WalSync::none;
            else
              return std::string("expected background, tick or none");
            return std::string();
          },
          [](const ServerConfig& c) {
            return std::string(c.log_sync == replay::WalSync::background   ? "background"
                               : c.log_sync == replay::WalSync::every_tick ? "tick"
                                                                           : "none");
          }},
      // The stores (server/storage_service.h).
      STRATA_BOOL("storage.sync", storage.sync, "fsync the embedded store's player, map and session writes"),
      STRATA_UNSIGNED("storage.positions_every_ticks", storage.positions_every_ticks, 1, 100000,
                      "live positions of connected players written every this many ticks"),
      STRATA_UNSIGNED("storage.players_every_ticks", storage.players_every_ticks, 1, 1000000,
                      "connected players whose state changed are saved every this many ticks"),
      STRATA_UNSIGNED("storage.map_every_ticks", storage.map_every_ticks, 0, 10000000,
                      "the map's changed chunks saved this often, off the tick thread (0: only at stop)"),
      STRATA_UNSIGNED("storage.join_wait_ticks", storage.join_wait_ticks, 1, 100000,
                      "a joining player waits this many ticks for its save to load (then: the last known, or fresh)"),
      STRATA_UNSIGNED("storage.writes_queued_max", storage.writes_queued_max, 16, 1u << 20,
                      "writes waiting per store port in memory (players and sessions then spill to disk)"),
      STRATA_UNSIGNED("storage.shutdown_flush_ms", storage.shutdown_flush_ms, 0, 600000,
                      "how long a stop waits for queued writes to reach the stores"),
      STRATA_UNSIGNED("storage.map_id", storage.map_id, 1, 0xFFFFFFFFu, "the map's key in the store"),
      STRATA_BOOL("world.load_map_from_store", storage.load_map_from_store,
                  "a new world (no session log yet) takes the map chunks stored under storage.map_id"),
      STRATA_STRING("storage.redis.host", storage.redis_host,
                    "Redis for live positions and the hot cache (empty: none)"),
      STRATA_UNSIGNED("storage.redis.port", storage.redis_port, 1, 65535, "Redis port"),
      STRATA_STRING("storage.redis.prefix", storage.redis_prefix, "Redis key prefix (empty: strata:<region>:)"),
      STRATA_UNSIGNED("storage.redis.timeout_ms", storage.redis_timeout_ms, 1, 60000, "Redis call timeout"),
      STRATA_UNSIGNED("storage.redis.cache_ttl_s", storage.redis_cache_ttl_s, 1, 30u * 86400,
                      "hot cache entry lifetime"),
      STRATA_STRING("storage.redis.index", storage.redis_index, "position index for near queries: geo or grid"),
      STRATA_STRING("storage.mariadb.host", storage.mariadb_host, "MariaDB, the cold store (empty: none)"),
      STRATA_UNSIGNED("storage.mariadb.port", storage.mariadb_port, 1, 65535, "MariaDB port"),
      STRATA_STRING("storage.mariadb.user", storage.mariadb_user, "MariaDB user"),
      STRATA_STRING("storage.mariadb.password", storage.mariadb_password,
                    "MariaDB password (prefer STRATA_STORAGE_MARIADB_PASSWORD or the file)"),
      STRATA_STRING("storage.mariadb.password_file", storage.mariadb_password_file,
                    "file holding the MariaDB password"),
      STRATA_STRING("storage.mariadb.database", storage.mariadb_database, "MariaDB database ([A-Za-z0-9_]{1,64})"),
      STRATA_BOOL("storage.mariadb.create_database", storage.mariadb_create_database,
                  "create the database at start if it is missing"),
      STRATA_UNSIGNED("storage.mariadb.connect_timeout_s", storage.mariadb_connect_timeout_s, 1, 600,
                      "MariaDB connect timeout"),
      STRATA_UNSIGNED("storage.mariadb.io_timeout_s", storage.mariadb_io_timeout_s, 1, 600,
                      "MariaDB read and write timeout of one call"),
      STRATA_UNSIGNED("storage.mariadb.lease_s", storage.mariadb_lease_s, 1, 3600,
                      "a region's hold of its online players lasts this long after its last renewal"),
      STRATA_STRING("net.bind", bind_address, "address the UDP, TCP, HTTP and metrics listeners bind"),
      STRATA_UNSIGNED("net.udp_port", udp_port, 0, 65535, "netchannel UDP port (0: any free port)"),
      STRATA_UNSIGNED("net.tcp_port", tcp_port, 0, 65535, "netchannel TCP fallback port"),
      STRATA_UNSIGNED("net.tcp_send_queue_bytes", tcp_send_queue_bytes, limits::tcp_send_queue_bytes_min,
                      limits::tcp_send_queue_bytes_limit,
                      "bytes queued for a TCP stream the peer does not read before it is dropped"),
      STRATA_UNSIGNED("net.tcp_send_buffer_bytes", tcp_send_buffer_bytes, 0, 64u << 20,
                      "kernel send buffer of each TCP stream (0: the OS default)"),
      STRATA_UNSIGNED("net.max_clients", max_clients, 1, limits::max_clients_limit, "connected clients at most"),
      STRATA_UNSIGNED("net.loop_min_us", net_loop_min_us, 0, 20000,
                      "network loop turns at most this often: datagrams are taken in batches"),
      STRATA_UNSIGNED("net.nice", net_thread_nice, 0, 19, "network thread's nice value above the tick thread's"),
      STRATA_UNSIGNED("http.port", http_port, 0, 65535, "HTTP API port"),
      STRATA_UNSIGNED("metrics.port", metrics_port, 0, 65535, "Prometheus metrics port"),
      STRATA_UNSIGNED("aoi.radius_cells", aoi_radius_cells, 4, 256, "area of interest radius"),
      STRATA_UNSIGNED("aoi.snapshot_rate_hz", client_snapshot_rate_hz, 1, 1000, "snapshots per second per client"),
      STRATA_UNSIGNED("aoi.near_cells", aoi_near_cells, 0, 256, "entities this close are refreshed every snapshot"),
      STRATA_UNSIGNED("aoi.mid_cells", aoi_mid_cells, 0, 256,
                      "entities this close every 2nd snapshot, farther ones every 4th"),
      STRATA_UNSIGNED("aoi.builder_threads", snapshot_threads, 0, 64,
                      "threads building client snapshots (0: on the tick thread)"),
      STRATA_UNSIGNED("aoi.builder_nice", snapshot_threads_nice, 0, 19,
                      "builder threads' nice value above the tick thread's"),
      STRATA_UNSIGNED("hlc.max_offset_ms", hlc_max_offset_ms, 1, 3600000, "refuse remote stamps further ahead"),
      STRATA_UNSIGNED("inputs.max_lead_ticks", inputs.max_lead_ticks, 0, 1000, "how far ahead inputs may be scheduled"),
      STRATA_UNSIGNED("inputs.max_pending_per_player", inputs.max_pending_per_player, 1,
                      limits::pending_per_player_limit, "inputs waiting per player"),
      STRATA_STRING("auth.mode", auth.mode,
                    "dev (open, every listener on loopback only), static (accounts file) or ticket (signed tickets)"),
      STRATA_UNSIGNED("auth.connect_token_ttl_s", connect_token_ttl_s, 1, 3600, "connect token lifetime"),
      STRATA_STRING("auth.accounts_file", auth.accounts_file,
                    "static mode: lines '<name> <hash>' (strata-server --hash-password NAME makes one)"),
      STRATA_STRING("auth.ticket_key_file", auth.ticket_key_file,
                    "ticket mode: file holding the 64-hex-digit key shared with the game backend"),
      STRATA_UNSIGNED("auth.ticket_lifetime_max_s", auth.ticket_lifetime_max_s, 1, 86400,
                      "tickets expiring further ahead are refused"),
      STRATA_STRING("auth.admin_token", auth.admin_token,
                    "admin credential for observer logins (Bearer; at least 16 characters)"),
      STRATA_STRING("auth.admin_token_file", auth.admin_token_file, "file holding the admin credential"),
      STRATA_UNSIGNED("auth.attempts_per_address_per_s", auth.attempts_per_address_per_s, 1, 1000000,
                      "login attempts per second per peer address"),
      STRATA_UNSIGNED("auth.attempts_burst_per_address", auth.attempts_burst_per_address, 1, 1000000,
                      "login attempts in a burst per peer address"),
      STRATA_UNSIGNED("auth.dev_new_names_per_address_per_min", auth.dev_new_names_per_address_per_min, 1, 1000000,
                      "dev mode: new names per minute per peer address"),
      STRATA_UNSIGNED("auth.dev_names_max", auth.dev_names_max, 1, limits::dev_names_limit, "dev mode: names at most"),
      STRATA_UNSIGNED("auth.verify_threads", auth.verify_threads, 1, limits::verify_threads_limit,
                      "password verifications at once"),
      STRATA_UNSIGNED("auth.verify_queue_max", auth.verify_queue_max, 1, limits::verify_queue_limit,
                      "logins waiting for a password verification (then 503 busy)"),
      Key{"auth.accounts_sync", "fsync every new account binding (static and ticket modes; dev mode never does)",
          [](ServerConfig& c, const std::string& t) { return parse_bool(t, c.auth.accounts_sync); },
          [](const ServerConfig& c) { return std::string(c.auth.accounts_sync ? "true" : "false"); }},
      STRATA_STRING("admin.bind", admin_bind_address,
                    "address of the admin listener (sessions, world status, observer logins)"),
      STRATA_UNSIGNED("admin.port", admin_port, 0, 65535, "admin HTTP port"),
  };
  return table;
}

#undef STRATA_UNSIGNED
#undef STRATA_STRING
#undef STRATA_BOOL

std::string env_name(const std::string& path) {
  std::string name = "STRATA_";
  for (char ch : path) name += ch == '.' ? '_' : static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
  return name;
}

const Key* find_key(const std::string& path) {
  for (const Key& key : keys()) {
    if (path == key.path) return &key;
  }
  return nullptr;
}

void walk_yaml(const YAML::Node& node, const std::string& prefix, ServerConfig& config, const std::string& source,
               std::vector<ConfigError>& errors, int depth) {
  if (depth > 4) {
    errors.push_back({source + ": nesting too deep at '" + prefix + "'"});
    return;
  }
  for (const auto& item : node) {
    if (!item.first.IsScalar()) {
      std::string message = source;
      message += ": a key that is not a name under '";
      message += prefix;
      message += "'";
      errors.push_back({std::move(message)});
      continue;
    }
    std::string path = prefix;
    if (!path.empty()) path += '.';
    path += item.first.Scalar();
    std::string where = source;
    where += ':';
    where += std::to_string(item.first.Mark().line + 1);
    where += ": ";
    where += path;
    if (item.second.IsMap()) {
      walk_yaml(item.second, path, config, source, errors, depth + 1);
      continue;
    }
    const Key* key = find_key(path);
    if (key != nullptr && key->list && item.second.IsSequence()) {
      std::string joined;
      bool scalars = true;
      for (const auto& element : item.second) {
        scalars = scalars && element.IsScalar();
        if (!scalars) continue;
        if (!joined.empty()) joined += ' ';
        joined += element.Scalar();
      }
      if (!scalars) {
        errors.push_back({where + ": expected a list of single values"});
      } else if (std::string problem = key->set(config, joined); !problem.empty()) {
        errors.push_back({where + ": " + problem});
      }
      continue;
    }
    if (key == nullptr) {
      errors.push_back({where + ": unknown key"});
    } else if (!item.second.IsScalar()) {
      errors.push_back({where + ": expected a single value"});
    } else if (std::string problem = key->set(config, item.second.Scalar()); !problem.empty()) {
      where += ": ";
      where += problem;
      errors.push_back({std::move(where)});
    }
  }
}

// yaml-cpp parses flow collections recursively: a few kilobytes of '[' would overflow the stack.
// A config file needs neither size nor depth, so both are bounded before the parser sees it.
constexpr int config_flow_depth_max = 16;

std::string check_yaml_shape(const std::string& text) {
  if (text.size() > limits::config_bytes_max) {
    return "file larger than " + std::to_string(limits::config_bytes_max) + " bytes";
  }
  int depth = 0;
  char quote = 0;
  for (char ch : text) {
    if (quote != 0) {
      if (ch == quote) quote = 0;
      continue;
    }
    if (ch == '"' || ch == '\'') quote = ch;
    if (ch == '[' || ch == '{') depth += 1;
    if (ch == ']' || ch == '}') depth -= 1;
    if (depth > config_flow_depth_max) return "nesting deeper than " + std::to_string(config_flow_depth_max);
  }
  return {};
}

void validate_auth(const ServerConfig& config, std::vector<ConfigError>& errors) {
  const AuthSettings& auth = config.auth;
  if (auth.mode == "dev") {
    // Open logins are for a developer's machine: every listener must be unreachable from elsewhere.
    if (!is_loopback(config.bind_address))
      errors.push_back({"auth.mode dev (open logins) needs every listener on loopback, but net.bind is '" +
                        config.bind_address + "' (use auth.mode static or ticket)"});
    if (!is_loopback(config.admin_bind_address))
      errors.push_back({"auth.mode dev (open logins) needs every listener on loopback, but admin.bind is '" +
                        config.admin_bind_address + "'"});
  } else if (auth.mode == "static") {
    if (auth.accounts_file.empty()) errors.push_back({"auth.mode static needs auth.accounts_file"});
  } else if (auth.mode == "ticket") {
    if (auth.ticket_key_file.empty()) errors.push_back({"auth.mode ticket needs auth.ticket_key_file"});
  } else {
    errors.push_back({"auth.mode: expected dev, static or ticket, got '" + auth.mode + "'"});
  }
  if (!auth.admin_token.empty() && !auth.admin_token_file.empty())
    errors.push_back({"auth.admin_token and auth.admin_token_file: set one, not both"});
  if (!auth.admin_token.empty() && auth.admin_token.size() < 16)
    errors.push_back({"auth.admin_token: at least 16 characters"});
  if (!is_loopback(config.admin_bind_address) && auth.admin_token.empty() && auth.admin_token_file.empty())
    errors.push_back({"admin.bind '" + config.admin_bind_address +
                      "' is not loopback: set auth.admin_token_file (the admin routes then need it)"});
}

void validate_storage(const StorageSettings& storage, std::vector<ConfigError>& errors) {
  if (storage.redis_index != "geo" && storage.redis_index != "grid")
    errors.push_back({"storage.redis.index: expected geo or grid, got '" + storage.redis_index + "'"});
  if (!storage.mariadb_password.empty() && !storage.mariadb_password_file.empty())
    errors.push_back({"storage.mariadb.password and storage.mariadb.password_file: set one, not both"});
  const std::string& db = storage.mariadb_database;
  const bool name_ok = !db.empty() && db.size() <= 64 && std::all_of(db.begin(), db.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
  });
  if (!name_ok) errors.push_back({"storage.mariadb.database: expected [A-Za-z0-9_]{1,64}, got '" + db + "'"});
  if (!storage.mariadb_host.empty() && storage.mariadb_user.empty())
    errors.push_back({"storage.mariadb.host is set: storage.mariadb.user is needed too"});
}

}  // namespace

bool is_loopback(std::string_view address) {
  if (address == "localhost" || address == "::1") return true;
  if (address.rfind("::ffff:", 0) == 0) address.remove_prefix(7);
  unsigned a = 0, b = 0, c = 0, d = 0;
  char tail = 0;
  const std::string text(address);
  return std::sscanf(text.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b <= 255 && c <= 255 &&
         d <= 255;
}

std::vector<ConfigError> load_config(ServerConfig& config, const std::string& yaml_text, const std::string& source_name,
                                     const std::map<std::string, std::string>& env) {
  std::vector<ConfigError> errors;
  if (std::string problem = check_yaml_shape(yaml_text); !problem.empty()) {
    errors.push_back({source_name + ": " + problem});
  } else if (!yaml_text.empty()) {
    try {
      const YAML::Node root = YAML::Load(yaml_text);
      if (root.IsMap()) {
        walk_yaml(root, "", config, source_name, errors, 0);
      } else if (!root.IsNull()) {
        errors.push_back({source_name + ": the top level must be a mapping of keys"});
      }
    } catch (const YAML::Exception& e) {
      errors.push_back({source_name + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                        ": not valid YAML: " + e.msg});
    }
  }
  for (const Key& key : keys()) {
    auto it = env.find(env_name(key.path));
    if (it == env.end()) continue;
    if (std::string problem = key.set(config, it->second); !problem.empty()) {
      errors.push_back({"environment " + it->first + ": " + problem});
    }
  }
  for (const auto& [name, value] : env) {
    bool known = false;
    for (const Key& key : keys()) known = known || env_name(key.path) == name;
    if (!known && name.rfind("STRATA_", 0) == 0) errors.push_back({"environment " + name + ": unknown key"});
  }
  return errors;
}

std::vector<ConfigError> apply_override(ServerConfig& config, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos) return {{"--set " + assignment + ": expected path=value"}};
  const std::string path = assignment.substr(0, eq);
  const Key* key = find_key(path);
  if (key == nullptr) return {{"--set " + path + ": unknown key"}};
  if (std::string problem = key->set(config, assignment.substr(eq + 1)); !problem.empty()) {
    return {{"--set " + path + ": " + problem}};
  }
  return {};
}

std::vector<std::string> describe_config_keys() {
  std::vector<std::string> lines;
  const ServerConfig defaults;
  for (const Key& key : keys()) {
    lines.push_back(std::string(key.path) + " (" + env_name(key.path) + "): " + key.description + " [" +
                    key.get(defaults) + "]");
  }
  return lines;
}

std::vector<ConfigError> validate_config(const ServerConfig& config) {
  std::vector<ConfigError> errors;
  sim::WorldParams params = config.world;
  params.region = sim::RegionId{config.region};
  size_t bad_rect = SIZE_MAX;
  if (const char* problem = sim::validate_region_map(params.region_map, params.chunks_x, params.chunks_y, &bad_rect)) {
    std::string message = std::string("world.region_map: ") + problem;
    if (bad_rect < params.region_map.rects.size()) {
      message += " (rectangle " + std::to_string(bad_rect + 1) + ", " + show_rect(params.region_map.rects[bad_rect]) +
                 ", on a map of " + std::to_string(params.chunks_x) + "x" + std::to_string(params.chunks_y) +
                 " chunks)";
    }
    errors.push_back({std::move(message)});
  } else if (const char* problem = sim::validate(params)) {
    errors.push_back({std::string("world: ") + problem});
  }
  if (!config.bus.url.empty()) {
    const auto& regions = config.bus.regions;
    if (std::find(regions.begin(), regions.end(), config.region) == regions.end()) {
      errors.push_back({"bus.regions: must list this region (" + std::to_string(config.region) + ")"});
    }
    if (regions.size() > 1 && params.region_map.mode == sim::Ownership::whole) {
      errors.push_back(
          {"world.region_map: several regions need a region map (each region would run the random "
           "ticks and NPCs of every chunk, and the regions would drift apart)"});
    }
    // Every owner the region map names must be a region of the deployment: its chunks' rules would
    // otherwise run nowhere, silently.
    const auto named = [&](sim::RegionId id) {
      return std::find(regions.begin(), regions.end(), sim::raw(id)) != regions.end();
    };
    for (const sim::RegionRect& r : params.region_map.rects) {
      if (!named(r.region))
        errors.push_back({"world.region_map: region " + std::to_string(sim::raw(r.region)) + " of " + show_rect(r) +
                          " is not in bus.regions"});
    }
    if (sim::raw(params.region_map.fallback) != 0 && !named(params.region_map.fallback)) {
      errors.push_back({"world.region_map_default: region " + std::to_string(sim::raw(params.region_map.fallback)) +
                        " is not in bus.regions"});
    }
  }
  // UDP and TCP are different protocols and may share a number; listeners of one protocol may not.
  struct Port {
    const char* key;
    uint16_t number;
    bool udp;
  };
  const Port ports[] = {{"net.udp_port", config.udp_port, true},
                        {"net.tcp_port", config.tcp_port, false},
                        {"http.port", config.http_port, false},
                        {"metrics.port", config.metrics_port, false},
                        {"admin.port", config.admin_port, false}};
  for (size_t i = 0; i < std::size(ports); ++i) {
    for (size_t j = i + 1; j < std::size(ports); ++j) {
      if (ports[i].number != 0 && ports[i].number == ports[j].number && ports[i].udp == ports[j].udp) {
        errors.push_back(
            {std::string(ports[i].key) + " and " + ports[j].key + " both use port " + std::to_string(ports[i].number)});
      }
    }
  }
  if (config.aoi_near_cells > config.aoi_mid_cells) {
    errors.push_back({"aoi.near_cells (" + std::to_string(config.aoi_near_cells) + ") must not exceed aoi.mid_cells (" +
                      std::to_string(config.aoi_mid_cells) + ")"});
  }
  validate_auth(config, errors);
  validate_storage(config.storage, errors);
  return errors;
}

std::map<std::string, std::string> strata_environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string text(*entry);
    const size_t eq = text.find('=');
    if (eq != std::string::npos && text.rfind("STRATA_", 0) == 0) env[text.substr(0, eq)] = text.substr(eq + 1);
  }
  return env;
}

}  // namespace strata::server
