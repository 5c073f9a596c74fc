// fuzz/accounts_file.cpp — any bytes as an accounts file (auth.mode static): accounts with valid
// names and hash strings, or an error naming a line; never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/accounts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = strata::server::parse_accounts_file(text);
  if (parsed.file.has_value() == !parsed.error.empty()) std::abort();
  if (parsed.file) {
    for (const auto& [name, hash] : parsed.file->hashes) {
      if (!strata::server::valid_login_name(name) || hash.empty() || hash.front() != '$') std::abort();
    }
  }
  return 0;
}
