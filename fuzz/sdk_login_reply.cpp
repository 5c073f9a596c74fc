// fuzz/sdk_login_reply.cpp — libFuzzer target for the SDK's login reply reader (net/sdk/login_client.h):
// any bytes a server sends back to POST /api/login, fed as they could arrive (a prefix at a time),
// must be framed or refused within login_response_bytes_max, and a complete reply parsed or refused
// with a reason: never a crash, never a read past the response.
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/sdk/login_client.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) { return sodium_init() < 0 ? 1 : 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::sdk;
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  // As the client reads: the frame is looked at after every chunk of 512 bytes.
  ResponseFrame frame;
  size_t seen = 0;
  while (seen < all.size()) {
    seen = std::min(all.size(), seen + 512);
    frame = frame_response(all.substr(0, seen));
    if (frame.complete || frame.failed) break;
  }
  if (frame.failed && frame.error.empty()) std::abort();  // a refusal always says why
  if (!frame.complete) return 0;
  if (frame.headers_bytes + frame.body_bytes > seen || frame.body_bytes > login_response_bytes_max) std::abort();
  std::string error;
  const auto peer = size % 2 == 0 ? std::optional<std::array<uint8_t, 4>>{{127, 0, 0, 1}} : std::nullopt;
  const auto reply = parse_login_reply(all.substr(0, frame.headers_bytes),
                                       all.substr(frame.headers_bytes, frame.body_bytes), peer, error);
  if (!reply && error.empty()) std::abort();
  if (reply && reply->tcp_port != 0 && !peer) std::abort();  // an endpoint only on the peer's address
  return 0;
}
