// sim/diff.cpp — flattens each world into (path, value) scalars and (path, array) spans with one
// visitor of the canonical walk, then compares the two flat forms by path.
#include "sim/diff.h"

#include <map>
#include <type_traits>

namespace strata::sim {
namespace {

struct Scalar {
  uint64_t value = 0;
  bool is_signed = false;
};
struct ArrayRef {
  const void* data = nullptr;
  size_t element_size = 0;
  size_t count = 0;
  int32_t chunk_x = -1;  // set for map layer arrays: elements are the chunk's cells, row-major
  int32_t chunk_y = -1;
};

class Flattener {
 public:
  std::map<std::string, Scalar> scalars;
  std::map<std::string, ArrayRef> arrays;
  std::vector<std::string> order;  // first-seen order of paths, for readable output

  void u16(const char* n, const uint16_t& v) { scalar(n, v, false); }
  void u32(const char* n, const uint32_t& v) { scalar(n, v, false); }
  void u64(const char* n, const uint64_t& v) { scalar(n, v, false); }
  void i32(const char* n, const int32_t& v) { scalar(n, static_cast<uint64_t>(static_cast<int64_t>(v)), true); }
  void fixed(const char* n, const Fixed& v) { i32(n, v.raw()); }
  template <class Id>
  void id(const char* n, const Id& v) {
    scalar(n, static_cast<uint64_t>(static_cast<std::underlying_type_t<Id>>(v)), false);
  }
  template <class E>
  void enumeration(const char* n, const E& v) {
    scalar(n, static_cast<uint64_t>(to_underlying(v)), false);
  }
  template <class A>
  void array(const char* n, const A& values) {
    const std::string p = path(n);
    order.push_back(p);
    arrays[p] = ArrayRef{values.data(), sizeof(typename A::value_type), values.size(), chunk_x_, chunk_y_};
  }
  template <class Vec, class Fn>
  void list(const char* n, const Vec& items, size_t, Fn&& each) {
    scalar((std::string(n) + ".count").c_str(), items.size(), false);
    for (const auto& item : items) {
      stack_.push_back(std::string(n) + "[" + item_key(item) + "]");
      each(item);
      stack_.pop_back();
    }
  }
  template <class Fn>
  void map(const char* n, const TileMap& m, int32_t, int32_t, Fn&& each) {
    for (size_t i = 0; i < m.chunks().size(); ++i) {
      chunk_x_ = static_cast<int32_t>(i) % m.chunks_x();
      chunk_y_ = static_cast<int32_t>(i) / m.chunks_x();
      stack_.push_back(std::string(n) + ".chunks[" + std::to_string(chunk_x_) + "," + std::to_string(chunk_y_) + "]");
      each(m.chunks()[i]);
      stack_.pop_back();
    }
    chunk_x_ = chunk_y_ = -1;
  }
  void begin(const char* n) { stack_.push_back(n); }
  void end() { stack_.pop_back(); }

 private:
  std::string path(const char* n) const {
    std::string p;
    for (const std::string& part : stack_) {
      p += part;
      p += '.';
    }
    return p + n;
  }
  void scalar(const char* n, uint64_t v, bool is_signed) {
    const std::string p = path(n);
    order.push_back(p);
    scalars[p] = Scalar{v, is_signed};
  }
  std::vector<std::string> stack_;
  int32_t chunk_x_ = -1;
  int32_t chunk_y_ = -1;
};

std::string show(const Scalar& s) {
  return s.is_signed ? std::to_string(static_cast<int64_t>(s.value)) : std::to_string(s.value);
}

uint64_t element(const ArrayRef& a, size_t i) {
  const auto* bytes = static_cast<const uint8_t*>(a.data) + i * a.element_size;
  switch (a.element_size) {
    case 1: return *bytes;
    case 2: return *reinterpret_cast<const uint16_t*>(bytes);
    case 4: return *reinterpret_cast<const uint32_t*>(bytes);
    default: return *reinterpret_cast<const uint64_t*>(bytes);
  }
}

class Collector {
 public:
  Collector(DiffResult& result, size_t max_lines) : result_(result), max_lines_(max_lines) {}
  void add(std::string line) {
    result_.total += 1;
    if (result_.lines.size() < max_lines_) result_.lines.push_back(std::move(line));
  }

 private:
  DiffResult& result_;
  size_t max_lines_;
};

void compare_arrays(const std::string& path, const ArrayRef& a, const ArrayRef& b, Collector& out) {
  if (a.count != b.count || a.element_size != b.element_size) {
    out.add(path + ": array shapes differ");
    return;
  }
  for (size_t i = 0; i < a.count; ++i) {
    const uint64_t va = element(a, i);
    const uint64_t vb = element(b, i);
    if (va == vb) continue;
    std::string where = path + "[" + std::to_string(i) + "]";
    if (a.chunk_x >= 0 && a.count == static_cast<size_t>(limits::chunk_cells)) {
      const auto lx = static_cast<int32_t>(i) & (limits::chunk_size - 1);
      const auto ly = static_cast<int32_t>(i) >> limits::chunk_shift;
      where = path + "[" + std::to_string(lx) + "," + std::to_string(ly) + "] (cell " +
              std::to_string(a.chunk_x * limits::chunk_size + lx) + "," +
              std::to_string(a.chunk_y * limits::chunk_size + ly) + ")";
    }
    out.add(where + ": " + std::to_string(va) + " != " + std::to_string(vb));
  }
}

}  // namespace

DiffResult diff_worlds(const World& a, const World& b, WalkScope scope, size_t max_lines) {
  Flattener fa;
  Flattener fb;
  walk_world(a, fa, scope);
  walk_world(b, fb, scope);
  DiffResult result;
  Collector out(result, max_lines);
  for (const std::string& path : fa.order) {
    if (auto sa = fa.scalars.find(path); sa != fa.scalars.end()) {
      auto sb = fb.scalars.find(path);
      if (sb == fb.scalars.end()) {
        out.add(path + ": " + show(sa->second) + " != (absent)");
      } else if (sa->second.value != sb->second.value) {
        out.add(path + ": " + show(sa->second) + " != " + show(sb->second));
      }
      continue;
    }
    auto aa = fa.arrays.find(path);
    auto ab = fb.arrays.find(path);
    if (ab == fb.arrays.end()) {
      out.add(path + ": (array) != (absent)");
    } else {
      compare_arrays(path, aa->second, ab->second, out);
    }
  }
  for (const std::string& path : fb.order) {
    if (fa.scalars.count(path) == 0 && fa.arrays.count(path) == 0) {
      auto sb = fb.scalars.find(path);
      out.add(path + ": (absent) != " + (sb != fb.scalars.end() ? show(sb->second) : std::string("(array)")));
    }
  }
  return result;
}

}  // namespace strata::sim
