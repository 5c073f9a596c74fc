// server/nats_map_store.cpp — see nats_map_store.h.
#include "server/nats_map_store.h"

#include <nats/nats.h>

#include <mutex>

namespace strata::server {

struct NatsMapStore::Impl {
  NatsMapStoreConfig config;
  natsOptions* options = nullptr;
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;
  kvStore* kv = nullptr;
  std::mutex mutex;  // one request at a time (the worker and a test may share it)

  ~Impl() {
    kvStore_Destroy(kv);
    jsCtx_Destroy(js);
    if (connection != nullptr) natsConnection_Close(connection);
    natsConnection_Destroy(connection);
    natsOptions_Destroy(options);
  }
};

namespace {

std::string status_text(natsStatus status) {
  std::string out = natsStatus_GetText(status);
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0') out.append(": ").append(last);
  return out;
}

}  // namespace

NatsMapStore::NatsMapStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NatsMapStore::~NatsMapStore() = default;

std::unique_ptr<NatsMapStore> NatsMapStore::open(const NatsMapStoreConfig& config, std::string& error) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  std::vector<std::string> urls;
  for (size_t start = 0; start <= config.url.size();) {
    const size_t comma = std::min(config.url.find(',', start), config.url.size());
    if (comma > start) urls.push_back(config.url.substr(start, comma - start));
    start = comma + 1;
  }
  std::vector<const char*> url_ptrs;
  for (const std::string& url : urls) url_ptrs.push_back(url.c_str());
  natsStatus s = natsOptions_Create(&impl->options);
  if (s == NATS_OK) s = natsOptions_SetServers(impl->options, url_ptrs.data(), static_cast<int>(url_ptrs.size()));
  if (s == NATS_OK) s = natsOptions_SetTimeout(impl->options, config.connect_timeout_ms);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(impl->options, -1);
  if (s == NATS_OK) s = natsConnection_Connect(&impl->connection, impl->options);
  if (s != NATS_OK) {
    error = "cannot connect to " + config.url + ": " + status_text(s);
    return nullptr;
  }
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = config.api_wait_ms;
  if (s = natsConnection_JetStream(&impl->js, impl->connection, &js_options); s != NATS_OK) {
    error = "cannot make a JetStream context: " + status_text(s);
    return nullptr;
  }
  s = js_KeyValue(&impl->kv, impl->js, config.bucket.c_str());
  if (s == NATS_NOT_FOUND) {
    kvConfig kv_config;
    kvConfig_Init(&kv_config);
    kv_config.Bucket = config.bucket.c_str();
    kv_config.Description = "Strata regions' published map snapshots (server/map_snapshots.h)";
    kv_config.History = 1;
    kv_config.MaxValueSize = static_cast<int32_t>(map_snapshot_limits::value_bytes_max);
    kv_config.StorageType = config.memory_storage ? js_MemoryStorage : js_FileStorage;
    kv_config.Replicas = static_cast<int>(config.replicas);
    s = js_CreateKeyValue(&impl->kv, impl->js, &kv_config);
  }
  if (s != NATS_OK) {
    error = "cannot open the key-value bucket " + config.bucket + ": " + status_text(s);
    return nullptr;
  }
  return std::unique_ptr<NatsMapStore>(new NatsMapStore(std::move(impl)));
}

MapStoreStatus NatsMapStore::put(const std::string& key, std::span<const uint8_t> value) {
  if (value.size() > map_snapshot_limits::value_bytes_max) return MapStoreStatus::too_large;
  const std::lock_guard lock(impl_->mutex);
  const natsStatus s = kvStore_Put(nullptr, impl_->kv, key.c_str(), value.data(), static_cast<int>(value.size()));
  if (s == NATS_OK) return MapStoreStatus::ok;
  return MapStoreStatus::unavailable;
}

MapStoreStatus NatsMapStore::get(const std::string& key, std::vector<uint8_t>& out) {
  const std::lock_guard lock(impl_->mutex);
  kvEntry* entry = nullptr;
  const natsStatus s = kvStore_Get(&entry, impl_->kv, key.c_str());
  if (s == NATS_NOT_FOUND) {
    return MapStoreStatus::not_found;
  }
  if (s != NATS_OK) {
    return MapStoreStatus::unavailable;
  }
  const auto* data = static_cast<const uint8_t*>(kvEntry_Value(entry));
  const int size = kvEntry_ValueLen(entry);
  out.assign(data, data + (size > 0 ? size : 0));
  kvEntry_Destroy(entry);
  return MapStoreStatus::ok;
}

}  // namespace strata::server
