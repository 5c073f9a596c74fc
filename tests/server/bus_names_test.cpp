// tests/server/bus_names_test.cpp — the bus's text forms: subjects and message ids round-trip, and
// the parsers (which read untrusted text from the stream) refuse everything but the exact form.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "server/bus.h"
#include "server/bus_limits.h"

namespace strata::server {
namespace {

TEST(BusNames, SubjectsAndIdsHaveOneSpelling) {
  EXPECT_EQ(subject_text({sim::RegionId{3}, BusChannel::world}), "events.3.world");
  EXPECT_EQ(subject_text({sim::RegionId{65535}, BusChannel::presence}), "events.65535.presence");
  EXPECT_EQ(subject_text({sim::RegionId{0}, BusChannel::health}), "events.0.health");
  EXPECT_EQ(filter_text({sim::RegionId{7}, std::nullopt}), "events.7.*");
  EXPECT_EQ(filter_text({sim::RegionId{7}, BusChannel::world}), "events.7.world");
  EXPECT_EQ(message_id_text({sim::RegionId{2}, 1234}), "2:1234");
  EXPECT_EQ(message_id_text({sim::RegionId{65535}, UINT64_MAX}), "65535:18446744073709551615");
  EXPECT_EQ(message_id_text({sim::RegionId{2}, 1234, BusChannel::presence}), "2:1234:presence");
  EXPECT_EQ(message_id_text({sim::RegionId{65535}, UINT64_MAX, BusChannel::health}),
            "65535:18446744073709551615:health");
  // A world batch in parts: part 0 keeps the plain id, the others add their number.
  EXPECT_EQ(message_id_text({sim::RegionId{2}, 1234, BusChannel::world, 0}), "2:1234");
  EXPECT_EQ(message_id_text({sim::RegionId{2}, 1234, BusChannel::world, 7}), "2:1234:7");
  const std::string longest = message_id_text({sim::RegionId{65535}, UINT64_MAX, BusChannel::world, UINT32_MAX});
  EXPECT_EQ(longest, "65535:18446744073709551615:4294967295");
  EXPECT_EQ(longest.size(), bus_limits::message_id_text_bytes_max);
}

TEST(BusNames, ParsersRefuseAnythingButTheExactForm) {
  for (const char* bad : {"", "events.", "events.1", "events.1.", "events.1.worlds", "events.01.world",
                          "events.-1.world", "events.+1.world", "events.65536.world", "events. 1.world",
                          "events.1.world ", "Events.1.world", "events.1.*", "events.1.world.x", "x.1.world"}) {
    EXPECT_FALSE(parse_subject(bad).has_value()) << bad;
  }
  for (const char* bad : {"",
                          ":",
                          "1:",
                          ":1",
                          "1:01",
                          "01:1",
                          "1:-1",
                          "1: 1",
                          "1:1 ",
                          "65536:1",
                          "1:1:0",
                          "1:1:01",
                          "1:1:-1",
                          "1:1:+1",
                          "1:1: 1",
                          "1:1:1:1",
                          "1:1:1:presence",
                          "1:1:4294967296",
                          "1:1:0x1",
                          "1;1",
                          "1:18446744073709551616",
                          "1:0x10",
                          "1:1:world",
                          "1:1:",
                          "1:1:Presence",
                          "1:1:presence:",
                          "1::presence",
                          "1:1:health:health"}) {
    EXPECT_FALSE(parse_message_id(bad).has_value()) << bad;
  }
  EXPECT_EQ(parse_message_id("0:0"), (BusMessageId{sim::RegionId{0}, 0}));
  EXPECT_EQ(parse_message_id("3:9:presence"), (BusMessageId{sim::RegionId{3}, 9, BusChannel::presence}));
  EXPECT_EQ(parse_message_id("3:9:1"), (BusMessageId{sim::RegionId{3}, 9, BusChannel::world, 1}));
  EXPECT_EQ(parse_message_id("3:9:4294967295"), (BusMessageId{sim::RegionId{3}, 9, BusChannel::world, UINT32_MAX}));
  EXPECT_EQ(parse_subject("events.12.health"), (BusSubject{sim::RegionId{12}, BusChannel::health}));
}

TEST(BusNames, FiltersMatchTheirOriginAndChannel) {
  const BusSubject world{sim::RegionId{4}, BusChannel::world};
  EXPECT_TRUE(filter_matches({sim::RegionId{4}, std::nullopt}, world));
  EXPECT_TRUE(filter_matches({sim::RegionId{4}, BusChannel::world}, world));
  EXPECT_FALSE(filter_matches({sim::RegionId{4}, BusChannel::presence}, world));
  EXPECT_FALSE(filter_matches({sim::RegionId{5}, std::nullopt}, world));
}

TEST(BusNames, ADeliveryIsJudgedBeforeItIsHandedOver) {
  const BusFilter region_one{sim::RegionId{1}, std::nullopt};
  auto verdict = [&](std::string_view subject, std::optional<std::string_view> id, size_t bytes = 10) {
    return check_delivery("ns.", region_one, subject, id, bytes).verdict;
  };
  EXPECT_EQ(verdict("ns.events.1.world", "1:5"), DeliveryVerdict::accepted);
  EXPECT_EQ(verdict("ns.events.1.health", "1:5"), DeliveryVerdict::forged);      // a world id on health
  EXPECT_EQ(verdict("events.1.world", "1:5"), DeliveryVerdict::bad_subject);     // no namespace
  EXPECT_EQ(verdict("ns.events.2.world", "2:5"), DeliveryVerdict::bad_subject);  // not what was asked
  EXPECT_EQ(verdict("ns.events.1.bogus", "1:5"), DeliveryVerdict::bad_subject);
  EXPECT_EQ(verdict("ns.events.1.world", std::nullopt), DeliveryVerdict::bad_message_id);
  EXPECT_EQ(verdict("ns.events.1.world", "1:05"), DeliveryVerdict::bad_message_id);
  EXPECT_EQ(verdict("ns.events.1.world", "2:5"), DeliveryVerdict::forged);
  EXPECT_EQ(verdict("ns.events.1.world", "1:5:presence"), DeliveryVerdict::forged);  // another channel's id
  EXPECT_EQ(verdict("ns.events.1.health", "1:5:health"), DeliveryVerdict::accepted);
  EXPECT_EQ(verdict("ns.events.1.world", "1:5:2"), DeliveryVerdict::accepted);   // part 2 of a world batch
  EXPECT_EQ(verdict("ns.events.1.presence", "1:5:2"), DeliveryVerdict::forged);  // a world id on presence
  EXPECT_EQ(verdict("ns.events.1.world", "1:5", bus_limits::payload_bytes_max + 1), DeliveryVerdict::too_large);
  const DeliveryCheck check = check_delivery("", region_one, "events.1.presence", "1:9:presence", 0);
  EXPECT_EQ(check.verdict, DeliveryVerdict::accepted);
  EXPECT_EQ(check.subject, (BusSubject{sim::RegionId{1}, BusChannel::presence}));
  EXPECT_EQ(check.id, (BusMessageId{sim::RegionId{1}, 9, BusChannel::presence}));
}

RC_GTEST_PROP(BusNames, EveryIdAndSubjectRoundTrips, (uint16_t region, uint64_t tick, uint8_t channel, uint32_t part)) {
  const BusChannel kind = static_cast<BusChannel>(channel % 3);
  const BusMessageId id{sim::RegionId{region}, tick, kind, kind == BusChannel::world ? part : 0};
  RC_ASSERT(parse_message_id(message_id_text(id)) == std::optional<BusMessageId>(id));
  const BusSubject subject{sim::RegionId{region}, static_cast<BusChannel>(channel % 3)};
  RC_ASSERT(parse_subject(subject_text(subject)) == std::optional<BusSubject>(subject));
}

RC_GTEST_PROP(BusNames, AnyTextParsesOnlyToWhatPrintsItBack, (std::string text)) {
  if (const auto id = parse_message_id(text)) RC_ASSERT(message_id_text(*id) == text);
  if (const auto subject = parse_subject(text)) RC_ASSERT(subject_text(*subject) == text);
}

}  // namespace
}  // namespace strata::server
