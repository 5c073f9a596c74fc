// tools/replay/world_json.cpp — see world_json.h. One visitor of sim::walk_world that writes JSON
// and, at the same time, the dotted path of every field (for --field).
#include "tools/replay/world_json.h"

#include <type_traits>

namespace strata::tools {
namespace {

// Concatenation by append: GCC 12 -O3 reports false -Wrestrict on chains of operator+.
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) out.append(part);
  return out;
}

class JsonWriter {
 public:
  explicit JsonWriter(const std::string* prefix) : prefix_(prefix) {}
  std::string out;

  void u16(const char* n, const uint16_t& v) { scalar(n, std::to_string(v)); }
  void u32(const char* n, const uint32_t& v) { scalar(n, std::to_string(v)); }
  void u64(const char* n, const uint64_t& v) { scalar(n, std::to_string(v)); }
  void i32(const char* n, const int32_t& v) { scalar(n, std::to_string(v)); }
  void fixed(const char* n, const sim::Fixed& v) { scalar(n, std::to_string(v.raw())); }
  template <class Id>
  void id(const char* n, const Id& v) {
    scalar(n, std::to_string(static_cast<std::underlying_type_t<Id>>(v)));
  }
  template <class E>
  void enumeration(const char* n, const E& v) {
    scalar(n, std::to_string(static_cast<unsigned>(sim::to_underlying(v))));
  }
  template <class A>
  void array(const char* n, const A& values) {
    std::string text = "[";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) text.push_back(',');
      text.append(std::to_string(values[i]));
    }
    text.push_back(']');
    scalar(n, text);
  }
  template <class Vec, class Fn>
  void list(const char* n, const Vec& items, size_t, Fn&& each) {
    if (prefix_ != nullptr) scalar(cat({n, ".count"}).c_str(), std::to_string(items.size()));
    key(n);
    open('[');
    for (const auto& item : items) {
      path_.push_back(cat({n, "[", sim::item_key(item), "]"}));
      element();
      open('{');
      each(item);
      close('}');
      path_.pop_back();
    }
    close(']');
  }
  template <class Fn>
  void map(const char* n, const sim::TileMap& m, int32_t, int32_t, Fn&& each) {
    key(n);
    open('[');
    for (size_t i = 0; i < m.chunks().size(); ++i) {
      const auto cx = static_cast<int32_t>(i) % m.chunks_x();
      const auto cy = static_cast<int32_t>(i) / m.chunks_x();
      const std::string x = std::to_string(cx);
      const std::string y = std::to_string(cy);
      path_.push_back(cat({n, ".chunks[", x, ",", y, "]"}));
      element();
      open('{');
      scalar("chunk", cat({"[", x, ",", y, "]"}));
      each(m.chunks()[i]);
      close('}');
      path_.pop_back();
    }
    close(']');
  }
  void begin(const char* n) {
    key(n);
    open('{');
    path_.push_back(n);
  }
  void end() {
    path_.pop_back();
    close('}');
  }

 private:
  std::string path(const char* n) const {
    std::string p;
    for (const auto& part : path_) {
      p.append(part);
      p.push_back('.');
    }
    p.append(n);
    return p;
  }
  void scalar(const char* n, const std::string& value) {
    if (prefix_ != nullptr) {
      const std::string p = path(n);
      if (p.compare(0, prefix_->size(), *prefix_) == 0) out.append(cat({p, " = ", value, "\n"}));
      return;
    }
    key(n);
    out += value;
    need_comma_ = true;
  }
  void key(const char* n) {
    if (prefix_ != nullptr) return;
    element();
    out.append(cat({"\"", n, "\":"}));
  }
  void element() {
    if (prefix_ != nullptr) return;
    if (need_comma_) out += ",";
    need_comma_ = false;
  }
  void open(char c) {
    if (prefix_ != nullptr) return;
    out += c;
    need_comma_ = false;
  }
  void close(char c) {
    if (prefix_ != nullptr) return;
    out += c;
    need_comma_ = true;
  }
  const std::string* prefix_;  // set: emit "path = value" lines under it instead of JSON
  std::vector<std::string> path_;
  bool need_comma_ = false;  // after any value the next key or element needs a comma
};

}  // namespace

std::string world_json(const sim::World& world, sim::WalkScope scope) {
  JsonWriter writer(nullptr);
  writer.out.push_back('{');
  sim::walk_world(world, writer, scope);
  writer.out.push_back('}');
  writer.out.push_back('\n');
  return writer.out;
}

std::string world_fields(const sim::World& world, const std::string& prefix) {
  JsonWriter writer(&prefix);
  sim::walk_world(world, writer, sim::WalkScope::full);
  return writer.out;
}

}  // namespace strata::tools
