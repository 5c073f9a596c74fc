// storage/mariadb_stores.cpp: MariaDbStores (schema, statements and reconnects in mariadb_stores.h).
#include "storage/mariadb_stores.h"

#include <mysql.h>

#include <algorithm>
#include <array>
#include <functional>

#include "storage/account_registry.h"
#include "storage/limits.h"

namespace strata::storage {
namespace {

// Numbered migrations: migration i (1-based) is migrations[i - 1]. Append only; never edit one
// that has shipped.
const std::vector<std::vector<const char*>> migrations = {
    {
        "CREATE TABLE IF NOT EXISTS players (player INT UNSIGNED NOT NULL PRIMARY KEY,"
        " version BIGINT UNSIGNED NOT NULL, state MEDIUMBLOB NOT NULL) ENGINE=InnoDB",
        "CREATE TABLE IF NOT EXISTS maps (map INT UNSIGNED NOT NULL PRIMARY KEY,"
        " version BIGINT UNSIGNED NOT NULL, hash BIGINT UNSIGNED NOT NULL) ENGINE=InnoDB",
        "CREATE TABLE IF NOT EXISTS chunks (map INT UNSIGNED NOT NULL, cx INT NOT NULL, cy INT NOT NULL,"
        " version BIGINT UNSIGNED NOT NULL, bytes MEDIUMBLOB NOT NULL, PRIMARY KEY (map, cx, cy)) ENGINE=InnoDB",
        "CREATE TABLE IF NOT EXISTS sessions (session BIGINT UNSIGNED NOT NULL PRIMARY KEY,"
        " version BIGINT UNSIGNED NOT NULL, region VARBINARY(255) NOT NULL, start_tick BIGINT UNSIGNED NOT NULL,"
        " end_tick BIGINT UNSIGNED NOT NULL, log_location BLOB NOT NULL) ENGINE=InnoDB",
    },
    {
        // The login's registry (storage/account_registry.h): a name owns one player id for good.
        "CREATE TABLE IF NOT EXISTS accounts (name VARBINARY(64) NOT NULL PRIMARY KEY,"
        " player INT UNSIGNED NOT NULL UNIQUE) ENGINE=InnoDB",
    },
    {
        // Holds across regions (PlayerHolds in stores.h): the region holding the player online (0:
        // none) and when its lease runs out (Unix ms, the server's clock). A claimed player the store
        // had no save of is a row of version 0.
        "ALTER TABLE players ADD COLUMN IF NOT EXISTS holder SMALLINT UNSIGNED NOT NULL DEFAULT 0,"
        " ADD COLUMN IF NOT EXISTS lease_until BIGINT UNSIGNED NOT NULL DEFAULT 0",
        "CREATE INDEX IF NOT EXISTS players_holder ON players (holder)",
    },
};

// The server's clock in Unix milliseconds: leases compare with one clock, whatever the regions' own.
#define STRATA_NOW_MS "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS UNSIGNED)"
// A row a region may write or claim: free, its own, or its holder's lease ran out (evaluated
// before each assignment, and the holder is assigned first: once it is this region's or 0 the
// condition stays true for the assignments after it, see the PlayerHolds rules in stores.h).
#define STRATA_MAY_HOLD "(holder = 0 OR holder = VALUES(holder) OR lease_until < " STRATA_NOW_MS ")"

enum Statement : size_t {
  upsert_player,
  select_player,
  upsert_map,
  upsert_chunk,
  select_map,
  select_chunks,
  upsert_session,
  select_session,
  select_account,
  next_account_id,
  insert_account,
  count_accounts,
  upsert_player_held,
  claim_player,
  select_player_held,
  renew_holds,
  release_holds,
  statement_count,
};

constexpr std::array<const char*, statement_count> statement_sql = {
    "INSERT INTO players (player, version, state) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE"
    " state = IF(VALUES(version) > version, VALUES(state), state), version = GREATEST(version, VALUES(version))",
    "SELECT version, state FROM players WHERE player = ? AND version > 0",
    "INSERT INTO maps (map, version, hash) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE"
    " hash = IF(VALUES(version) > version, VALUES(hash), hash), version = GREATEST(version, VALUES(version))",
    "INSERT INTO chunks (map, cx, cy, version, bytes) VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE"
    " bytes = IF(VALUES(version) > version, VALUES(bytes), bytes), version = GREATEST(version, VALUES(version))",
    "SELECT version, hash FROM maps WHERE map = ?",
    "SELECT cx, cy, version, bytes FROM chunks WHERE map = ? ORDER BY cx, cy",
    "INSERT INTO sessions (session, version, region, start_tick, end_tick, log_location) VALUES (?, ?, ?, ?, ?, ?)"
    " ON DUPLICATE KEY UPDATE region = IF(VALUES(version) > version, VALUES(region), region),"
    " start_tick = IF(VALUES(version) > version, VALUES(start_tick), start_tick),"
    " end_tick = IF(VALUES(version) > version, VALUES(end_tick), end_tick),"
    " log_location = IF(VALUES(version) > version, VALUES(log_location), log_location),"
    " version = GREATEST(version, VALUES(version))",
    "SELECT version, region, start_tick, end_tick, log_location FROM sessions WHERE session = ?",
    "SELECT player FROM accounts WHERE name = ?",
    "SELECT COALESCE(MAX(player), 0) + 1 FROM accounts FOR UPDATE",
    "INSERT INTO accounts (name, player) VALUES (?, ?)",
    "SELECT COUNT(*) FROM accounts",
    // A save with holds: VALUES(holder) is the writing region, VALUES(lease_until) 0 for a leave
    // save (it releases) or the new lease. Fenced unless STRATA_MAY_HOLD; the hold changes only with
    // the newest save (version, assigned before, then equals VALUES(version)).
    "INSERT INTO players (player, version, state, holder, lease_until) VALUES (?, ?, ?, ?, IF(? = 0, 0, " STRATA_NOW_MS
    " + ?)) ON DUPLICATE KEY UPDATE"
    " state = IF(VALUES(version) > version AND " STRATA_MAY_HOLD
    ", VALUES(state), state),"
    " version = IF(" STRATA_MAY_HOLD
    ", GREATEST(version, VALUES(version)), version),"
    " holder = IF(" STRATA_MAY_HOLD
    " AND VALUES(version) >= version, IF(VALUES(lease_until) = 0, 0, VALUES(holder)),"
    " holder),"
    " lease_until = IF(" STRATA_MAY_HOLD " AND VALUES(version) >= version, VALUES(lease_until), lease_until)",
    // A claim (a load, or a restart's keep): a player the store does not know becomes a row of version 0.
    "INSERT INTO players (player, version, state, holder, lease_until) VALUES (?, 0, '', ?, " STRATA_NOW_MS
    " + ?) ON DUPLICATE KEY UPDATE"
    " holder = IF(" STRATA_MAY_HOLD
    ", VALUES(holder), holder),"
    " lease_until = IF(" STRATA_MAY_HOLD ", VALUES(lease_until), lease_until)",
    "SELECT version, state, holder FROM players WHERE player = ?",
    "UPDATE players SET lease_until = " STRATA_NOW_MS " + ? WHERE holder = ? AND lease_until > 0",
    "UPDATE players SET holder = 0, lease_until = 0 WHERE holder = ?",
};
#undef STRATA_MAY_HOLD
#undef STRATA_NOW_MS

bool identifier_ok(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Bytes of data one array-bound execution carries at most: a batch is sent in slices under it, all in
// the same transaction, so no packet nears the server's max_allowed_packet (16 MiB by default; a
// batch of 256 full player states is 16.8 MB, one map save of 4,096 full chunks 268 MB).
constexpr size_t bulk_bytes_max = size_t{4} * 1024 * 1024;
// Per-row overhead counted on top of its blobs (ids, versions, lengths on the wire).
constexpr size_t bulk_row_overhead = 64;
static_assert(player_state_bytes_max + bulk_row_overhead <= bulk_bytes_max);
static_assert(chunk_bytes_max + bulk_row_overhead <= bulk_bytes_max);

// Calls `execute` on consecutive slices of `items` of at most bulk_bytes_max bytes (by `size_of`),
// stopping at the first failure.
template <class Item, class SizeOf, class Execute>
Outcome in_slices(std::span<const Item> items, SizeOf size_of, Execute execute) {
  size_t begin = 0;
  size_t bytes = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const size_t size = size_of(items[i]) + bulk_row_overhead;
    if (i > begin && bytes + size > bulk_bytes_max) {
      if (Outcome outcome = execute(items.subspan(begin, i - begin)); !outcome.ok()) return outcome;
      begin = i;
      bytes = 0;
    }
    bytes += size;
  }
  if (begin < items.size()) return execute(items.subspan(begin));
  return Outcome::success();
}

// Column-wise parameter arrays of one statement execution (STMT_ATTR_ARRAY_SIZE rows). The vectors
// the binds point into must outlive the execution; Params never copies them.
class Params {
 public:
  void u32(std::vector<uint32_t>& values) { add(MYSQL_TYPE_LONG, values.data(), true); }
  void u32(uint32_t& value) { add(MYSQL_TYPE_LONG, &value, true); }
  void u64(uint64_t& value) { add(MYSQL_TYPE_LONGLONG, &value, true); }
  void i32(std::vector<int32_t>& values) { add(MYSQL_TYPE_LONG, values.data(), false); }
  void u64(std::vector<uint64_t>& values) { add(MYSQL_TYPE_LONGLONG, values.data(), true); }
  void blob(std::vector<const char*>& pointers, std::vector<unsigned long>& lengths) {
    add(MYSQL_TYPE_BLOB, pointers.data(), false);
    binds_.back().length = lengths.data();
  }
  MYSQL_BIND* data() { return binds_.data(); }

 private:
  void add(enum_field_types type, void* buffer, bool is_unsigned) {
    MYSQL_BIND bind{};
    bind.buffer_type = type;
    bind.buffer = buffer;
    bind.is_unsigned = is_unsigned ? 1 : 0;
    binds_.push_back(bind);
  }
  std::vector<MYSQL_BIND> binds_;
};

// One fetched column: integers land in `u` / `i`, blobs in `bytes` (read with fetch_column after
// their length is known, refused above `bytes_max`).
struct Column {
  enum class Kind : uint8_t { u64, i64, blob };
  explicit Column(Kind kind_, size_t bytes_max_ = 0) : kind(kind_), bytes_max(bytes_max_) {}
  Kind kind;
  size_t bytes_max = 0;
  uint64_t u = 0;
  int64_t i = 0;
  std::string bytes;
  unsigned long length = 0;
  my_bool is_null = 0;
};

}  // namespace

struct MariaDbStores::Impl {
  MariaDbOptions options;
  MYSQL* connection = nullptr;
  std::array<MYSQL_STMT*, statement_count> statements{};
  bool lost_before = false;
  unsigned int last_error_code = 0;  // of the last failed call (the rollback after it resets mysql_errno)
  MariaDbCounters counters;

  ~Impl() { close(false); }

  void close(bool lost) {
    for (MYSQL_STMT*& statement : statements) {
      if (statement != nullptr) (void)mysql_stmt_close(statement);
      statement = nullptr;
    }
    if (connection != nullptr) mysql_close(connection);
    connection = nullptr;
    if (lost) {
      ++counters.connections_lost;
      lost_before = true;
    }
  }

  Outcome connection_failure(const char* what) {
    const unsigned int code = mysql_errno(connection);
    std::string reason = std::string("mariadb ") + what + ": " + mysql_error(connection);
    return classify(code, std::move(reason));
  }

  Outcome statement_failure(MYSQL_STMT* statement, const char* what) {
    const unsigned int code = mysql_stmt_errno(statement);
    std::string reason = std::string("mariadb ") + what + ": " + mysql_stmt_error(statement);
    return classify(code, std::move(reason));
  }

  // Client errors (2xxx) mean the connection is gone or unusable: close it, the next call reconnects.
  // Server errors roll the transaction back and keep the connection.
  Outcome classify(unsigned int code, std::string reason) {
    ++counters.transactions_failed;
    last_error_code = code;
    if (code >= 2000 && code < 3000) {
      close(true);
      return Outcome::failure(StoreStatus::lost_connection, std::move(reason));
    }
    (void)mysql_rollback(connection);
    return Outcome::failure(StoreStatus::unavailable, std::move(reason));
  }

  Outcome connect() {
    if (connection != nullptr) return Outcome::success();
    connection = mysql_init(nullptr);
    if (connection == nullptr) return Outcome::failure(StoreStatus::unavailable, "mariadb: out of memory");
    const my_bool no_reconnect = 0;
    (void)mysql_options(connection, MYSQL_OPT_RECONNECT, &no_reconnect);
    (void)mysql_options(connection, MYSQL_OPT_CONNECT_TIMEOUT, &options.connect_timeout_s);
    (void)mysql_options(connection, MYSQL_OPT_READ_TIMEOUT, &options.io_timeout_s);
    (void)mysql_options(connection, MYSQL_OPT_WRITE_TIMEOUT, &options.io_timeout_s);
    if (mysql_real_connect(connection, options.host.c_str(), options.user.c_str(), options.password.c_str(), nullptr,
                           options.port, nullptr, 0) == nullptr) {
      std::string reason = std::string("mariadb connect ") + options.host + ":" + std::to_string(options.port) + ": " +
                           mysql_error(connection);
      close(false);
      ++counters.connect_failures;
      return Outcome::failure(StoreStatus::unavailable, std::move(reason));
    }
    if (options.create_database) {
      // The name is checked to be [A-Za-z0-9_]{1,64}: an identifier cannot be a bound parameter.
      const std::string create = "CREATE DATABASE IF NOT EXISTS `" + options.database + "`";
      if (mysql_real_query(connection, create.data(), create.size()) != 0) return drop_on_setup("create database");
    }
    if (mysql_select_db(connection, options.database.c_str()) != 0) return drop_on_setup("select database");
    if (mysql_autocommit(connection, 0) != 0) return drop_on_setup("autocommit off");
    ++counters.connects;
    if (lost_before) ++counters.reconnects;
    return Outcome::success();
  }

  Outcome drop_on_setup(const char* what) {
    std::string reason = std::string("mariadb ") + what + ": " + mysql_error(connection);
    close(false);
    ++counters.connect_failures;
    return Outcome::failure(StoreStatus::unavailable, std::move(reason));
  }

  // Connects if needed and prepares every statement (again after a reconnect).
  Outcome ready() {
    if (Outcome connected = connect(); !connected.ok()) return connected;
    for (size_t i = 0; i < statement_count; ++i) {
      if (statements[i] != nullptr) continue;
      statements[i] = mysql_stmt_init(connection);
      if (statements[i] == nullptr) return connection_failure("statement init");
      if (mysql_stmt_prepare(statements[i], statement_sql[i], std::char_traits<char>::length(statement_sql[i])) != 0) {
        return statement_failure(statements[i], "prepare");
      }
      ++counters.statements_prepared;
    }
    return Outcome::success();
  }

  // Executes an upsert over `rows` rows of array-bound parameters (inside the open transaction).
  Outcome execute_rows(Statement which, Params& params, unsigned int rows) {
    MYSQL_STMT* statement = statements[which];
    if (mysql_stmt_attr_set(statement, STMT_ATTR_ARRAY_SIZE, &rows) != 0)
      return statement_failure(statement, "array size");
    if (mysql_stmt_bind_param(statement, params.data()) != 0) return statement_failure(statement, "bind");
    if (mysql_stmt_execute(statement) != 0) return statement_failure(statement, "execute");
    counters.rows_sent += rows;
    return Outcome::success();
  }

  Outcome commit() {
    if (mysql_commit(connection) != 0) return connection_failure("commit");
    ++counters.transactions_committed;
    return Outcome::success();
  }

  // Runs a SELECT with one bound key and calls `row` for each row fetched into `columns`.
  // `key` may be null for a statement without parameters.
  Outcome select(Statement which, MYSQL_BIND* key, std::vector<Column>& columns, const std::function<Outcome()>& row) {
    MYSQL_STMT* statement = statements[which];
    if (key != nullptr && mysql_stmt_bind_param(statement, key) != 0) return statement_failure(statement, "bind");
    if (mysql_stmt_execute(statement) != 0) return statement_failure(statement, "execute");
    std::vector<MYSQL_BIND> results(columns.size());
    for (size_t i = 0; i < columns.size(); ++i) {
      Column& column = columns[i];
      MYSQL_BIND& bind = results[i];
      bind.is_null = &column.is_null;
      bind.length = &column.length;
      if (column.kind == Column::Kind::blob) {
        bind.buffer_type = MYSQL_TYPE_BLOB;  // buffer_length 0: the length first, the bytes by fetch_column
      } else {
        bind.buffer_type = MYSQL_TYPE_LONGLONG;
        bind.is_unsigned = column.kind == Column::Kind::u64 ? 1 : 0;
        bind.buffer = column.kind == Column::Kind::u64 ? static_cast<void*>(&column.u) : static_cast<void*>(&column.i);
      }
    }
    if (mysql_stmt_bind_result(statement, results.data()) != 0) return statement_failure(statement, "bind result");
    Outcome outcome = Outcome::success();
    for (;;) {
      const int fetched = mysql_stmt_fetch(statement);
      if (fetched == MYSQL_NO_DATA) break;
      if (fetched == 1) return statement_failure(statement, "fetch");
      if (outcome.ok()) outcome = read_blobs(statement, columns);
      if (outcome.ok()) outcome = row();
    }
    (void)mysql_stmt_free_result(statement);
    if (!outcome.ok()) {
      if (outcome.status == StoreStatus::corrupt) ++counters.corrupt_rows;
      (void)mysql_rollback(connection);
      return outcome;
    }
    return Outcome::success();
  }

  static Outcome read_blobs(MYSQL_STMT* statement, std::vector<Column>& columns) {
    for (size_t i = 0; i < columns.size(); ++i) {
      Column& column = columns[i];
      if (column.kind != Column::Kind::blob) continue;
      if (column.is_null != 0 || column.length > column.bytes_max) {
        return Outcome::failure(StoreStatus::corrupt, "mariadb: a stored value is NULL or over its limit");
      }
      column.bytes.assign(column.length, '\0');
      if (column.length == 0) continue;
      MYSQL_BIND bind{};
      bind.buffer_type = MYSQL_TYPE_BLOB;
      bind.buffer = column.bytes.data();
      bind.buffer_length = column.length;
      if (mysql_stmt_fetch_column(statement, &bind, static_cast<unsigned int>(i), 0) != 0) {
        return Outcome::failure(StoreStatus::corrupt, "mariadb: fetch column failed");
      }
    }
    return Outcome::success();
  }

  Outcome migrate() {
    if (Outcome connected = connect(); !connected.ok()) return connected;
    const char* create =
        "CREATE TABLE IF NOT EXISTS schema_version (version INT UNSIGNED NOT NULL PRIMARY KEY,"
        " applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB";
    if (mysql_query(connection, create) != 0) return connection_failure("create schema_version");
    Result<uint32_t> current = read_schema_version();
    if (!current.ok()) return current.outcome;
    if (current.value > migrations.size()) {
      return Outcome::failure(StoreStatus::refused,
                              "mariadb: the database's schema version " + std::to_string(current.value) +
                                  " is newer than this server's " + std::to_string(migrations.size()));
    }
    for (size_t number = current.value + 1; number <= migrations.size(); ++number) {
      for (const char* sql : migrations[number - 1]) {
        if (mysql_query(connection, sql) != 0) return connection_failure("migration");
      }
      const std::string record = "INSERT INTO schema_version (version) VALUES (" + std::to_string(number) + ")";
      if (mysql_query(connection, record.c_str()) != 0) return connection_failure("record migration");
      if (Outcome committed = commit(); !committed.ok()) return committed;
      ++counters.migrations_applied;
    }
    return Outcome::success();
  }

  [[nodiscard]] uint64_t lease_ms() const { return static_cast<uint64_t>(std::max<int64_t>(options.lease.count(), 1)); }

  // A load with holds: the claim, then the row, in one transaction (see PlayerHolds in stores.h).
  Result<std::optional<PlayerRecord>> claim_and_load(PlayerKey player) {
    uint32_t key = static_cast<uint32_t>(player);
    uint32_t region = options.region;
    uint64_t lease = lease_ms();
    Params claim;
    claim.u32(key);
    claim.u32(region);
    claim.u64(lease);
    if (Outcome executed = execute_rows(claim_player, claim, 1); !executed.ok()) return {executed, {}};
    MYSQL_BIND bind{};
    bind.buffer_type = MYSQL_TYPE_LONG;
    bind.buffer = &key;
    bind.is_unsigned = 1;
    std::vector<Column> columns = {Column(Column::Kind::u64), Column(Column::Kind::blob, player_state_bytes_max),
                                   Column(Column::Kind::u64)};
    Result<std::optional<PlayerRecord>> result;
    bool found = false;
    Outcome outcome = select(select_player_held, &bind, columns, [&] {
      found = true;
      if (columns[2].u != region) {
        result.value = PlayerRecord{player, 0, {}, false, static_cast<uint16_t>(columns[2].u)};
      } else if (columns[0].u > 0) {
        result.value = PlayerRecord{player, columns[0].u, columns[1].bytes};
      }
      return Outcome::success();
    });
    if (outcome.ok() && !found) {
      (void)mysql_rollback(connection);
      outcome = Outcome::failure(StoreStatus::corrupt, "mariadb: a claimed player has no row");
    }
    if (!outcome.ok()) return {outcome, {}};
    if (Outcome committed = commit(); !committed.ok()) return {committed, {}};
    return result;
  }

  Result<uint32_t> read_schema_version() {
    if (mysql_query(connection, "SELECT COALESCE(MAX(version), 0) FROM schema_version") != 0) {
      return {connection_failure("read schema_version"), 0};
    }
    MYSQL_RES* result = mysql_store_result(connection);
    if (result == nullptr) return {connection_failure("read schema_version"), 0};
    MYSQL_ROW row = mysql_fetch_row(result);
    const uint32_t version = (row != nullptr && row[0] != nullptr) ? static_cast<uint32_t>(std::stoul(row[0])) : 0;
    mysql_free_result(result);
    (void)mysql_commit(connection);
    return {Outcome::success(), version};
  }
};

MariaDbStores::MariaDbStores(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MariaDbStores::~MariaDbStores() = default;
const MariaDbCounters& MariaDbStores::counters() const { return impl_->counters; }

std::unique_ptr<MariaDbStores> MariaDbStores::open(MariaDbOptions options, std::string& error) {
  if (!identifier_ok(options.database)) {
    error = "mariadb: database name must be [A-Za-z0-9_]{1,64}";
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  if (Outcome migrated = impl->migrate(); !migrated.ok()) {
    error = migrated.reason;
    return nullptr;
  }
  if (Outcome ready = impl->ready(); !ready.ok()) {
    error = ready.reason;
    return nullptr;
  }
  return std::unique_ptr<MariaDbStores>(new MariaDbStores(std::move(impl)));
}

Result<uint32_t> MariaDbStores::schema_version() {
  if (Outcome ready = impl_->ready(); !ready.ok()) return {ready, 0};
  return impl_->read_schema_version();
}

Outcome MariaDbStores::drop_database() {
  if (Outcome ready = impl_->ready(); !ready.ok()) return ready;
  const std::string drop = "DROP DATABASE IF EXISTS `" + impl_->options.database + "`";
  if (mysql_real_query(impl_->connection, drop.data(), drop.size()) != 0) return impl_->connection_failure("drop");
  return Outcome::success();
}

Outcome MariaDbStores::save(std::span<const PlayerRecord> records) {
  if (Outcome valid = validate_all(records); !valid.ok()) return valid;
  if (records.empty()) return Outcome::success();
  if (Outcome ready = impl_->ready(); !ready.ok()) return ready;
  const auto size_of = [](const PlayerRecord& record) { return record.state.size(); };
  const auto execute = [this](std::span<const PlayerRecord> slice) {
    std::vector<uint32_t> players;
    std::vector<uint64_t> versions;
    std::vector<const char*> states;
    std::vector<unsigned long> lengths;
    for (const PlayerRecord& record : slice) {
      players.push_back(static_cast<uint32_t>(record.player));
      versions.push_back(record.version);
      states.push_back(record.state.data());
      lengths.push_back(record.state.size());
    }
    Params params;
    params.u32(players);
    params.u64(versions);
    params.blob(states, lengths);
    if (!holds_players()) return impl_->execute_rows(upsert_player, params, static_cast<unsigned int>(slice.size()));
    // VALUES(holder): this region; the lease in ms, 0 for a leave save (twice: IF(? = 0, 0, now + ?)).
    std::vector<uint32_t> holders(slice.size(), impl_->options.region);
    std::vector<uint64_t> leases;
    for (const PlayerRecord& record : slice) leases.push_back(record.release ? 0 : impl_->lease_ms());
    params.u32(holders);
    params.u64(leases);
    params.u64(leases);
    return impl_->execute_rows(upsert_player_held, params, static_cast<unsigned int>(slice.size()));
  };
  if (Outcome executed = in_slices(records, size_of, execute); !executed.ok()) return executed;
  return impl_->commit();
}

Outcome MariaDbStores::save_one_by_one(std::span<const PlayerRecord> records) {
  for (const PlayerRecord& record : records) {
    if (Outcome saved = save(std::span(&record, 1)); !saved.ok()) return saved;
  }
  return Outcome::success();
}

bool MariaDbStores::holds_players() const { return impl_->options.region != 0; }

Outcome MariaDbStores::renew() {
  if (!holds_players()) return Outcome::success();
  if (Outcome ready = impl_->ready(); !ready.ok()) return ready;
  uint64_t lease = impl_->lease_ms();
  uint32_t region = impl_->options.region;
  Params params;
  params.u64(lease);
  params.u32(region);
  if (Outcome executed = impl_->execute_rows(renew_holds, params, 1); !executed.ok()) return executed;
  return impl_->commit();
}

Outcome MariaDbStores::restart(std::span<const PlayerKey> keep) {
  if (!holds_players()) return Outcome::success();
  for (PlayerKey player : keep) {
    if (Outcome valid = validate(player); !valid.ok()) return valid;
  }
  if (Outcome ready = impl_->ready(); !ready.ok()) return ready;
  uint32_t region = impl_->options.region;
  Params release;
  release.u32(region);
  if (Outcome executed = impl_->execute_rows(release_holds, release, 1); !executed.ok()) return executed;
  if (!keep.empty()) {
    std::vector<uint32_t> players, regions(keep.size(), region);
    std::vector<uint64_t> leases(keep.size(), impl_->lease_ms());
    for (PlayerKey player : keep) players.push_back(static_cast<uint32_t>(player));
    Params claims;
    claims.u32(players);
    claims.u32(regions);
    claims.u64(leases);
    if (Outcome executed = impl_->execute_rows(claim_player, claims, static_cast<unsigned int>(keep.size()));
        !executed.ok()) {
      return executed;
    }
  }
  return impl_->commit();
}

Result<std::optional<PlayerRecord>> MariaDbStores::load(PlayerKey player) {
  if (Outcome valid = validate(player); !valid.ok()) return {valid, {}};
  if (Outcome ready = impl_->ready(); !ready.ok()) return {ready, {}};
  if (holds_players()) return impl_->claim_and_load(player);
  uint32_t key = static_cast<uint32_t>(player);
  MYSQL_BIND bind{};
  bind.buffer_type = MYSQL_TYPE_LONG;
  bind.buffer = &key;
  bind.is_unsigned = 1;
  std::vector<Column> columns = {Column(Column::Kind::u64), Column(Column::Kind::blob, player_state_bytes_max)};
  Result<std::optional<PlayerRecord>> result;
  Outcome outcome = impl_->select(select_player, &bind, columns, [&] {
    result.value = PlayerRecord{player, columns[0].u, columns[1].bytes};
    return Outcome::success();
  });
  if (!outcome.ok()) return {outcome, {}};
  if (Outcome committed = impl_->commit(); !committed.ok()) return {committed, {}};
  return result;
}

Outcome MariaDbStores::save(std::span<const MapRecord> records) {
  if (Outcome valid = validate_all(records); !valid.ok()) return valid;
  if (records.empty()) return Outcome::success();
  if (Outcome ready = impl_->ready(); !ready.ok()) return ready;
  std::vector<uint32_t> maps;
  std::vector<uint64_t> versions, hashes;
  for (const MapRecord& record : records) {
    maps.push_back(static_cast<uint32_t>(record.map));
    versions.push_back(record.version);
    hashes.push_back(record.hash);
  }
  Params heads;
  heads.u32(maps);
  heads.u64(versions);
  heads.u64(hashes);
  if (Outcome executed = impl_->execute_rows(upsert_map, heads, static_cast<unsigned int>(maps.size()));
      !executed.ok()) {
    return executed;
  }
  struct MapChunk {
    uint32_t map;
    const ChunkRecord* chunk;
  };
  std::vector<MapChunk> all;
  for (const MapRecord& record : records) {
    for (const ChunkRecord& chunk : record.chunks) all.push_back({static_cast<uint32_t>(record.map), &chunk});
  }
  const auto size_of = [](const MapChunk& item) { return item.chunk->bytes.size(); };
  const auto execute = [this](std::span<const MapChunk> slice) {
    std::vector<uint32_t> chunk_maps;
    std::vector<int32_t> cxs, cys;
    std::vector<uint64_t> chunk_versions;
    std::vector<const char*> bytes;
    std::vector<unsigned long> lengths;
    for (const MapChunk& item : slice) {
      chunk_maps.push_back(item.map);
      cxs.push_back(item.chunk->cx);
      cys.push_back(item.chunk->cy);
      chunk_versions.push_back(item.chunk->version);
      bytes.push_back(item.chunk->bytes.data());
      lengths.push_back(item.chunk->bytes.size());
    }
    Params chunks;
    chunks.u32(chunk_maps);
    chunks.i32(cxs);
    chunks.i32(cys);
    chunks.u64(chunk_versions);
    chunks.blob(bytes, lengths);
    return impl_->execute_rows(upsert_chunk, chunks, static_cast<unsigned int>(slice.size()));
  };
  if (Outcome executed = in_slices(std::span<const MapChunk>(all), size_of, execute); !executed.ok()) return executed;
  return impl_->commit();
}

Result<std::optional<MapRecord>> MariaDbStores::load(MapId map) {
  if (Outcome ready = impl_->ready(); !ready.ok()) return {ready, {}};
  uint32_t key = static_cast<uint32_t>(map);
  MYSQL_BIND bind{};
  bind.buffer_type = MYSQL_TYPE_LONG;
  bind.buffer = &key;
  bind.is_unsigned = 1;
  std::vector<Column> head = {Column(Column::Kind::u64), Column(Column::Kind::u64)};
  std::optional<MapRecord> record;
  Outcome outcome = impl_->select(select_map, &bind, head, [&] {
    record = MapRecord{map, head[0].u, head[1].u, {}};
    return Outcome::success();
  });
  if (!outcome.ok()) return {outcome, {}};
  if (record) {
    std::vector<Column> chunk = {Column(Column::Kind::i64), Column(Column::Kind::i64), Column(Column::Kind::u64),
                                 Column(Column::Kind::blob, chunk_bytes_max)};
    outcome = impl_->select(select_chunks, &bind, chunk, [&] {
      record->chunks.push_back(
          {static_cast<int32_t>(chunk[0].i), static_cast<int32_t>(chunk[1].i), chunk[2].u, chunk[3].bytes});
      return Outcome::success();
    });
    if (!outcome.ok()) return {outcome, {}};
  }
  if (Outcome committed = impl_->commit(); !committed.ok()) return {committed, {}};
  return {Outcome::success(), std::move(record)};
}

Outcome MariaDbStores::save(std::span<const SessionRecord> records) {
  if (Outcome valid = validate_all(records); !valid.ok()) return valid;
  if (records.empty()) return Outcome::success();
  if (Outcome ready = impl_->ready(); !ready.ok()) return ready;
  std::vector<uint64_t> sessions, versions, starts, ends;
  std::vector<const char*> regions, locations;
  std::vector<unsigned long> region_lengths, location_lengths;
  for (const SessionRecord& record : records) {
    sessions.push_back(static_cast<uint64_t>(record.session));
    versions.push_back(record.version);
    regions.push_back(record.region.data());
    region_lengths.push_back(record.region.size());
    starts.push_back(record.start_tick);
    ends.push_back(record.end_tick);
    locations.push_back(record.log_location.data());
    location_lengths.push_back(record.log_location.size());
  }
  Params params;
  params.u64(sessions);
  params.u64(versions);
  params.blob(regions, region_lengths);
  params.u64(starts);
  params.u64(ends);
  params.blob(locations, location_lengths);
  if (Outcome executed = impl_->execute_rows(upsert_session, params, static_cast<unsigned int>(records.size()));
      !executed.ok()) {
    return executed;
  }
  return impl_->commit();
}

Result<std::optional<SessionRecord>> MariaDbStores::load(SessionId session) {
  if (Outcome ready = impl_->ready(); !ready.ok()) return {ready, {}};
  uint64_t key = static_cast<uint64_t>(session);
  MYSQL_BIND bind{};
  bind.buffer_type = MYSQL_TYPE_LONGLONG;
  bind.buffer = &key;
  bind.is_unsigned = 1;
  std::vector<Column> columns = {Column(Column::Kind::u64), Column(Column::Kind::blob, region_bytes_max),
                                 Column(Column::Kind::u64), Column(Column::Kind::u64),
                                 Column(Column::Kind::blob, log_location_bytes_max)};
  Result<std::optional<SessionRecord>> result;
  Outcome outcome = impl_->select(select_session, &bind, columns, [&] {
    result.value = SessionRecord{session, columns[0].u, columns[1].bytes, columns[2].u, columns[3].u, columns[4].bytes};
    return Outcome::success();
  });
  if (!outcome.ok()) return {outcome, {}};
  if (Outcome committed = impl_->commit(); !committed.ok()) return {committed, {}};
  return result;
}

// --- accounts --------------------------------------------------------------------------------------

namespace {

constexpr unsigned int duplicate_key_error = 1062;  // ER_DUP_ENTRY

}  // namespace

Binding MariaDbStores::bind_account(std::string_view name, bool may_create, uint32_t ids_max) {
  Binding out;
  if (name.empty() || name.size() > account_name_bytes_max) return out;  // not_found, as the RocksDB registry
  // Two tries: a second server may take the same name or id between our SELECT and INSERT (the
  // keys refuse the second INSERT); the retry then finds the name or the next id.
  for (int attempt = 0; attempt < 2; ++attempt) {
    out = Binding{};
    if (!impl_->ready().ok()) {
      out.status = Binding::Status::store_error;
      return out;
    }
    std::vector<const char*> names = {name.data()};
    std::vector<unsigned long> lengths = {static_cast<unsigned long>(name.size())};
    MYSQL_BIND key{};
    key.buffer_type = MYSQL_TYPE_BLOB;
    key.buffer = const_cast<char*>(name.data());
    key.buffer_length = lengths[0];
    key.length = &lengths[0];
    std::vector<Column> player = {Column(Column::Kind::u64)};
    bool found = false;
    Outcome outcome = impl_->select(select_account, &key, player, [&] {
      found = true;
      return Outcome::success();
    });
    if (outcome.ok() && found) {
      outcome = impl_->commit();
      if (outcome.ok() && player[0].u >= 1 && player[0].u <= account_ids_limit) {
        out.status = Binding::Status::existing;
        out.player = static_cast<uint32_t>(player[0].u);
        return out;
      }
    }
    if (!outcome.ok() || found) {
      out.status = Binding::Status::store_error;
      return out;
    }
    if (!may_create) {
      (void)impl_->commit();
      return out;  // not_found
    }
    std::vector<Column> next = {Column(Column::Kind::u64)};
    outcome = impl_->select(next_account_id, nullptr, next, [] { return Outcome::success(); });
    if (!outcome.ok()) {
      out.status = Binding::Status::store_error;
      return out;
    }
    if (next[0].u > ids_max) {
      (void)mysql_rollback(impl_->connection);
      out.status = Binding::Status::full;
      return out;
    }
    std::vector<uint32_t> ids = {static_cast<uint32_t>(next[0].u)};
    Params params;
    params.blob(names, lengths);
    params.u32(ids);
    outcome = impl_->execute_rows(insert_account, params, 1);
    if (outcome.ok()) outcome = impl_->commit();
    if (outcome.ok()) {
      out.status = Binding::Status::created;
      out.player = ids[0];
      return out;
    }
    if (impl_->last_error_code != duplicate_key_error) break;
  }
  out.status = Binding::Status::store_error;
  return out;
}

Result<uint64_t> MariaDbStores::account_count() {
  if (Outcome ready = impl_->ready(); !ready.ok()) return {ready, 0};
  std::vector<Column> count = {Column(Column::Kind::u64)};
  Outcome outcome = impl_->select(count_accounts, nullptr, count, [] { return Outcome::success(); });
  if (outcome.ok()) outcome = impl_->commit();
  return {outcome, count[0].u};
}

std::unique_ptr<MariaDbAccountRegistry> MariaDbAccountRegistry::open(MariaDbOptions options, uint32_t ids_max,
                                                                     std::string& error) {
  if (ids_max == 0 || ids_max > account_ids_limit) {
    error = "account registry: ids_max " + std::to_string(ids_max) + " out of range";
    return nullptr;
  }
  auto stores = MariaDbStores::open(std::move(options), error);
  if (!stores) return nullptr;
  return std::unique_ptr<MariaDbAccountRegistry>(new MariaDbAccountRegistry(std::move(stores), ids_max));
}

Binding MariaDbAccountRegistry::bind(std::string_view name, bool may_create) {
  std::lock_guard lock(mutex_);
  return stores_->bind_account(name, may_create, ids_max_);
}

uint64_t MariaDbAccountRegistry::size() const {
  std::lock_guard lock(mutex_);
  const Result<uint64_t> count = stores_->account_count();
  return count.ok() ? count.value : 0;
}

}  // namespace strata::storage
