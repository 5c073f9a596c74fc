// fuzz/net_token_fuzz.cpp: the public connect token reader and the private token opener on
// arbitrary bytes (the client parses tokens from HTTP; the server opens what requests carry).
#include <cstddef>
#include <cstdint>

#include "net/token.h"

using namespace strata::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  if (auto token = read_connect_token(in)) {
    if (token->server_addresses.empty() || token->server_addresses.size() > server_addresses_max) __builtin_trap();
    Key key{};
    ConnectTokenPrivate out;
    (void)open_private_token(token->private_data, token->nonce, token->protocol_id, token->expire_unix_s, key, out);
  }
  return 0;
}
