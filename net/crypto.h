// net/crypto.h: the AEAD used by the netchannel (libsodium ChaCha20-Poly1305 IETF for packets,
// XChaCha20-Poly1305 for connect tokens) and the replay window.
//
// Packet nonce (12 bytes): domain u32 little endian, then a 64-bit sequence little endian. The
// domain separates the kinds of packets sealed under one key, so a sequence number is never used
// twice with the same key even across packet kinds.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "net/limits.h"

namespace strata::net {

using Key = std::array<uint8_t, key_size>;

enum class NonceDomain : uint32_t {
  data = 0,             // data packets; sequence = the sender's 64-bit packet sequence
  challenge_token = 1,  // the challenge token, under the server's own challenge key
  challenge = 2,        // challenge packet, server -> client key
  response = 3,         // response packet, client -> server key
  denied = 4,           // denied packet, server -> client key
};

// Must be called before any other function here (idempotent, thread-safe; libsodium's own init).
[[nodiscard]] bool crypto_init();
// A key from the OS (libsodium): for CLI tools and tests. The node draws through net::Random (random.h).
[[nodiscard]] Key random_key();

// Seals `plaintext` into out (plaintext.size() + mac_size bytes). out may alias plaintext.
void seal(const Key& key, NonceDomain domain, uint64_t sequence, std::span<const uint8_t> ad,
          std::span<const uint8_t> plaintext, uint8_t* out);
// Opens `sealed` (ciphertext + MAC) into out (sealed.size() - mac_size bytes); false if forged.
[[nodiscard]] bool open(const Key& key, NonceDomain domain, uint64_t sequence, std::span<const uint8_t> ad,
                        std::span<const uint8_t> sealed, uint8_t* out);

inline constexpr size_t xnonce_size = 24;
void xseal(const Key& key, std::span<const uint8_t, xnonce_size> nonce, std::span<const uint8_t> ad,
           std::span<const uint8_t> plaintext, uint8_t* out);
[[nodiscard]] bool xopen(const Key& key, std::span<const uint8_t, xnonce_size> nonce, std::span<const uint8_t> ad,
                         std::span<const uint8_t> sealed, uint8_t* out);

// Remembers which authenticated 64-bit sequences arrived recently. A sequence is refused when it
// was seen, or is replay_window_size or more behind the highest seen.
class ReplayWindow {
 public:
  ReplayWindow();
  [[nodiscard]] bool already_received(uint64_t sequence) const;
  void mark(uint64_t sequence);  // only after the packet authenticated
  [[nodiscard]] uint64_t highest() const { return highest_; }
  [[nodiscard]] bool any() const { return any_; }

 private:
  std::array<uint64_t, replay_window_size> seen_;
  uint64_t highest_ = 0;
  bool any_ = false;
};

}  // namespace strata::net
