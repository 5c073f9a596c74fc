// net/address.cpp: address helpers (formatting, fixed 19-byte wire form, hashing).
#include "net/address.h"

#include <cstring>

namespace strata::net {

Address make_ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  Address address;
  address.family = AddressFamily::ipv4;
  address.ip[0] = a;
  address.ip[1] = b;
  address.ip[2] = c;
  address.ip[3] = d;
  address.port = port;
  return address;
}

std::string to_string(const Address& address) {
  std::string out;
  if (address.family == AddressFamily::ipv4) {
    for (int i = 0; i < 4; ++i) {
      if (i) out += '.';
      out += std::to_string(address.ip[i]);
    }
  } else if (address.family == AddressFamily::ipv6) {
    static const char* hex = "0123456789abcdef";
    out += '[';
    for (int i = 0; i < 16; ++i) {
      if (i && i % 2 == 0) out += ':';
      out += hex[address.ip[i] >> 4];
      out += hex[address.ip[i] & 15];
    }
    out += ']';
  } else {
    return "none";
  }
  out += ':';
  out += std::to_string(address.port);
  return out;
}

void write_address(const Address& address, uint8_t* out) {
  out[0] = static_cast<uint8_t>(address.family);
  std::memcpy(out + 1, address.ip.data(), 16);
  out[17] = static_cast<uint8_t>(address.port & 0xff);
  out[18] = static_cast<uint8_t>(address.port >> 8);
}

bool read_address(const uint8_t* in, Address& out) {
  if (in[0] != 4 && in[0] != 6) return false;
  out.family = static_cast<AddressFamily>(in[0]);
  std::memcpy(out.ip.data(), in + 1, 16);
  if (out.family == AddressFamily::ipv4) {
    for (int i = 4; i < 16; ++i) {
      if (out.ip[i] != 0) return false;
    }
  }
  out.port = static_cast<uint16_t>(in[17] | (in[18] << 8));
  return true;
}

size_t AddressHash::operator()(const Address& a) const noexcept {
  // FNV-1a over the 19 wire bytes: stable and cheap; the table is bounded so collisions only cost time.
  uint8_t bytes[address_wire_size];
  write_address(a, bytes);
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : bytes) {
    h ^= b;
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h);
}

}  // namespace strata::net
