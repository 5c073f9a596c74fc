// sim/assert.h — checks that stay on in release builds (TigerBeetle/KJ style), for every module:
//   STRATA_ASSERT(cond, ...)   a bug in this code: an invariant of ours does not hold;
//   STRATA_REQUIRE(cond, ...)  a bug in the caller: it broke a precondition of this code.
// The arguments after the condition are messages (string literals) and values (integral, enum,
// strong id, string, pointer, or anything with an integral raw()). On failure the process prints
// file:line, which kind failed, the condition as written and `name = value` for each value, then
// aborts. NDEBUG does not turn them off. The condition is evaluated once; the values only on failure.
// Untrusted input never reaches these: decoders and rules return error values and count a reason.
// Kept light (no iostream): formatting happens in sim/assert.cpp, on the failure path only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace strata::sim::detail {

enum class CheckKind : uint8_t { assertion, requirement };

// Where a failed check sits and what it says, as written in the source.
struct CheckSite {
  CheckKind kind;
  const char* file;
  int line;
  const char* condition;
  const char* names;  // the arguments after the condition, comma-separated ("" when none)
};

// One argument of a failed check, reduced to what sim/assert.cpp can print.
struct CheckValue {
  enum class Type : uint8_t { signed_int, unsigned_int, boolean, character, text, pointer };
  Type type = Type::pointer;
  int64_t signed_value = 0;
  uint64_t unsigned_value = 0;
  std::string_view text;
  const void* pointer = nullptr;
};

template <class T>
inline constexpr bool check_printable_dependent_false = false;

template <class T>
[[nodiscard]] CheckValue check_value(const T& value) {
  using U = std::remove_cvref_t<T>;
  CheckValue out;
  if constexpr (std::is_same_v<U, bool>) {
    out.type = CheckValue::Type::boolean;
    out.unsigned_value = value ? 1 : 0;
  } else if constexpr (std::is_same_v<U, char>) {
    out.type = CheckValue::Type::character;
    out.signed_value = value;
  } else if constexpr (std::is_enum_v<U>) {
    out = check_value(static_cast<std::underlying_type_t<U>>(value));
  } else if constexpr (std::is_integral_v<U> && std::is_signed_v<U>) {
    out.type = CheckValue::Type::signed_int;
    out.signed_value = static_cast<int64_t>(value);
  } else if constexpr (std::is_integral_v<U>) {
    out.type = CheckValue::Type::unsigned_int;
    out.unsigned_value = static_cast<uint64_t>(value);
  } else if constexpr (std::is_array_v<U> && std::is_same_v<std::remove_extent_t<U>, char>) {
    size_t size = 0;  // up to the terminator, never past the array
    while (size < std::extent_v<U> && value[size] != '\0') ++size;
    out.type = CheckValue::Type::text;
    out.text = std::string_view(value, size);
  } else if constexpr (std::is_same_v<U, const char*> || std::is_same_v<U, char*>) {
    out.type = CheckValue::Type::text;
    out.text = value == nullptr ? std::string_view("(null)") : std::string_view(value);
  } else if constexpr (std::is_convertible_v<const U&, std::string_view>) {
    out.type = CheckValue::Type::text;
    out.text = std::string_view(value);
  } else if constexpr (std::is_pointer_v<U> || std::is_null_pointer_v<U>) {
    out.type = CheckValue::Type::pointer;
    out.pointer = static_cast<const void*>(value);
  } else if constexpr (requires { requires std::is_integral_v<decltype(value.raw())>; }) {
    out = check_value(value.raw());
  } else {
    static_assert(check_printable_dependent_false<U>,
                  "STRATA_ASSERT/STRATA_REQUIRE print integral, enum, string, pointer or raw() values");
  }
  return out;
}

// Prints the failure (sim/assert.cpp) and aborts.
[[noreturn]] void check_failed(const CheckSite& site, const CheckValue* values, size_t count);

// Out of line and cold, so a check costs its caller one predictable branch and one call.
template <class... Values>
[[noreturn, gnu::cold, gnu::noinline]] void check_fail(const CheckSite& site, const Values&... values) {
  if constexpr (sizeof...(Values) == 0) {
    check_failed(site, nullptr, 0);
  } else {
    const CheckValue converted[] = {check_value(values)...};
    check_failed(site, converted, sizeof...(Values));
  }
}

}  // namespace strata::sim::detail

// The texts are made here, before the arguments are macro-expanded, so they read as written.
#define STRATA_CHECK_IMPL_(kind, cond_text, names_text, cond, ...)                                                \
  do {                                                                                                            \
    if (!static_cast<bool>(cond)) [[unlikely]] {                                                                  \
      ::strata::sim::detail::check_fail(::strata::sim::detail::CheckSite{kind, __FILE__, __LINE__, cond_text,     \
                                                                         names_text} __VA_OPT__(, ) __VA_ARGS__); \
    }                                                                                                             \
  } while (false)

// A bug here: an invariant of this code does not hold.
#define STRATA_ASSERT(cond, ...) \
  STRATA_CHECK_IMPL_(::strata::sim::detail::CheckKind::assertion, #cond, #__VA_ARGS__, cond __VA_OPT__(, ) __VA_ARGS__)
// A bug in the caller: a documented precondition was broken.
#define STRATA_REQUIRE(cond, ...)                                                        \
  STRATA_CHECK_IMPL_(::strata::sim::detail::CheckKind::requirement, #cond, #__VA_ARGS__, \
                     cond __VA_OPT__(, ) __VA_ARGS__)
