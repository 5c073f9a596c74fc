// server/accounts.h — the accounts file of `auth.mode: static` and the password hashes in it.
//
// File format (text, one account a line; blank lines and lines starting with '#' are ignored):
//   <name> <hash>
// where <name> is a login name (1..32 of [A-Za-z0-9_-]) and <hash> is a libsodium crypto_pwhash_str
// string ("$argon2id$v=19$m=...,t=...,p=...$salt$hash": salted, with its cost parameters inside).
// Make one with `strata-server --hash-password NAME` (the password on stdin). A name appears once.
//
// The file is configuration, but it is parsed as untrusted input: bounded in bytes, lines and
// accounts; an error names the line (never quotes a hash) and the whole file is refused.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace strata::server {

inline constexpr size_t accounts_file_bytes_max = size_t{16} << 20;
inline constexpr size_t accounts_max = 200'000;
inline constexpr size_t accounts_line_bytes_max = 512;
// A login password (bytes). Longer ones are refused before any hashing (bounds the hashing work).
inline constexpr size_t password_bytes_max = 256;
static_assert(password_bytes_max < accounts_line_bytes_max);

struct AccountsFile {
  std::map<std::string, std::string, std::less<>> hashes;  // name -> crypto_pwhash_str string
};

struct AccountsParse {
  std::optional<AccountsFile> file;
  std::string error;  // "line N: what" when refused
};

[[nodiscard]] AccountsParse parse_accounts_file(std::string_view text);

// 1..32 characters of [A-Za-z0-9_-].
[[nodiscard]] bool valid_login_name(std::string_view name);

// crypto_pwhash_str with the interactive limits (about 64 MiB and a tenth of a second: slow on
// purpose). Empty on failure (out of memory).
[[nodiscard]] std::string hash_password(std::string_view password);
// crypto_pwhash_str_verify: true when `password` matches `hash`.
[[nodiscard]] bool verify_password(std::string_view hash, std::string_view password);

}  // namespace strata::server
