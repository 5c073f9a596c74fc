// schema/packed_io.cpp — see packed_io.h.
#include "schema/packed_io.h"

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

}  // namespace

Unpacked unpack(std::span<const uint8_t> bytes, size_t words_max) {
  Unpacked result;
  if (bytes.empty()) {
    result.code = DecodeError::empty;
    result.error = "no bytes";
    return result;
  }
  const kj::ArrayPtr<const kj::byte> packed(bytes.data(), bytes.size());
  try {
    const size_t words = capnp::computeUnpackedSizeInWords(packed);
    if (words > words_max) {
      result.code = DecodeError::too_large;
      result.error = "message unpacks to " + std::to_string(words) + " words, limit " + std::to_string(words_max);
      return result;
    }
    if (words < 2) {
      result.code = DecodeError::malformed;
      result.error = "message shorter than a segment table and a root pointer";
      return result;
    }
    kj::Array<capnp::word> flat = kj::heapArray<capnp::word>(words);
    kj::ArrayInputStream input(packed);
    capnp::_::PackedInputStream packed_input(input);
    packed_input.read(flat.begin(), words * sizeof(capnp::word));
    result.words = kj::mv(flat);
  } catch (const kj::Exception& e) {
    result.code = DecodeError::malformed;
    result.error = std::string("invalid packed encoding: ") + e.getDescription().cStr();
  }
  return result;
}

void write_packed(capnp::MessageBuilder& message, std::vector<uint8_t>& out) {
  VectorOutput output(out);
  capnp::writePackedMessage(output, message);
}

}  // namespace strata::schema::detail
