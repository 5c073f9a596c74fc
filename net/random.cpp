// net/random.cpp — see random.h.
#include "net/random.h"

#include <sodium.h>

#include "sim/assert.h"

namespace strata::net {

uint64_t Random::u64() {
  std::array<uint8_t, 8> bytes;
  fill(bytes);
  uint64_t v = 0;
  for (size_t i = 0; i < bytes.size(); ++i) v |= uint64_t{bytes[i]} << (8 * i);
  return v;
}

OsRandom::OsRandom() {
  const bool ready = crypto_init();
  STRATA_ASSERT(ready, "libsodium initialises");
}

void OsRandom::fill(std::span<uint8_t> out) { randombytes_buf(out.data(), out.size()); }

DeterministicRandom::DeterministicRandom(uint64_t seed) : seed_(seed) {
  const bool ready = crypto_init();
  STRATA_ASSERT(ready, "libsodium initialises");
}

void DeterministicRandom::fill(std::span<uint8_t> out) {
  static_assert(randombytes_SEEDBYTES == 32);
  std::array<uint8_t, randombytes_SEEDBYTES> key{};
  for (size_t i = 0; i < 8; ++i) {
    key[i] = static_cast<uint8_t>(seed_ >> (8 * i));
    key[8 + i] = static_cast<uint8_t>(calls_ >> (8 * i));
  }
  calls_ += 1;
  randombytes_buf_deterministic(out.data(), out.size(), key.data());
}

Random& os_random() {
  static OsRandom random;
  return random;
}

}  // namespace strata::net
