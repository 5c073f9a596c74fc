// fuzz/login_body.cpp — any bytes as a POST /api/login body: a parsed body within the limits, or an
// error that quotes nothing of the input; never a crash or unbounded work.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/login_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = strata::server::parse_login_body(text);
  if (parsed.body.has_value() == (std::string_view(parsed.error).size() > 0)) std::abort();
  if (parsed.body) {
    for (const auto* field : {&parsed.body->name, &parsed.body->password, &parsed.body->ticket, &parsed.body->role}) {
      if (*field &&
          ((*field)->size() > strata::server::login_field_bytes_max || (*field)->find('\0') != std::string::npos))
        std::abort();  // bounded, and no NUL ever reaches a name or a password
    }
  }
  return 0;
}
