// fuzz/bus_delivery.cpp — what the stream says about a message (subject, Nats-Msg-Id header,
// payload size), as any bytes: the bus's judgement (server/bus.h check_delivery, with the subject
// and message id parsers) gives a verdict and never crashes; what it accepts prints back to the
// exact text it was read from, so one event has one spelling and dedup cannot be dodged.
// Input: "<subject>\n<message id>" (no newline: no header), the last byte picking the filter.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/bus.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::server;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const uint8_t pick = size > 0 ? data[size - 1] : 0;
  const BusFilter filter{strata::sim::RegionId{static_cast<uint16_t>(pick % 4)},
                         pick & 4U ? std::optional<BusChannel>(static_cast<BusChannel>(pick % 3)) : std::nullopt};
  const size_t newline = text.find('\n');
  const std::string_view subject = text.substr(0, newline);
  const std::optional<std::string_view> id =
      newline == std::string_view::npos ? std::nullopt : std::optional<std::string_view>(text.substr(newline + 1));
  const DeliveryCheck check = check_delivery(pick & 8U ? "ns." : "", filter, subject, id, size);
  if (check.verdict == DeliveryVerdict::accepted) {
    const std::string_view prefix = pick & 8U ? "ns." : "";
    if (prefix.size() + subject_text(check.subject).size() != subject.size()) std::abort();
    if (subject.substr(prefix.size()) != subject_text(check.subject)) std::abort();
    if (!id || *id != message_id_text(check.id)) std::abort();
    if (check.id.origin != check.subject.origin || !filter_matches(filter, check.subject)) std::abort();
  }
  if (const auto parsed = parse_subject(text)) {
    if (subject_text(*parsed) != text) std::abort();
  }
  if (const auto parsed = parse_message_id(text)) {
    if (message_id_text(*parsed) != text) std::abort();
  }
  return 0;
}
