// net/token.cpp: connect token encoding. All integers little endian.
//
// Public connect token (connect_token_size = 2048 bytes, zero padded):
//   off   size field
//   0     8    magic "STRATA01"
//   8     8    protocol id
//   16    8    create time (unix seconds)
//   24    8    expire time (unix seconds)
//   32    24   nonce of the private part (random)
//   56    1024 private part, sealed (1008 bytes ciphertext + 16 MAC)
//   1080  4    timeout seconds
//   1084  4    server address count (1..8)
//   1088  152  8 server address slots of 19 bytes (family u8, ip 16, port u16); unused slots zero
//   1240  32   client -> server key
//   1272  32   server -> client key
//   1304  744  zero
//
// Private part plaintext (1008 bytes, zero padded), sealed with XChaCha20-Poly1305 under the
// private key, additional data = magic + protocol id + expire time (24 bytes):
//   0    8    client id
//   8    4    timeout seconds
//   12   4    server address count (1..8)
//   16   152  server address slots
//   168  32   client -> server key
//   200  32   server -> client key
//   232  256  user data
//   488  520  zero
//
// Layout vector (tests/net/token_test.cpp): a token for protocol 0x1122334455667788 minted at 1000
// with expire_seconds 30 starts 53 54 52 41 54 41 30 31 | 88 77 66 55 44 33 22 11 | e8 03 00.. |
// 06 04 00..; bytes 1084..1087 hold the address count and 1088.. the first address slot.
#include "net/token.h"

#include <cstring>

#include "net/wire.h"

namespace strata::net {

namespace {

constexpr uint8_t magic[8] = {'S', 'T', 'R', 'A', 'T', 'A', '0', '1'};
constexpr size_t private_plain_size = private_token_size - mac_size;
constexpr size_t address_slots_size = server_addresses_max * address_wire_size;
static_assert(8 + 4 + 4 + address_slots_size + 2 * key_size + user_data_size <= private_plain_size);
static_assert(56 + private_token_size + 4 + 4 + address_slots_size + 2 * key_size <= connect_token_size);

std::array<uint8_t, 24> token_ad(uint64_t protocol_id, uint64_t expire_unix_s) {
  std::array<uint8_t, 24> ad{};
  ByteWriter w(ad);
  w.bytes(magic);
  w.u64(protocol_id);
  w.u64(expire_unix_s);
  return ad;
}

void write_addresses(ByteWriter& w, const std::vector<Address>& addresses) {
  w.u32(static_cast<uint32_t>(addresses.size()));
  uint8_t slot[address_wire_size];
  for (size_t i = 0; i < server_addresses_max; ++i) {
    if (i < addresses.size()) {
      write_address(addresses[i], slot);
      w.bytes(slot);
    } else {
      w.zeros(address_wire_size);
    }
  }
}

bool read_addresses(ByteReader& r, std::vector<Address>& out) {
  const uint32_t count = r.u32();
  if (!r.ok() || count == 0 || count > server_addresses_max) return false;
  out.clear();
  for (size_t i = 0; i < server_addresses_max; ++i) {
    auto slot = r.bytes(address_wire_size);
    if (!r.ok()) return false;
    if (i < count) {
      Address a;
      if (!read_address(slot.data(), a)) return false;
      out.push_back(a);
    }
  }
  return true;
}

}  // namespace

std::optional<ConnectToken> mint_connect_token(const ConnectTokenParams& params, const Key& private_key,
                                               uint64_t now_unix_s, Random& random) {
  if (params.server_addresses.empty() || params.server_addresses.size() > server_addresses_max) return std::nullopt;
  for (const Address& a : params.server_addresses) {
    if (a.family == AddressFamily::none) return std::nullopt;
  }
  const Key c2s = random.key();
  const Key s2c = random.key();
  std::array<uint8_t, xnonce_size> nonce;
  random.fill(nonce);
  const uint64_t expire = now_unix_s + params.expire_seconds;

  std::array<uint8_t, private_plain_size> plain{};
  ByteWriter p(plain);
  p.u64(static_cast<uint64_t>(params.client_id));
  p.u32(params.timeout_seconds);
  write_addresses(p, params.server_addresses);
  p.bytes(c2s);
  p.bytes(s2c);
  p.bytes(params.user_data);
  if (!p.ok()) return std::nullopt;

  ConnectToken token{};
  ByteWriter w(token);
  w.bytes(magic);
  w.u64(params.protocol_id);
  w.u64(now_unix_s);
  w.u64(expire);
  w.bytes(nonce);
  const auto ad = token_ad(params.protocol_id, expire);
  std::array<uint8_t, private_token_size> sealed;
  xseal(private_key, nonce, ad, plain, sealed.data());
  w.bytes(sealed);
  w.u32(params.timeout_seconds);
  write_addresses(w, params.server_addresses);
  w.bytes(c2s);
  w.bytes(s2c);
  if (!w.ok()) return std::nullopt;
  return token;
}

std::optional<ConnectTokenPublic> read_connect_token(std::span<const uint8_t> token) {
  if (token.size() != connect_token_size) return std::nullopt;
  ByteReader r(token);
  auto m = r.bytes(8);
  if (!r.ok() || std::memcmp(m.data(), magic, 8) != 0) return std::nullopt;
  ConnectTokenPublic out;
  out.protocol_id = r.u64();
  out.create_unix_s = r.u64();
  out.expire_unix_s = r.u64();
  auto nonce = r.bytes(xnonce_size);
  auto sealed = r.bytes(private_token_size);
  out.timeout_seconds = r.u32();
  if (!r.ok() || !read_addresses(r, out.server_addresses)) return std::nullopt;
  auto c2s = r.bytes(key_size);
  auto s2c = r.bytes(key_size);
  if (!r.ok()) return std::nullopt;
  std::memcpy(out.nonce.data(), nonce.data(), xnonce_size);
  std::memcpy(out.private_data.data(), sealed.data(), private_token_size);
  std::memcpy(out.client_to_server_key.data(), c2s.data(), key_size);
  std::memcpy(out.server_to_client_key.data(), s2c.data(), key_size);
  return out;
}

TokenError open_private_token(std::span<const uint8_t, private_token_size> sealed,
                              std::span<const uint8_t, xnonce_size> nonce, uint64_t protocol_id, uint64_t expire_unix_s,
                              const Key& private_key, ConnectTokenPrivate& out) {
  std::array<uint8_t, private_plain_size> plain;
  const auto ad = token_ad(protocol_id, expire_unix_s);
  if (!xopen(private_key, nonce, ad, sealed, plain.data())) return TokenError::forged;
  ByteReader r(plain);
  out.client_id = ClientId{r.u64()};
  out.timeout_seconds = r.u32();
  if (!read_addresses(r, out.server_addresses)) return TokenError::malformed;
  auto c2s = r.bytes(key_size);
  auto s2c = r.bytes(key_size);
  auto user = r.bytes(user_data_size);
  if (!r.ok()) return TokenError::malformed;
  std::memcpy(out.client_to_server_key.data(), c2s.data(), key_size);
  std::memcpy(out.server_to_client_key.data(), s2c.data(), key_size);
  std::memcpy(out.user_data.data(), user.data(), user_data_size);
  return TokenError::none;
}

}  // namespace strata::net
