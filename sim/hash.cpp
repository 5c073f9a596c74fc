// sim/hash.cpp — the hash sink: small scalars are gathered in a fixed stack buffer and handed to the
// XXH3 streaming state in blocks; large arrays (the map's layers) go straight through. XXH3's
// streaming result equals the one-shot hash of the concatenation, so buffering does not change it.
#include "sim/hash.h"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack (no allocation)
#include <xxhash.h>

#include <array>
#include <cstring>

#include "sim/canonical.h"

namespace strata::sim {
namespace {

class HashSink {
 public:
  HashSink() {
    XXH3_INITSTATE(&state_);
    const XXH_errorcode result = XXH3_64bits_reset(&state_);
    STRATA_ASSERT(result == XXH_OK, "XXH3 reset failed");
  }
  HashSink(const HashSink&) = delete;
  HashSink& operator=(const HashSink&) = delete;

  void put(const void* data, size_t size) {
    if (size >= direct_threshold) {
      flush();
      update(data, size);
      return;
    }
    if (used_ + size > buffer_.size()) flush();
    std::memcpy(buffer_.data() + used_, data, size);
    used_ += size;
  }
  uint64_t digest() {
    flush();
    return XXH3_64bits_digest(&state_);
  }

 private:
  static constexpr size_t direct_threshold = 256;
  void flush() {
    if (used_ == 0) return;
    update(buffer_.data(), used_);
    used_ = 0;
  }
  void update(const void* data, size_t size) {
    const XXH_errorcode result = XXH3_64bits_update(&state_, data, size);
    STRATA_ASSERT(result == XXH_OK, "XXH3 update failed");
  }

  XXH3_state_t state_{};
  std::array<uint8_t, 4096> buffer_{};
  size_t used_ = 0;
};

uint64_t hash_scope(const World& world, WalkScope scope) {
  HashSink sink;
  canonical::Writer<HashSink> writer(sink);
  walk_world(world, writer, scope);
  return sink.digest();
}

}  // namespace

uint64_t quick_hash(const World& world) { return hash_scope(world, WalkScope::quick); }
uint64_t full_hash(const World& world) { return hash_scope(world, WalkScope::full); }

}  // namespace strata::sim
