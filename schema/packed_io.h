// schema/packed_io.h — internal to schema/ (not installed, not included by public headers): reading
// and writing packed Cap'n Proto messages with the limits of schema/limits.h.
//
// Reading: the packed bytes are first measured (capnp::computeUnpackedSizeInWords) and refused if
// they would unpack beyond the caller's maximum, so the one allocation is bounded by a named limit
// and by what the sender really sent — never by a segment table the sender wrote. Then they are
// unpacked into that flat array and read with FlatArrayMessageReader under tight ReaderOptions.
// Every kj::Exception capnp throws on malformed input is turned into DecodeError::malformed.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "schema/codec.h"

namespace strata::schema::detail {

struct Unpacked {
  kj::Array<capnp::word> words;  // empty on error
  DecodeError code = DecodeError::none;
  std::string error;
};

[[nodiscard]] Unpacked unpack(std::span<const uint8_t> bytes, size_t words_max);

// Appends the packed encoding of the message to `out`.
void write_packed(capnp::MessageBuilder& message, std::vector<uint8_t>& out);

template <class T>
DecodeResult<T> refuse(DecodeError code, std::string error, DecodeStats* stats) {
  if (stats != nullptr) stats->count(code);
  DecodeResult<T> result;
  result.code = code;
  result.error = std::move(error);
  return result;
}

template <class T>
DecodeResult<T> accept(T value, DecodeStats* stats) {
  if (stats != nullptr) stats->count(DecodeError::none);
  DecodeResult<T> result;
  result.value = std::move(value);
  return result;
}

// Runs `read(root_reader)` over the unpacked message with the given limits, turning capnp's
// exceptions into DecodeError::malformed. `read` returns a DecodeResult<T> (without counting).
template <class T, class Root, class Fn>
DecodeResult<T> read_message(std::span<const uint8_t> bytes, size_t words_max, uint64_t traversal_words,
                             int nesting_max, Fn&& read) {
  Unpacked unpacked = unpack(bytes, words_max);
  if (unpacked.code != DecodeError::none) {
    DecodeResult<T> result;
    result.code = unpacked.code;
    result.error = std::move(unpacked.error);
    return result;
  }
  try {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = traversal_words;
    options.nestingLimit = nesting_max;
    capnp::FlatArrayMessageReader reader(unpacked.words.asPtr(), options);
    if (reader.getEnd() != unpacked.words.end()) {
      DecodeResult<T> result;
      result.code = DecodeError::malformed;
      result.error = "trailing words after the message";
      return result;
    }
    return read(reader.getRoot<Root>());
  } catch (const kj::Exception& e) {
    DecodeResult<T> result;
    result.code = DecodeError::malformed;
    result.error = std::string("malformed message: ") + e.getDescription().cStr();
    return result;
  }
}

}  // namespace strata::schema::detail
