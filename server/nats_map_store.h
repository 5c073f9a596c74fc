// server/nats_map_store.h — the MapStore port (server/map_snapshots.h) over a JetStream key-value
// bucket with nats.c 3.4.1: history 1 (the bucket's stream keeps one message per key subject,
// MaxMsgsPerSubject = 1), values up to map_snapshot_limits::value_bytes_max. Why a bucket rather
// than a stream of our own with MaxMsgsPerSubject = 1: it is that stream, configured by nats.c, and
// reading a key's latest value is one request (kvStore_Get: the server's get-last-by-subject), with
// no consumer to create, order or recreate. Its own connection: the requests wait (up to
// api_wait_ms), so it is used on the snapshot worker's thread and at start-up only.
#pragma once

#include <memory>
#include <string>

#include "server/map_snapshots.h"

namespace strata::server {

struct NatsMapStoreConfig {
  std::string url = "nats://127.0.0.1:4222";  // or a comma-separated list
  std::string bucket = "STRATA_MAPS";
  int64_t replicas = 1;
  bool memory_storage = false;
  int64_t connect_timeout_ms = 2000;
  int64_t api_wait_ms = 10'000;
};

class NatsMapStore final : public MapStore {
 public:
  // Connects and opens the bucket (created when missing). nullptr and `error` if it cannot.
  [[nodiscard]] static std::unique_ptr<NatsMapStore> open(const NatsMapStoreConfig& config, std::string& error);
  ~NatsMapStore() override;
  NatsMapStore(const NatsMapStore&) = delete;
  NatsMapStore& operator=(const NatsMapStore&) = delete;

  [[nodiscard]] MapStoreStatus put(const std::string& key, std::span<const uint8_t> value) override;
  [[nodiscard]] MapStoreStatus get(const std::string& key, std::vector<uint8_t>& out) override;

  struct Impl;

 private:
  explicit NatsMapStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::server
