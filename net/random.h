// net/random.h — the Random port: the only source of unpredictable bytes for the node and its
// netchannel (the server's challenge key, connection ids, connect tokens' keys and nonces, the
// login's tokens). main() gives the node OsRandom; strata-vopr and the tests give it DeterministicRandom,
// so one seed decides every byte the node draws and a run repeats byte for byte.
//
// CLI tools and tests that only need a key (not a node) may still call net::random_key() in
// crypto.h or os_random() below, which are OS randomness underneath.
#pragma once

#include <cstdint>
#include <span>

#include "net/crypto.h"

namespace strata::net {

class Random {
 public:
  virtual ~Random() = default;
  // Fills `out` with random bytes.
  virtual void fill(std::span<uint8_t> out) = 0;

  [[nodiscard]] Key key() {
    Key k;
    fill(k);
    return k;
  }
  [[nodiscard]] uint64_t u64();
};

// The operating system's randomness (libsodium's randombytes_buf). Thread-safe: the login's HTTP
// threads and the network side may draw from one instance.
class OsRandom final : public Random {
 public:
  OsRandom();  // initialises libsodium
  void fill(std::span<uint8_t> out) override;
};

// Deterministic bytes from a 64-bit seed: call n fills with the ChaCha20 stream keyed by (seed, n)
// (libsodium's randombytes_buf_deterministic), so the bytes depend only on the seed and the order
// of the calls, on every platform. Not for production keys. Not thread-safe: a simulation draws
// from it on its one thread.
class DeterministicRandom final : public Random {
 public:
  explicit DeterministicRandom(uint64_t seed);
  void fill(std::span<uint8_t> out) override;
  [[nodiscard]] uint64_t seed() const { return seed_; }
  [[nodiscard]] uint64_t calls() const { return calls_; }

 private:
  uint64_t seed_;
  uint64_t calls_ = 0;
};

// One process-wide OsRandom for CLI tools and tests that need no determinism (stateless underneath:
// libsodium's generator). The node never calls it: main() hands it its Random.
[[nodiscard]] Random& os_random();

}  // namespace strata::net
