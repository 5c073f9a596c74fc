// sim/assert.cpp — the one place in sim/ allowed to write anything: a failed STRATA_ASSERT or
// STRATA_REQUIRE, printed to stderr in one write on the way to abort.
#include "sim/assert.h"

#include <cstdio>
#include <cstdlib>

namespace strata::sim::detail {
namespace {

constexpr size_t line_bytes_max = 4096;
constexpr size_t text_value_bytes_max = 256;  // a longer string value is cut, marked "..."

// Appends to a fixed buffer; what does not fit is dropped (the line is cut, never overrun).
class Line {
 public:
  void add(std::string_view text) {
    for (const char c : text) {
      if (used_ + 1 >= line_bytes_max) return;
      bytes_[used_++] = c;
    }
  }
  template <class... Args>
  void add_format(const char* format, Args... args) {
    char piece[64];
    const int n = std::snprintf(piece, sizeof piece, format, args...);
    if (n > 0)
      add(std::string_view(piece, static_cast<size_t>(n) < sizeof piece ? static_cast<size_t>(n) : sizeof piece - 1));
  }
  void write() {
    bytes_[used_++] = '\n';
    std::fwrite(bytes_, 1, used_, stderr);
    std::fflush(stderr);
  }

 private:
  char bytes_[line_bytes_max];
  size_t used_ = 0;
};

// The next argument text of `names` (split at top-level commas, outside parentheses and quotes),
// trimmed; advances `names` past it.
std::string_view next_name(std::string_view& names) {
  size_t depth = 0;
  size_t i = 0;
  char quote = 0;
  for (; i < names.size(); ++i) {
    const char c = names[i];
    if (quote != 0) {
      if (c == '\\') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (c == ',' && depth == 0) {
      break;
    }
  }
  std::string_view name = names.substr(0, i);
  names.remove_prefix(i < names.size() ? i + 1 : names.size());
  while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  return name;
}

void add_text(Line& line, std::string_view text) {
  const bool cut = text.size() > text_value_bytes_max;
  for (const char c : text.substr(0, text_value_bytes_max)) {
    const bool printable = c >= 0x20 && c < 0x7f;
    line.add(printable ? std::string_view(&c, 1) : std::string_view("?"));
  }
  if (cut) line.add("...");
}

void add_value(Line& line, const CheckValue& value) {
  switch (value.type) {
    case CheckValue::Type::signed_int: line.add_format("%lld", static_cast<long long>(value.signed_value)); break;
    case CheckValue::Type::unsigned_int:
      line.add_format("%llu", static_cast<unsigned long long>(value.unsigned_value));
      break;
    case CheckValue::Type::boolean: line.add(value.unsigned_value != 0 ? "true" : "false"); break;
    case CheckValue::Type::character:
      if (value.signed_value >= 0x20 && value.signed_value < 0x7f) {
        line.add_format("'%c'", static_cast<int>(value.signed_value));
      } else {
        line.add_format("%lld", static_cast<long long>(value.signed_value));
      }
      break;
    case CheckValue::Type::text:
      line.add("\"");
      add_text(line, value.text);
      line.add("\"");
      break;
    case CheckValue::Type::pointer: line.add_format("%p", value.pointer); break;
  }
}

}  // namespace

void check_failed(const CheckSite& site, const CheckValue* values, size_t count) {
  Line line;
  line.add("strata: ");
  line.add(site.file);
  line.add_format(":%d: ", site.line);
  line.add(site.kind == CheckKind::assertion ? "STRATA_ASSERT failed (a bug here): "
                                             : "STRATA_REQUIRE failed (a bug in the caller): ");
  line.add(site.condition);
  std::string_view names = site.names;
  for (size_t i = 0; i < count; ++i) {
    line.add(i == 0 ? "; " : ", ");
    const std::string_view name = next_name(names);
    if (!name.empty() && name.front() == '"' && values[i].type == CheckValue::Type::text) {
      add_text(line, values[i].text);  // a message: printed as it reads
      continue;
    }
    line.add(name.empty() ? std::string_view("?") : name);
    line.add(" = ");
    add_value(line, values[i]);
  }
  line.write();
  std::abort();
}

}  // namespace strata::sim::detail
