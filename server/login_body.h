// server/login_body.h — the parser of POST /api/login bodies: one JSON object whose members are
// strings, {"name":..., "password":..., "ticket":..., "role":"observer"}. Everything is untrusted:
// the parser is bounded (body bytes, string bytes, member count; no recursion: nested values are
// refused), checks UTF-8 strictly (no overlong forms, no surrogates, no control characters), decodes
// escapes, and refuses unknown or repeated members. It returns an error value, never throws or
// asserts. What it refused is described by a fixed text that never quotes the input, so a hostile
// body is never echoed or logged.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace strata::server {

// A login body is small: a name, and a password or a ticket.
inline constexpr size_t login_body_bytes_max = 4096;
// A member's value after unescaping. Bounds the copies; names, passwords and tickets are shorter.
inline constexpr size_t login_field_bytes_max = 1024;
// Members in one body (each known member at most once).
inline constexpr size_t login_members_max = 4;
static_assert(login_field_bytes_max < login_body_bytes_max);

struct LoginBody {
  std::optional<std::string> name;
  std::optional<std::string> password;
  std::optional<std::string> ticket;
  std::optional<std::string> role;
};

struct LoginBodyResult {
  std::optional<LoginBody> body;  // set when the body parsed
  const char* error = "";         // a fixed description otherwise (never contains input bytes)
};

[[nodiscard]] LoginBodyResult parse_login_body(std::string_view text);

}  // namespace strata::server
