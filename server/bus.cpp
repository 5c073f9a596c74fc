// server/bus.cpp — the bus's text forms: subjects "events.<region>.<channel>" and message ids
// "<region>:<tick>[:<part>|:presence|:health]", written and parsed. A region, tick or part is plain decimal with
// no sign, no leading zero (so one value has one spelling, and dedup cannot be dodged by "07" vs "7") and no
// overflow; a world batch's part 0 is never spelled (":0" would be a second id for "<region>:<tick>"); anything
// else is refused.
#include "server/bus.h"

#include <array>
#include <charconv>

#include "server/bus_limits.h"
#include "sim/assert.h"

namespace strata::server {
namespace {

constexpr std::string_view subject_prefix = "events.";
constexpr std::array<std::string_view, static_cast<size_t>(BusChannel::count)> channel_names = {"world", "presence",
                                                                                                "health"};

// Canonical decimal: digits only, no leading zero, fits `T`.
template <class T>
[[nodiscard]] std::optional<T> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  if (text.size() > 1 && text.front() == '0') return std::nullopt;
  T value{};
  const auto* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, value);
  if (result.ec != std::errc{} || result.ptr != end) return std::nullopt;
  return value;
}

}  // namespace

std::string_view channel_name(BusChannel channel) {
  STRATA_REQUIRE(channel < BusChannel::count, "no such channel", channel);
  return channel_names[static_cast<size_t>(channel)];
}

std::string subject_text(BusSubject subject) {
  std::string out(subject_prefix);
  out += std::to_string(sim::raw(subject.origin));
  out += '.';
  out += channel_name(subject.channel);
  STRATA_ASSERT(out.size() <= bus_limits::subject_text_bytes_max, "subject longer than its limit", out.size());
  return out;
}

std::string filter_text(BusFilter filter) {
  std::string out(subject_prefix);
  out += std::to_string(sim::raw(filter.origin));
  out += '.';
  out += filter.channel ? channel_name(*filter.channel) : std::string_view("*");
  return out;
}

std::string message_id_text(BusMessageId id) {
  std::string out = std::to_string(sim::raw(id.origin));
  out += ':';
  out += std::to_string(id.tick);
  STRATA_REQUIRE(id.part == 0 || id.channel == BusChannel::world, "only world batches have parts", id.part);
  if (id.channel != BusChannel::world) {
    out += ':';
    out += channel_name(id.channel);
  } else if (id.part != 0) {
    out += ':';
    out += std::to_string(id.part);
  }
  STRATA_ASSERT(out.size() <= bus_limits::message_id_text_bytes_max, "message id longer than its limit", out.size());
  return out;
}

std::optional<BusSubject> parse_subject(std::string_view text) {
  if (text.size() > bus_limits::subject_text_bytes_max || !text.starts_with(subject_prefix)) return std::nullopt;
  text.remove_prefix(subject_prefix.size());
  const size_t dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const auto region = parse_decimal<uint16_t>(text.substr(0, dot));
  if (!region) return std::nullopt;
  const std::string_view channel = text.substr(dot + 1);
  for (size_t i = 0; i < channel_names.size(); ++i) {
    if (channel == channel_names[i]) return BusSubject{sim::RegionId{*region}, static_cast<BusChannel>(i)};
  }
  return std::nullopt;
}

std::optional<BusMessageId> parse_message_id(std::string_view text) {
  if (text.size() > bus_limits::message_id_text_bytes_max) return std::nullopt;
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto region = parse_decimal<uint16_t>(text.substr(0, colon));
  std::string_view rest = text.substr(colon + 1);
  BusChannel channel = BusChannel::world;
  uint32_t part = 0;
  if (const size_t second = rest.find(':'); second != std::string_view::npos) {
    // Only presence and health name their channel: a world id has one spelling, without it; a
    // world batch's later parts add their number (never 0: that is the id without it).
    const std::string_view name = rest.substr(second + 1);
    if (name == channel_names[static_cast<size_t>(BusChannel::presence)]) {
      channel = BusChannel::presence;
    } else if (name == channel_names[static_cast<size_t>(BusChannel::health)]) {
      channel = BusChannel::health;
    } else if (const auto number = parse_decimal<uint32_t>(name); number && *number != 0) {
      part = *number;
    } else {
      return std::nullopt;
    }
    rest = rest.substr(0, second);
  }
  const auto tick = parse_decimal<uint64_t>(rest);
  if (!region || !tick) return std::nullopt;
  return BusMessageId{sim::RegionId{*region}, *tick, channel, part};
}

bool filter_matches(BusFilter filter, BusSubject subject) {
  return filter.origin == subject.origin && (!filter.channel || *filter.channel == subject.channel);
}

DeliveryCheck check_delivery(std::string_view prefix, BusFilter filter, std::string_view subject,
                             std::optional<std::string_view> message_id, size_t payload_bytes) {
  DeliveryCheck out;
  std::optional<BusSubject> parsed_subject;
  if (subject.starts_with(prefix)) parsed_subject = parse_subject(subject.substr(prefix.size()));
  if (!parsed_subject || !filter_matches(filter, *parsed_subject)) {
    out.verdict = DeliveryVerdict::bad_subject;
    return out;
  }
  out.subject = *parsed_subject;
  const std::optional<BusMessageId> parsed_id = message_id ? parse_message_id(*message_id) : std::nullopt;
  if (!parsed_id) {
    out.verdict = DeliveryVerdict::bad_message_id;
    return out;
  }
  out.id = *parsed_id;
  if (out.id.origin != out.subject.origin || out.id.channel != out.subject.channel) {
    out.verdict = DeliveryVerdict::forged;
  } else if (payload_bytes > bus_limits::payload_bytes_max) {
    out.verdict = DeliveryVerdict::too_large;
  } else {
    out.verdict = DeliveryVerdict::accepted;
  }
  return out;
}

const char* name(BusState state) {
  switch (state) {
    case BusState::connecting: return "connecting";
    case BusState::connected: return "connected";
    case BusState::reconnecting: return "reconnecting";
    case BusState::closed: return "closed";
  }
  return "unknown";
}

}  // namespace strata::server
