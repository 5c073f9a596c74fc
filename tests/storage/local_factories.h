// tests/storage/local_factories.h: conformance factories of the stores that need no service: the
// in-memory twin and the embedded RocksDB default (each instance in its own temporary directory).
#pragma once

#include <filesystem>
#include <memory>
#include <random>

#include "storage/memory_holds.h"
#include "storage/memory_stores.h"
#include "storage/rocks_stores.h"

namespace strata::storage::testing {

struct MemoryFactory {
  struct Instance {
    MemoryStores stores;
    PlayerBackend& players() { return stores; }
    MapBackend& maps() { return stores; }
    PositionBackend& positions() { return stores; }
    SessionBackend& sessions() { return stores; }
  };
  static std::unique_ptr<Instance> make() { return std::make_unique<Instance>(); }
};

// Two regions over one twin (HoldsConformance): the holds on a clock the test moves.
struct MemoryHoldsFactory {
  static constexpr uint64_t lease_ms = 1000;
  struct Instance {
    MemoryStores records;
    MemoryHolds shared;
    uint64_t now_ms = 1'000'000;
    RegionPlayers one{records, shared, 1, lease_ms, [this] { return now_ms; }};
    RegionPlayers two{records, shared, 2, lease_ms, [this] { return now_ms; }};
    RegionPlayers& region(int which) { return which == 1 ? one : two; }
    PlayerHolds& holds(int which) { return region(which); }
    void expire() { now_ms += lease_ms + 1; }
  };
  static std::unique_ptr<Instance> make() { return std::make_unique<Instance>(); }
};

// A directory removed with everything in it when the holder goes.
class TempDir {
 public:
  TempDir() {
    std::random_device entropy;  // test-only: names must not collide across parallel ctest runs
    path_ = std::filesystem::temp_directory_path() /
            ("strata-stores-" + std::to_string(entropy()) + "-" + std::to_string(entropy()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct RocksFactory {
  struct Instance {
    TempDir dir;
    std::unique_ptr<RocksStores> stores;
    PlayerBackend& players() { return *stores; }
    MapBackend& maps() { return *stores; }
    PositionBackend& positions() { return *stores; }
    SessionBackend& sessions() { return *stores; }
  };
  static std::unique_ptr<Instance> make() {
    auto instance = std::make_unique<Instance>();
    std::string error;
    // No fsync in the conformance runs: the rules under test do not depend on it, the disk time does.
    instance->stores = RocksStores::open((instance->dir.path() / "stores").string(), {.sync = false}, error);
    if (!instance->stores) throw std::runtime_error(error);
    return instance;
  }
};

}  // namespace strata::storage::testing
