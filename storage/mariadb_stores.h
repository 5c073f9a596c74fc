// storage/mariadb_stores.h: the global cold store on MariaDB (Connector/C): player state, maps and
// their chunks, the session catalog, and the accounts table a MariaDB AccountRegistry will use.
//
// Schema: created and migrated at open() by numbered migrations recorded in schema_version (one row
// per applied migration). Each migration's statements are idempotent (IF NOT EXISTS), so a server
// killed mid-migration re-applies it cleanly; a database whose schema is newer than this code is
// refused. Migrations are constant SQL; every statement that carries data is a prepared statement
// with bound parameters (nothing is ever interpolated into SQL).
//
// Writes: a save is one transaction (autocommit off) of array-bound statements (STMT_ATTR_ARRAY_SIZE,
// column-wise binding): one round trip for a batch of players, or for a map's head and its chunks,
// sliced into executions of at most 4 MiB (max_allowed_packet is 16 MiB by default) within the same
// transaction. Every row is an upsert that applies only when the incoming version is newer:
//   INSERT ... ON DUPLICATE KEY UPDATE col = IF(VALUES(version) > version, VALUES(col), col), ...,
//                                      version = GREATEST(version, VALUES(version))
// (version assigned last: MariaDB evaluates the assignments in order), so a batch retried after a
// lost COMMIT acknowledgement applies once.
//
// Holds (MariaDbOptions::region != 0; PlayerHolds in stores.h, issue 16 item 5): the players row
// also says which region holds the player online and until when (Unix ms, MariaDB's own clock, so
// the regions' clocks never meet). A load is one transaction: the claim (an upsert of the holder
// and lease that changes nothing while another region's lease runs) and the row's SELECT. A save is
// the same array-bound upsert as without holds, with the fence and the hold change in its
// assignments (the release of a leave save is in the save's own statement, so in its transaction).
// Region 0: no holds, the statements of a single region (the migration's columns stay at 0).
//
// Connection: no MYSQL_OPT_RECONNECT (an automatic reconnect silently drops the transaction and the
// prepared statements). A client error (2xxx: server gone, lost, timeout) closes the connection and
// fails the call (lost_connection: a COMMIT may have applied); the next call reconnects explicitly
// and prepares every statement again (counted). Server errors (1xxx) roll back and fail unavailable.
// Not thread-safe: one caller at a time (the port's worker).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "storage/account_registry.h"
#include "storage/stores.h"

namespace strata::storage {

struct MariaDbOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 3306;
  std::string user;
  std::string password;
  std::string database = "strata";  // [A-Za-z0-9_]{1,64}
  bool create_database = false;     // CREATE DATABASE IF NOT EXISTS at open (tests, first run)
  unsigned int connect_timeout_s = 2;
  unsigned int io_timeout_s = 5;  // read and write timeouts of one call
  uint16_t region = 0;            // the region this store claims players for; 0: no holds
  std::chrono::milliseconds lease{30'000};
};

// Read on the thread that calls the store (the port's worker), or while it is idle.
struct MariaDbCounters {
  uint64_t connects = 0;
  uint64_t reconnects = 0;
  uint64_t connect_failures = 0;
  uint64_t connections_lost = 0;
  uint64_t statements_prepared = 0;
  uint64_t transactions_committed = 0;
  uint64_t transactions_failed = 0;
  uint64_t rows_sent = 0;
  uint64_t migrations_applied = 0;
  uint64_t corrupt_rows = 0;
};

// The schema version this code writes (the number of the last migration).
inline constexpr uint32_t mariadb_schema_version = 3;

class MariaDbStores final : public PlayerBackend, public MapBackend, public SessionBackend, public PlayerHolds {
 public:
  // Connects, creates the database if asked, and migrates the schema; nullptr with `error` if any fails.
  [[nodiscard]] static std::unique_ptr<MariaDbStores> open(MariaDbOptions options, std::string& error);
  ~MariaDbStores() override;

  [[nodiscard]] Outcome save(std::span<const PlayerRecord> records) override;
  [[nodiscard]] Result<std::optional<PlayerRecord>> load(PlayerKey player) override;
  [[nodiscard]] bool holds_players() const override;
  [[nodiscard]] Outcome renew() override;
  [[nodiscard]] Outcome restart(std::span<const PlayerKey> keep) override;
  [[nodiscard]] Outcome save(std::span<const MapRecord> records) override;
  [[nodiscard]] Result<std::optional<MapRecord>> load(MapId map) override;
  [[nodiscard]] Outcome save(std::span<const SessionRecord> records) override;
  [[nodiscard]] Result<std::optional<SessionRecord>> load(SessionId session) override;

  // Each record its own statement and transaction (the benchmark's baseline).
  [[nodiscard]] Outcome save_one_by_one(std::span<const PlayerRecord> records);
  // The applied schema version (SELECT MAX(version) FROM schema_version).
  [[nodiscard]] Result<uint32_t> schema_version();
  // The account registry's operations (MariaDbAccountRegistry holds the lock around them): a new
  // name gets MAX(player) + 1 in one transaction; the keys (name, player) refuse a racing server.
  [[nodiscard]] Binding bind_account(std::string_view name, bool may_create, uint32_t ids_max);
  [[nodiscard]] Result<uint64_t> account_count();
  // Drops the database (tests).
  [[nodiscard]] Outcome drop_database();
  [[nodiscard]] const MariaDbCounters& counters() const;

 private:
  struct Impl;
  explicit MariaDbStores(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The login's AccountRegistry on MariaDB (the accounts table), with the RocksDB registry's rules:
// a name owns one id for good, ids are handed out once, in order, up to ids_max; an empty or too long
// name is not_found. Thread-safe (one connection, one call at a time): the login calls it from the
// HTTP thread and from its password verifiers, never from the tick.
class MariaDbAccountRegistry final : public AccountRegistry {
 public:
  [[nodiscard]] static std::unique_ptr<MariaDbAccountRegistry> open(MariaDbOptions options, uint32_t ids_max,
                                                                    std::string& error);
  [[nodiscard]] Binding bind(std::string_view name, bool may_create) override;
  [[nodiscard]] uint64_t size() const override;

 private:
  MariaDbAccountRegistry(std::unique_ptr<MariaDbStores> stores, uint32_t ids_max)
      : stores_(std::move(stores)), ids_max_(ids_max) {}
  mutable std::mutex mutex_;
  std::unique_ptr<MariaDbStores> stores_;
  uint32_t ids_max_;
};

}  // namespace strata::storage
