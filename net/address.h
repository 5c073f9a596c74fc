// net/address.h: a transport address (IPv4 or IPv6 + port) as plain bytes, so the protocol state
// machine stays free of sockets. Transports convert to and from their own endpoint types.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

namespace strata::net {

enum class AddressFamily : uint8_t { none = 0, ipv4 = 4, ipv6 = 6 };

struct Address {
  AddressFamily family = AddressFamily::none;
  std::array<uint8_t, 16> ip{};  // IPv4 uses the first 4 bytes, the rest stay zero
  uint16_t port = 0;

  friend bool operator==(const Address&, const Address&) = default;
};

// Wire form (19 bytes): family u8, ip 16 bytes, port u16 little endian.
inline constexpr size_t address_wire_size = 19;

[[nodiscard]] Address make_ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port);
[[nodiscard]] std::string to_string(const Address& address);
void write_address(const Address& address, uint8_t* out);          // address_wire_size bytes
[[nodiscard]] bool read_address(const uint8_t* in, Address& out);  // false if malformed

struct AddressHash {
  size_t operator()(const Address& a) const noexcept;
};

}  // namespace strata::net
