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
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "schema/codec.h"

namespace strata::schema::detail {

struct Unpacked {
  kj::Array<capnp::word> words;  // empty on error
  DecodeError code = DecodeError::none;
  std::string error;
};

[[nodiscard]] Unpacked unpack(std::span<const uint8_t> bytes, size_t words_max);

// A destination for unpacked messages that is kept between messages (a log reader's): it grows to
// the largest message read so far, never beyond the words_max of the calls that filled it, so a
// stream of records allocates nothing once warm.
struct UnpackBuffer {
  kj::Array<capnp::word> words;
};
// unpack() into `buffer`: the same checks, in the same order, before anything is allocated. On
// success the message is buffer.words[0, words).
[[nodiscard]] DecodeError unpack_into(std::span<const uint8_t> bytes, size_t words_max, UnpackBuffer& buffer,
                                      size_t& words, std::string& error);

// Unpacks the first out.size() bytes (whole words) of packed bytes, or fewer when the input ends
// first: for reading a message's leading words (its segment table and root struct) without
// unpacking the rest. Returns how many bytes were written; nullopt when the input ends mid-word.
// (PackedInputStream refuses to stop inside a run; a prefix must.) Packing: per word a tag byte,
// then the word's nonzero bytes; tag 0x00 is followed by a count of further zero words, tag 0xff
// by a count of words copied verbatim.
[[nodiscard]] std::optional<size_t> unpack_prefix(std::span<const uint8_t> in, std::span<uint8_t> out);

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

// Runs `read(root_reader)` over an unpacked message with the given limits, turning capnp's
// exceptions into DecodeError::malformed. R is DecodeResult<T> or DecodeStatus (both have code and
// error); `read` returns an R (without counting).
template <class R, class Root, class Fn>
R read_words(kj::ArrayPtr<const capnp::word> words, uint64_t traversal_words, int nesting_max, Fn&& read) {
  try {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = traversal_words;
    options.nestingLimit = nesting_max;
    capnp::FlatArrayMessageReader reader(words, options);
    if (reader.getEnd() != words.end()) {
      R result;
      result.code = DecodeError::malformed;
      result.error = "trailing words after the message";
      return result;
    }
    return read(reader.getRoot<Root>());
  } catch (const kj::Exception& e) {
    R result;
    result.code = DecodeError::malformed;
    result.error = std::string("malformed message: ") + e.getDescription().cStr();
    return result;
  }
}

// unpack() then read_words(): a one-off message, its own allocation.
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
  return read_words<DecodeResult<T>, Root>(unpacked.words.asPtr(), traversal_words, nesting_max,
                                           std::forward<Fn>(read));
}

// unpack_into() then read_words(): a message of a stream, in the stream's reused buffer.
template <class Root, class Fn>
DecodeStatus read_message_into(std::span<const uint8_t> bytes, size_t words_max, uint64_t traversal_words,
                               int nesting_max, UnpackBuffer& buffer, Fn&& read) {
  DecodeStatus status;
  size_t words = 0;
  status.code = unpack_into(bytes, words_max, buffer, words, status.error);
  if (status.code != DecodeError::none) return status;
  return read_words<DecodeStatus, Root>(buffer.words.slice(0, words).asConst(), traversal_words, nesting_max,
                                        std::forward<Fn>(read));
}

}  // namespace strata::schema::detail
