// sim/rng.h — the world's random number generator (PCG32, O'Neill 2014), part of the state: seeded
// from the world seed, advanced only by step, hashed and saved. No <random>: its distributions are
// not specified bit-exactly across standard libraries.
#pragma once

#include <cstdint>

namespace strata::sim {

struct Rng {
  uint64_t state = 0;
  uint64_t increment = 1;  // always odd

  [[nodiscard]] static constexpr Rng seeded(uint64_t seed, uint64_t stream) {
    Rng rng;
    rng.increment = (stream << 1U) | 1U;
    rng.next_u32();
    rng.state += seed;
    rng.next_u32();
    return rng;
  }

  constexpr uint32_t next_u32() {
    const uint64_t old = state;
    state = old * 6364136223846793005ULL + increment;
    const auto xorshifted = static_cast<uint32_t>(((old >> 18U) ^ old) >> 27U);
    const auto rotation = static_cast<uint32_t>(old >> 59U);
    return (xorshifted >> rotation) | (xorshifted << ((32U - rotation) & 31U));
  }

  // Uniform-enough value in [0, bound): Lemire's multiply-shift, no rejection loop, so every call
  // consumes exactly one draw (the draw count is part of what determinism depends on).
  constexpr uint32_t below(uint32_t bound) {
    return static_cast<uint32_t>((static_cast<uint64_t>(next_u32()) * bound) >> 32U);
  }
};

// Stateless mixing for map generation (SplitMix64 finaliser).
[[nodiscard]] constexpr uint64_t mix64(uint64_t value) {
  value += 0x9E3779B97F4A7C15ULL;
  value = (value ^ (value >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  value = (value ^ (value >> 27U)) * 0x94D049BB133111EBULL;
  return value ^ (value >> 31U);
}

}  // namespace strata::sim
