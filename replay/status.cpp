// replay/status.cpp — see status.h.
#include "replay/status.h"

namespace strata::replay {

const char* name(Code code) {
  switch (code) {
    case Code::ok: return "ok";
    case Code::not_found: return "not found";
    case Code::damaged: return "damaged";
    case Code::rules_version: return "rules version not implemented";
    case Code::unsupported: return "unsupported version";
    case Code::hash_mismatch: return "hash mismatch";
    case Code::io: return "I/O error";
    case Code::invalid_argument: return "invalid argument";
    case Code::count: break;
  }
  return "invalid";
}

int exit_code(Code code) {
  switch (code) {
    case Code::ok: return 0;
    case Code::not_found: return 2;
    case Code::damaged: return 3;
    case Code::rules_version: return 4;
    case Code::unsupported: return 5;
    case Code::hash_mismatch: return 6;
    case Code::io: return 7;
    case Code::invalid_argument: return 8;
    case Code::count: break;
  }
  return 9;
}

std::string Status::describe() const {
  std::string out = name(code);
  if (byte_offset) out += " at byte " + std::to_string(*byte_offset);
  if (tick) out += (byte_offset ? " (tick " : " at tick ") + std::to_string(*tick) + (byte_offset ? ")" : "");
  if (!message.empty()) out += ": " + message;
  return out;
}

}  // namespace strata::replay
