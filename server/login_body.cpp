// server/login_body.cpp — see login_body.h. A single forward pass over the bytes (RFC 8259 grammar,
// restricted to one flat object of strings); every loop is bounded by the input size.
#include "server/login_body.h"

#include <cstdint>

namespace strata::server {
namespace {

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  void skip_space() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r'))
      ++at_;
  }
  [[nodiscard]] bool done() const { return at_ >= text_.size(); }
  [[nodiscard]] bool take(char c) {
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  [[nodiscard]] bool peek(char c) const { return at_ < text_.size() && text_[at_] == c; }

  // A JSON string (the opening quote next), unescaped into `out`; the error text on failure.
  [[nodiscard]] const char* string(std::string& out) {
    if (!take('"')) return "expected a string";
    out.clear();
    while (true) {
      if (at_ >= text_.size()) return "unterminated string";
      const auto byte = static_cast<uint8_t>(text_[at_]);
      if (byte == '"') {
        ++at_;
        return nullptr;
      }
      if (out.size() >= login_field_bytes_max) return "a value is too long";
      if (byte < 0x20) return "a control character in a string";
      if (byte == '\\') {
        if (const char* error = escape(out)) return error;
        continue;
      }
      if (byte < 0x80) {
        out.push_back(static_cast<char>(byte));
        ++at_;
        continue;
      }
      if (const char* error = utf8(out)) return error;
    }
  }

 private:
  // One UTF-8 sequence of 2..4 bytes (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF).
  const char* utf8(std::string& out) {
    const auto lead = static_cast<uint8_t>(text_[at_]);
    size_t length = 0;
    uint32_t code = 0;
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2, code = lead & 0x1fu;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3, code = lead & 0x0fu;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4, code = lead & 0x07u;
    } else {
      return "invalid UTF-8";
    }
    if (text_.size() - at_ < length) return "invalid UTF-8";
    for (size_t i = 1; i < length; ++i) {
      const auto next = static_cast<uint8_t>(text_[at_ + i]);
      if ((next & 0xc0u) != 0x80u) return "invalid UTF-8";
      code = (code << 6) | (next & 0x3fu);
    }
    const uint32_t min = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return "invalid UTF-8";
    out.append(text_.substr(at_, length));
    at_ += length;
    return nullptr;
  }

  bool hex4(uint32_t& value) {
    if (text_.size() - at_ < 4) return false;
    value = 0;
    for (size_t i = 0; i < 4; ++i) {
      const char c = text_[at_ + i];
      const int digit = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
      if (digit < 0) return false;
      value = (value << 4) | static_cast<uint32_t>(digit);
    }
    at_ += 4;
    return true;
  }

  static void append_utf8(uint32_t code, std::string& out) {
    if (code < 0x80) {
      out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (code >> 6)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
    } else if (code < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (code >> 12)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (code >> 18)));
      out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
    }
  }

  // An escape (the backslash next). \u0000 is refused: no NUL ever reaches a name or a password.
  const char* escape(std::string& out) {
    ++at_;
    if (at_ >= text_.size()) return "unterminated string";
    const char c = text_[at_++];
    switch (c) {
      case '"': out.push_back('"'); return nullptr;
      case '\\': out.push_back('\\'); return nullptr;
      case '/': out.push_back('/'); return nullptr;
      case 'b': out.push_back('\b'); return nullptr;
      case 'f': out.push_back('\f'); return nullptr;
      case 'n': out.push_back('\n'); return nullptr;
      case 'r': out.push_back('\r'); return nullptr;
      case 't': out.push_back('\t'); return nullptr;
      case 'u': break;
      default: return "an unknown escape";
    }
    uint32_t code = 0;
    if (!hex4(code)) return "a bad \\u escape";
    if (code >= 0xdc00 && code <= 0xdfff) return "a lone low surrogate";
    if (code >= 0xd800 && code <= 0xdbff) {
      uint32_t low = 0;
      if (!take('\\') || !take('u') || !hex4(low) || low < 0xdc00 || low > 0xdfff) return "a lone high surrogate";
      code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
    }
    if (code == 0) return "a NUL character";
    append_utf8(code, out);
    return nullptr;
  }

  std::string_view text_;
  size_t at_ = 0;
};

std::optional<std::string>* member(LoginBody& body, const std::string& key) {
  if (key == "name") return &body.name;
  if (key == "password") return &body.password;
  if (key == "ticket") return &body.ticket;
  if (key == "role") return &body.role;
  return nullptr;
}

}  // namespace

LoginBodyResult parse_login_body(std::string_view text) {
  LoginBodyResult result;
  if (text.size() > login_body_bytes_max) {
    result.error = "the body is too long";
    return result;
  }
  Reader reader(text);
  LoginBody body;
  reader.skip_space();
  if (!reader.take('{')) {
    result.error = "the body is not a JSON object";
    return result;
  }
  reader.skip_space();
  size_t members = 0;
  std::string key;
  std::string value;
  if (!reader.take('}')) {
    while (true) {
      reader.skip_space();
      if (const char* error = reader.string(key)) {
        result.error = error;
        return result;
      }
      reader.skip_space();
      if (!reader.take(':')) {
        result.error = "expected ':' after a member name";
        return result;
      }
      reader.skip_space();
      if (!reader.peek('"')) {
        result.error = "member values must be strings";
        return result;
      }
      if (const char* error = reader.string(value)) {
        result.error = error;
        return result;
      }
      std::optional<std::string>* slot = member(body, key);
      if (slot == nullptr) {
        result.error = "an unknown member (expected name, password, ticket, role)";
        return result;
      }
      if (slot->has_value() || ++members > login_members_max) {
        result.error = "a repeated member";
        return result;
      }
      *slot = std::move(value);
      value = std::string();
      reader.skip_space();
      if (reader.take('}')) break;
      if (!reader.take(',')) {
        result.error = "expected ',' or '}'";
        return result;
      }
    }
  }
  reader.skip_space();
  if (!reader.done()) {
    result.error = "bytes after the JSON object";
    return result;
  }
  result.body = std::move(body);
  return result;
}

}  // namespace strata::server
