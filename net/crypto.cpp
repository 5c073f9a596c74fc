// net/crypto.cpp: thin wrappers over libsodium; see crypto.h for the nonce layout.
#include "net/crypto.h"
#include "sim/assert.h"

#include <sodium.h>

namespace strata::net {

static_assert(crypto_aead_chacha20poly1305_IETF_NPUBBYTES == 12);
static_assert(crypto_aead_chacha20poly1305_IETF_ABYTES == mac_size);
static_assert(crypto_aead_chacha20poly1305_IETF_KEYBYTES == key_size);
static_assert(crypto_aead_xchacha20poly1305_IETF_NPUBBYTES == xnonce_size);
static_assert(crypto_aead_xchacha20poly1305_IETF_ABYTES == mac_size);

namespace {

std::array<uint8_t, 12> make_nonce(NonceDomain domain, uint64_t sequence) {
  std::array<uint8_t, 12> nonce{};
  const auto d = static_cast<uint32_t>(domain);
  for (int i = 0; i < 4; ++i) nonce[i] = static_cast<uint8_t>(d >> (8 * i));
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(sequence >> (8 * i));
  return nonce;
}

}  // namespace

bool crypto_init() { return sodium_init() >= 0; }

Key random_key() {
  Key key;
  randombytes_buf(key.data(), key.size());
  return key;
}

void seal(const Key& key, NonceDomain domain, uint64_t sequence, std::span<const uint8_t> ad,
          std::span<const uint8_t> plaintext, uint8_t* out) {
  const auto nonce = make_nonce(domain, sequence);
  unsigned long long written = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(out, &written, plaintext.data(), plaintext.size(), ad.data(), ad.size(),
                                            nullptr, nonce.data(), key.data());
  STRATA_ASSERT(written == plaintext.size() + mac_size, written, plaintext.size());
}

bool open(const Key& key, NonceDomain domain, uint64_t sequence, std::span<const uint8_t> ad,
          std::span<const uint8_t> sealed, uint8_t* out) {
  if (sealed.size() < mac_size) return false;
  const auto nonce = make_nonce(domain, sequence);
  unsigned long long written = 0;
  return crypto_aead_chacha20poly1305_ietf_decrypt(out, &written, nullptr, sealed.data(), sealed.size(), ad.data(),
                                                   ad.size(), nonce.data(), key.data()) == 0;
}

void xseal(const Key& key, std::span<const uint8_t, xnonce_size> nonce, std::span<const uint8_t> ad,
           std::span<const uint8_t> plaintext, uint8_t* out) {
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out, &written, plaintext.data(), plaintext.size(), ad.data(), ad.size(),
                                             nullptr, nonce.data(), key.data());
  STRATA_ASSERT(written == plaintext.size() + mac_size, written, plaintext.size());
}

bool xopen(const Key& key, std::span<const uint8_t, xnonce_size> nonce, std::span<const uint8_t> ad,
           std::span<const uint8_t> sealed, uint8_t* out) {
  if (sealed.size() < mac_size) return false;
  unsigned long long written = 0;
  return crypto_aead_xchacha20poly1305_ietf_decrypt(out, &written, nullptr, sealed.data(), sealed.size(), ad.data(),
                                                    ad.size(), nonce.data(), key.data()) == 0;
}

ReplayWindow::ReplayWindow() { seen_.fill(UINT64_MAX); }

bool ReplayWindow::already_received(uint64_t sequence) const {
  if (!any_) return false;
  if (sequence + replay_window_size <= highest_) return true;
  return seen_[sequence % replay_window_size] == sequence;
}

void ReplayWindow::mark(uint64_t sequence) {
  seen_[sequence % replay_window_size] = sequence;
  if (!any_ || sequence > highest_) highest_ = sequence;
  any_ = true;
}

}  // namespace strata::net
