// replay/status.h — what went wrong with a log, bundle or replay, precisely: a code (each maps to a
// distinct exit code of the CLIs), a message, and where (byte offset in a file, tick) when known.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace strata::replay {

enum class Code : uint8_t {
  ok,
  not_found,         // no such file or directory
  damaged,           // a record/frame failed its checksum or decoding, or the sequence is broken
  rules_version,     // recorded with sim rules this build does not implement
  unsupported,       // other format/schema version this build does not read
  hash_mismatch,     // replay diverged from a recorded hash
  io,                // the OS or RocksDB refused an operation
  invalid_argument,  // the caller asked for something the log cannot give (tick out of range...)
  count
};

struct Status {
  Code code = Code::ok;
  std::string message;
  std::optional<uint64_t> byte_offset;  // where in the file
  std::optional<uint64_t> tick;         // which tick

  [[nodiscard]] bool ok() const { return code == Code::ok; }
  [[nodiscard]] static Status error(Code code, std::string message, std::optional<uint64_t> tick = std::nullopt,
                                    std::optional<uint64_t> byte_offset = std::nullopt) {
    return Status{code, std::move(message), byte_offset, tick};
  }
  // "damaged at byte 1234 (tick 56): frame checksum mismatch"
  [[nodiscard]] std::string describe() const;
};

[[nodiscard]] const char* name(Code code);
// The CLIs' exit code for a status: 0 ok, 2 not found, 3 damaged, 4 rules version, 5 unsupported,
// 6 hash mismatch, 7 I/O, 8 invalid argument (1 is CLI11's usage error).
[[nodiscard]] int exit_code(Code code);

}  // namespace strata::replay
