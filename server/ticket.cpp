// server/ticket.cpp — see ticket.h.
#include "server/ticket.h"

#include <sodium.h>

#include <vector>

#include "server/accounts.h"

namespace strata::server {
namespace {

constexpr uint8_t ticket_version = 1;
constexpr size_t header_bytes = 26;  // version, expiry, nonce, name length

}  // namespace

std::string mint_ticket(const TicketKey& key, std::string_view name, uint64_t now_unix_s, uint32_t ttl_s,
                        net::Random& random) {
  if (!valid_login_name(name) || name.size() > ticket_name_bytes_max) return {};
  std::vector<uint8_t> bytes(header_bytes + name.size() + ticket_mac_bytes);
  const uint64_t expiry = now_unix_s + ttl_s;
  bytes[0] = ticket_version;
  for (size_t i = 0; i < 8; ++i) bytes[1 + i] = static_cast<uint8_t>(expiry >> (8 * i));
  random.fill(std::span(bytes).subspan(9, ticket_nonce_bytes));
  bytes[25] = static_cast<uint8_t>(name.size());
  for (size_t i = 0; i < name.size(); ++i) bytes[header_bytes + i] = static_cast<uint8_t>(name[i]);
  const size_t signed_bytes = header_bytes + name.size();
  crypto_auth(bytes.data() + signed_bytes, bytes.data(), signed_bytes, key.data());
  std::string text(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(text.data(), text.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  text.resize(std::char_traits<char>::length(text.c_str()));
  return text;
}

std::optional<TicketKey> parse_ticket_key(std::string_view hex) {
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' ')) hex.remove_suffix(1);
  while (!hex.empty() && (hex.front() == ' ' || hex.front() == '\n')) hex.remove_prefix(1);
  TicketKey key{};
  size_t length = 0;
  if (hex.size() != 2 * ticket_key_bytes ||
      sodium_hex2bin(key.data(), key.size(), hex.data(), hex.size(), nullptr, &length, nullptr) != 0 ||
      length != key.size()) {
    return std::nullopt;
  }
  return key;
}

TicketCheck TicketVerifier::verify(std::string_view text, uint64_t now_unix_s) {
  TicketCheck check;
  check.verdict = TicketVerdict::forged;
  if (text.empty() || text.size() > ticket_text_bytes_max) return check;
  std::array<uint8_t, ticket_bytes_max> bytes{};
  size_t length = 0;
  if (sodium_base642bin(bytes.data(), bytes.size(), text.data(), text.size(), nullptr, &length, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return check;
  }
  if (length < header_bytes + 1 + ticket_mac_bytes || bytes[0] != ticket_version) return check;
  const size_t name_size = bytes[25];
  if (name_size == 0 || name_size > ticket_name_bytes_max || length != header_bytes + name_size + ticket_mac_bytes)
    return check;
  const size_t signed_bytes = header_bytes + name_size;
  if (crypto_auth_verify(bytes.data() + signed_bytes, bytes.data(), signed_bytes, key_.data()) != 0) return check;
  const std::string name(reinterpret_cast<const char*>(bytes.data() + header_bytes), name_size);
  if (!valid_login_name(name)) return check;  // signed, but not a name: the backend's bug, refused all the same
  uint64_t expiry = 0;
  for (size_t i = 0; i < 8; ++i) expiry |= static_cast<uint64_t>(bytes[1 + i]) << (8 * i);
  if (expiry <= now_unix_s) {
    check.verdict = TicketVerdict::expired;
    return check;
  }
  if (expiry - now_unix_s > lifetime_max_s_) {
    check.verdict = TicketVerdict::too_long;
    return check;
  }
  const std::string nonce(reinterpret_cast<const char*>(bytes.data() + 9), ticket_nonce_bytes);
  std::lock_guard lock(mutex_);
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now_unix_s) {
    nonces_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
  if (nonces_.contains(nonce)) {
    check.verdict = TicketVerdict::replayed;
    return check;
  }
  if (nonces_.size() >= ticket_replay_entries_max) {
    check.verdict = TicketVerdict::busy;
    return check;
  }
  nonces_.insert(nonce);
  by_expiry_.emplace(expiry, nonce);
  check.verdict = TicketVerdict::ok;
  check.name = name;
  return check;
}

size_t TicketVerifier::remembered() const {
  std::lock_guard lock(mutex_);
  return nonces_.size();
}

}  // namespace strata::server
