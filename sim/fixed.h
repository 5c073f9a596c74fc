// sim/fixed.h — fixed-point scalar (1/256 tile, 32-bit signed). There is deliberately no conversion
// from or to floating point: constructing a Fixed from a float or double does not compile.
#pragma once

#include <compare>
#include <concepts>
#include <cstdint>

#include "sim/limits.h"

namespace strata::sim {

class Fixed {
 public:
  constexpr Fixed() = default;
  template <std::floating_point F>
  Fixed(F) = delete;  // no floats in the simulation, ever

  [[nodiscard]] static constexpr Fixed from_raw(int32_t raw) { return Fixed(raw); }
  [[nodiscard]] static constexpr Fixed from_tiles(int32_t tiles) { return Fixed(tiles * limits::fixed_one); }
  [[nodiscard]] constexpr int32_t raw() const { return raw_; }
  // The tile (cell) coordinate containing this position; arithmetic shift rounds towards -inf (C++20).
  [[nodiscard]] constexpr int32_t tile() const { return raw_ >> limits::fixed_shift; }

  constexpr Fixed operator+(Fixed other) const { return Fixed(raw_ + other.raw_); }
  constexpr Fixed operator-(Fixed other) const { return Fixed(raw_ - other.raw_); }
  constexpr Fixed operator-() const { return Fixed(-raw_); }
  constexpr Fixed& operator+=(Fixed other) {
    raw_ += other.raw_;
    return *this;
  }
  constexpr auto operator<=>(const Fixed&) const = default;

 private:
  constexpr explicit Fixed(int32_t raw) : raw_(raw) {}
  int32_t raw_ = 0;
};

struct Vec2 {
  Fixed x;
  Fixed y;
  constexpr auto operator<=>(const Vec2&) const = default;
};

// A cell (tile) coordinate on the map.
struct CellPos {
  int32_t x = 0;
  int32_t y = 0;
  constexpr auto operator<=>(const CellPos&) const = default;
};

// Centre of a cell, in fixed units.
[[nodiscard]] constexpr Vec2 cell_centre(CellPos cell) {
  return Vec2{Fixed::from_raw(cell.x * limits::fixed_one + limits::fixed_one / 2),
              Fixed::from_raw(cell.y * limits::fixed_one + limits::fixed_one / 2)};
}

}  // namespace strata::sim
