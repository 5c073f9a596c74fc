// server/accounts.cpp — see accounts.h.
#include "server/accounts.h"

#include <sodium.h>

namespace strata::server {
namespace {

bool valid_hash(std::string_view hash) {
  if (hash.size() >= crypto_pwhash_STRBYTES) return false;  // the buffer crypto_pwhash_str_verify takes
  if (hash.rfind("$argon2id$", 0) != 0 && hash.rfind("$argon2i$", 0) != 0) return false;
  for (char c : hash) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) return false;
  }
  return true;
}

}  // namespace

bool valid_login_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

AccountsParse parse_accounts_file(std::string_view text) {
  AccountsParse out;
  if (text.size() > accounts_file_bytes_max) {
    out.error = "the file is larger than " + std::to_string(accounts_file_bytes_max) + " bytes";
    return out;
  }
  AccountsFile file;
  size_t line_number = 0;
  size_t at = 0;
  while (at < text.size()) {
    line_number += 1;
    const size_t end = std::min(text.find('\n', at), text.size());
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    auto fail = [&](const char* what) {
      out.error = "line " + std::to_string(line_number) + ": " + what;
      return out;
    };
    if (line.size() > accounts_line_bytes_max) return fail("line too long");
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const size_t space = line.find(' ');
    if (space == std::string_view::npos) return fail("expected '<name> <hash>'");
    const std::string_view name = line.substr(0, space);
    std::string_view hash = line.substr(space + 1);
    while (!hash.empty() && (hash.back() == ' ' || hash.back() == '\t')) hash.remove_suffix(1);
    if (!valid_login_name(name)) return fail("the name is not 1 to 32 characters of A-Z a-z 0-9 _ -");
    if (!valid_hash(hash)) return fail("the hash is not a crypto_pwhash_str string ($argon2id$...)");
    if (file.hashes.size() >= accounts_max) return fail("too many accounts");
    if (!file.hashes.emplace(std::string(name), std::string(hash)).second) return fail("the name appears twice");
  }
  out.file = std::move(file);
  return out;
}

std::string hash_password(std::string_view password) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return {};
  }
  return out;
}

bool verify_password(std::string_view hash, std::string_view password) {
  char stored[crypto_pwhash_STRBYTES] = {};
  if (hash.size() >= sizeof stored) return false;
  hash.copy(stored, hash.size());
  return crypto_pwhash_str_verify(stored, password.data(), password.size()) == 0;
}

}  // namespace strata::server
