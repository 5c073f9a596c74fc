// fuzz/login_ticket.cpp — any bytes as a login ticket (auth.mode ticket), verified with a fixed key:
// refused (forged) unless the fuzzer forges HMAC-SHA512-256, never a crash; a ticket minted with the
// key from the input's name round-trips.
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/accounts.h"
#include "server/ticket.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool ready = sodium_init() >= 0;
  if (!ready) std::abort();
  strata::server::TicketKey key{};
  key.fill(7);
  strata::server::TicketVerifier verifier(key, 300);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  constexpr uint64_t now_s = 1'800'000'000;
  const auto check = verifier.verify(text, now_s);
  if (check.verdict == strata::server::TicketVerdict::ok && !strata::server::valid_login_name(check.name)) std::abort();
  if (strata::server::valid_login_name(text)) {
    strata::net::DeterministicRandom random(1);  // a finding reproduces
    const std::string ticket = strata::server::mint_ticket(key, text, now_s, 60, random);
    const auto minted = verifier.verify(ticket, now_s);
    if (minted.verdict != strata::server::TicketVerdict::ok || minted.name != text) std::abort();
  }
  return 0;
}
