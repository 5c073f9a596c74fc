// schema/packed_io.cpp — see packed_io.h.
#include "schema/packed_io.h"

#include <algorithm>
#include <cstring>

namespace strata::schema::detail {
namespace {

// Appends to a std::vector so a caller can reuse one buffer across ticks.
class VectorOutput final : public kj::OutputStream {
 public:
  explicit VectorOutput(std::vector<uint8_t>& out) : out_(out) {}
  void write(const void* buffer, size_t size) override {
    const size_t used = out_.size();
    out_.resize(used + size);
    std::memcpy(out_.data() + used, buffer, size);
  }

 private:
  std::vector<uint8_t>& out_;
};

// The checks before any allocation: bytes present, the unpacked size (measured from the packed
// bytes themselves) within words_max and at least a segment table and a root pointer.
DecodeError measure(std::span<const uint8_t> bytes, size_t words_max, size_t& words, std::string& error) {
  if (bytes.empty()) {
    error = "no bytes";
    return DecodeError::empty;
  }
  words = capnp::computeUnpackedSizeInWords(kj::ArrayPtr<const kj::byte>(bytes.data(), bytes.size()));
  if (words > words_max) {
    error = "message unpacks to " + std::to_string(words) + " words, limit " + std::to_string(words_max);
    return DecodeError::too_large;
  }
  if (words < 2) {
    error = "message shorter than a segment table and a root pointer";
    return DecodeError::malformed;
  }
  return DecodeError::none;
}

// Unpacks exactly `words` words (measured) into `out`; throws kj::Exception on a bad encoding.
void unpack_words(std::span<const uint8_t> bytes, capnp::word* out, size_t words) {
  kj::ArrayInputStream input(kj::ArrayPtr<const kj::byte>(bytes.data(), bytes.size()));
  capnp::_::PackedInputStream packed_input(input);
  packed_input.read(out, words * sizeof(capnp::word));
}

}  // namespace

Unpacked unpack(std::span<const uint8_t> bytes, size_t words_max) {
  Unpacked result;
  try {
    size_t words = 0;
    result.code = measure(bytes, words_max, words, result.error);
    if (result.code != DecodeError::none) return result;
    kj::Array<capnp::word> flat = kj::heapArray<capnp::word>(words);
    unpack_words(bytes, flat.begin(), words);
    result.words = kj::mv(flat);
  } catch (const kj::Exception& e) {
    result.code = DecodeError::malformed;
    result.error = std::string("invalid packed encoding: ") + e.getDescription().cStr();
  }
  return result;
}

DecodeError unpack_into(std::span<const uint8_t> bytes, size_t words_max, UnpackBuffer& buffer, size_t& words,
                        std::string& error) {
  words = 0;
  try {
    const DecodeError code = measure(bytes, words_max, words, error);
    if (code != DecodeError::none) return code;
    if (buffer.words.size() < words) {
      // Doubling, capped by this call's limit: a handful of growths over a stream of records.
      const size_t grown = std::min(words_max, std::max(words, buffer.words.size() * 2));
      buffer.words = nullptr;  // release first: peak memory one buffer, not two
      buffer.words = kj::heapArray<capnp::word>(grown);
    }
    unpack_words(bytes, buffer.words.begin(), words);
  } catch (const kj::Exception& e) {
    words = 0;
    error = std::string("invalid packed encoding: ") + e.getDescription().cStr();
    return DecodeError::malformed;
  }
  return DecodeError::none;
}

std::optional<size_t> unpack_prefix(std::span<const uint8_t> in, std::span<uint8_t> out) {
  size_t i = 0;
  size_t o = 0;
  while (o + 8 <= out.size() && i < in.size()) {
    const uint8_t tag = in[i++];
    for (size_t b = 0; b < 8; ++b) {
      if ((tag & (1U << b)) == 0) {
        out[o + b] = 0;
        continue;
      }
      if (i >= in.size()) return std::nullopt;
      out[o + b] = in[i++];
    }
    o += 8;
    if (tag != 0x00 && tag != 0xff) continue;
    if (i >= in.size()) return std::nullopt;
    const size_t run = size_t{in[i++]} * 8;
    const size_t room = std::min(run, out.size() - o);
    if (tag == 0x00) {
      std::memset(out.data() + o, 0, room);
    } else {
      if (run > in.size() - i) return std::nullopt;
      std::memcpy(out.data() + o, in.data() + i, room);
      i += run;
    }
    o += room;
  }
  return o;
}

void write_packed(capnp::MessageBuilder& message, std::vector<uint8_t>& out) {
  VectorOutput output(out);
  capnp::writePackedMessage(output, message);
}

}  // namespace strata::schema::detail
