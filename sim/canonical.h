// sim/canonical.h — the canonical byte form of the walk: every scalar little-endian at its declared
// width, a list as a u32 count then its items, arrays element by element. The hash is XXH3-64 of
// exactly these bytes, and the state codec writes and reads exactly these bytes, so the hash of a
// decoded state is the hash of the encoded one by construction.
#pragma once

#include <bit>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include "sim/walk.h"

namespace strata::sim::canonical {

inline constexpr bool host_is_little_endian = std::endian::native == std::endian::little;

template <class T>
[[nodiscard]] constexpr T byte_swap(T value) {
  T swapped = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    swapped = static_cast<T>((swapped << 8U) | (value & 0xFFU));
    value = static_cast<T>(value >> 8U);
  }
  return swapped;
}

// Counts the bytes of a walk without writing them; `fixed_size` is false when the walk holds a list
// or a map (their length depends on the state).
struct ByteCounter {
  size_t bytes = 0;
  bool fixed_size = true;
  void u16(const char*, const uint16_t&) { bytes += 2; }
  void u32(const char*, const uint32_t&) { bytes += 4; }
  void u64(const char*, const uint64_t&) { bytes += 8; }
  void i32(const char*, const int32_t&) { bytes += 4; }
  void fixed(const char*, const Fixed&) { bytes += 4; }
  template <class Id>
  void id(const char*, const Id&) {
    bytes += sizeof(std::underlying_type_t<Id>);
  }
  template <class E>
  void enumeration(const char*, const E&) {
    bytes += sizeof(std::underlying_type_t<E>);
  }
  template <class A>
  void array(const char*, const A& values) {
    bytes += sizeof(typename A::value_type) * values.size();
  }
  template <class Vec, class Fn>
  void list(const char*, const Vec&, size_t, Fn&&) {
    fixed_size = false;
  }
  template <class Fn>
  void map(const char*, const TileMap&, int32_t, int32_t, Fn&&) {
    fixed_size = false;
  }
  void begin(const char*) {}
  void end() {}
};

// Writes fields at a raw pointer the caller has made room behind (Writer's reserved path).
struct RawSink {
  uint8_t* cursor;
  void put(const void* data, size_t size) {
    std::memcpy(cursor, data, size);
    cursor += size;
  }
};

// Writes the walk into a Sink that has put(const void*, size_t). A Sink that can also lend room
// (uint8_t* reserve(size_t n): n writable bytes; commit(uint8_t* end): they were written up to end)
// gets a list's items of fixed size (players, NPCs, ghosts) written straight into it, one room
// check per item instead of one per field: most of the quick hash's time was those checks.
template <class Sink>
class Writer {
 public:
  explicit Writer(Sink& sink) : sink_(sink) {}

  void u16(const char*, const uint16_t& value) { put(value); }
  void u32(const char*, const uint32_t& value) { put(value); }
  void u64(const char*, const uint64_t& value) { put(value); }
  void i32(const char*, const int32_t& value) { put(static_cast<uint32_t>(value)); }
  void fixed(const char*, const Fixed& value) { put(static_cast<uint32_t>(value.raw())); }
  template <class Id>
  void id(const char*, const Id& value) {
    put(static_cast<std::underlying_type_t<Id>>(value));
  }
  template <class E>
  void enumeration(const char*, const E& value) {
    put(static_cast<std::underlying_type_t<E>>(value));
  }
  template <class A>
  void array(const char*, const A& values) {
    using T = typename A::value_type;
    static_assert(std::is_unsigned_v<T>);
    if constexpr (host_is_little_endian) {
      sink_.put(values.data(), sizeof(T) * values.size());  // no padding inside std::array<unsigned>
    } else {
      for (const T& value : values) put(value);
    }
  }
  template <class Vec, class Fn>
  void list(const char*, const Vec& items, size_t max, Fn&& each) {
    STRATA_ASSERT(items.size() <= max, "list over its limit in the state");
    put(static_cast<uint32_t>(items.size()));
    if constexpr (requires(Sink & s, uint8_t * p) {
                    { s.reserve(size_t{}) } -> std::same_as<uint8_t*>;
                    s.commit(p);
                  }) {
      if (!items.empty() && write_reserved(items)) return;
    }
    for (const auto& item : items) each(item);
  }
  template <class Fn>
  void map(const char*, const TileMap& map, int32_t chunks_x, int32_t chunks_y, Fn&& each) {
    STRATA_ASSERT(map.chunks_x() == chunks_x && map.chunks_y() == chunks_y, "map size differs from params");
    for (const Chunk& chunk : map.chunks()) each(chunk);
  }
  void begin(const char*) {}
  void end() {}

 private:
  template <class T>
  void put(T value) {
    static_assert(std::is_unsigned_v<T>);
    if constexpr (!host_is_little_endian) value = byte_swap(value);
    sink_.put(&value, sizeof(T));
  }
  // The items through walk_item (the walk their list's `each` runs) into room the sink lends, when
  // they have a fixed size it can lend. False (nothing written) otherwise. Flattened: with the item
  // walk inlined, the RawSink's cursor stays in a register (out of line, every byte stored might
  // alias it, and it went back to memory around each field).
  template <class Vec>
  [[gnu::flatten]] bool write_reserved(const Vec& items) {
    ByteCounter counter;
    walk_detail::walk_item(counter, items.front());
    if (!counter.fixed_size || counter.bytes > Sink::reserve_bytes_max) return false;
    for (const auto& item : items) {
      uint8_t* const room = sink_.reserve(counter.bytes);
      RawSink raw{room};
      Writer<RawSink> item_writer(raw);
      walk_detail::walk_item(item_writer, item);
      STRATA_ASSERT(raw.cursor == room + counter.bytes, "list item walked to another size than counted");
      sink_.commit(raw.cursor);
    }
    return true;
  }
  Sink& sink_;
};

// Reads the walk back from untrusted bytes. Never asserts on input: the first problem is recorded
// (what, and at which byte) and every later read is a no-op.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  [[nodiscard]] bool ok() const { return error_ == nullptr; }
  [[nodiscard]] const char* error() const { return error_; }
  [[nodiscard]] size_t error_offset() const { return error_offset_; }
  [[nodiscard]] size_t offset() const { return offset_; }

  void u16(const char*, uint16_t& value) { value = get<uint16_t>(); }
  void u32(const char*, uint32_t& value) { value = get<uint32_t>(); }
  void u64(const char*, uint64_t& value) { value = get<uint64_t>(); }
  void i32(const char*, int32_t& value) { value = static_cast<int32_t>(get<uint32_t>()); }
  void fixed(const char*, Fixed& value) { value = Fixed::from_raw(static_cast<int32_t>(get<uint32_t>())); }
  template <class Id>
  void id(const char*, Id& value) {
    value = static_cast<Id>(get<std::underlying_type_t<Id>>());
  }
  template <class E>
  void enumeration(const char*, E& value) {
    const auto raw_value = get<std::underlying_type_t<E>>();
    if (raw_value >= to_underlying(E::count)) fail("enum value out of range");
    value = ok() ? static_cast<E>(raw_value) : E{};
  }
  template <class A>
  void array(const char*, A& values) {
    using T = typename A::value_type;
    static_assert(std::is_unsigned_v<T>);
    if (!need(sizeof(T) * values.size())) return;
    if constexpr (host_is_little_endian) {
      std::memcpy(values.data(), bytes_.data() + offset_, sizeof(T) * values.size());
      offset_ += sizeof(T) * values.size();
    } else {
      for (T& value : values) value = get<T>();
    }
  }
  template <class Vec, class Fn>
  void list(const char*, Vec& items, size_t max, Fn&& each) {
    const uint32_t count = get<uint32_t>();
    if (count > max) fail("list longer than its limit");
    if (!ok()) return;
    items.clear();
    items.resize(count);
    for (auto& item : items) {
      each(item);
      if (!ok()) return;
    }
  }
  template <class Fn>
  void map(const char*, TileMap& map, int32_t chunks_x, int32_t chunks_y, Fn&& each) {
    if (!ok()) return;
    if (chunks_x < 1 || chunks_y < 1 || chunks_x > limits::map_chunks_per_axis_max ||
        chunks_y > limits::map_chunks_per_axis_max) {
      fail("map size out of range");
      return;
    }
    // Every chunk is a fixed number of bytes: refuse before allocating when they are not there.
    const size_t chunk_bytes = Chunk::canonical_bytes;
    if (!need(chunk_bytes * static_cast<size_t>(chunks_x) * static_cast<size_t>(chunks_y))) return;
    map = TileMap(chunks_x, chunks_y);
    for (Chunk& chunk : map.chunks()) {
      each(chunk);
      if (!ok()) return;
    }
  }
  void begin(const char*) {}
  void end() {}

 private:
  void fail(const char* what) {
    if (error_ == nullptr) {
      error_ = what;
      error_offset_ = offset_;
    }
  }
  bool need(size_t n) {
    if (!ok()) return false;
    if (bytes_.size() - offset_ < n) {
      fail("truncated");
      return false;
    }
    return true;
  }
  template <class T>
  T get() {
    if (!need(sizeof(T))) return T{};
    T value;
    std::memcpy(&value, bytes_.data() + offset_, sizeof(T));
    offset_ += sizeof(T);
    if constexpr (!host_is_little_endian) value = byte_swap(value);
    return value;
  }

  std::span<const uint8_t> bytes_;
  size_t offset_ = 0;
  const char* error_ = nullptr;
  size_t error_offset_ = 0;
};

}  // namespace strata::sim::canonical
