// net/wire.h: bounded little-endian byte writer and reader for the hand-written wire formats.
// Invariant: neither ever touches memory outside its span; an overrun only clears ok().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace strata::net {

class ByteWriter {
 public:
  explicit ByteWriter(std::span<uint8_t> out) : out_(out) {}
  void u8(uint8_t v) { put(&v, 1); }
  void u16(uint16_t v) {
    const uint8_t b[2] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)};
    put(b, 2);
  }
  void u32(uint32_t v) {
    uint8_t b[4];
    for (int i = 0; i < 4; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
    put(b, 4);
  }
  void u64(uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
    put(b, 8);
  }
  void bytes(std::span<const uint8_t> v) { put(v.data(), v.size()); }
  void zeros(size_t n) {
    if (!reserve(n)) return;
    std::memset(out_.data() + pos_, 0, n);
    pos_ += n;
  }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] size_t size() const { return pos_; }
  [[nodiscard]] size_t remaining() const { return out_.size() - pos_; }

 private:
  bool reserve(size_t n) {
    if (!ok_ || n > out_.size() - pos_) {
      ok_ = false;
      return false;
    }
    return true;
  }
  void put(const uint8_t* p, size_t n) {
    if (!reserve(n)) return;
    if (n) std::memcpy(out_.data() + pos_, p, n);
    pos_ += n;
  }
  std::span<uint8_t> out_;
  size_t pos_ = 0;
  bool ok_ = true;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> in) : in_(in) {}
  uint8_t u8() {
    uint8_t v = 0;
    get(&v, 1);
    return v;
  }
  uint16_t u16() {
    uint8_t b[2] = {};
    get(b, 2);
    return static_cast<uint16_t>(b[0] | (b[1] << 8));
  }
  uint32_t u32() {
    uint8_t b[4] = {};
    get(b, 4);
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(b[i]) << (8 * i);
    return v;
  }
  uint64_t u64() {
    uint8_t b[8] = {};
    get(b, 8);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(b[i]) << (8 * i);
    return v;
  }
  // A view of the next n bytes (empty and !ok() if fewer remain).
  std::span<const uint8_t> bytes(size_t n) {
    if (!ok_ || n > in_.size() - pos_) {
      ok_ = false;
      return {};
    }
    auto v = in_.subspan(pos_, n);
    pos_ += n;
    return v;
  }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }
  [[nodiscard]] size_t position() const { return pos_; }

 private:
  void get(uint8_t* p, size_t n) {
    if (!ok_ || n > in_.size() - pos_) {
      ok_ = false;
      return;
    }
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
  }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace strata::net
