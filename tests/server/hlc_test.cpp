// tests/server/hlc_test.cpp — the HLC is monotonic, follows physical time, merges remote times by
// Kulkarni's rules and refuses clocks too far ahead.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "server/hlc.h"

namespace strata::server {
namespace {

TEST(Hlc, FollowsPhysicalTimeAndCountsWithinAMillisecond) {
  Hlc hlc(1000);
  EXPECT_EQ(hlc.now(100), Hlc::pack(100, 0));
  EXPECT_EQ(hlc.now(100), Hlc::pack(100, 1));
  EXPECT_EQ(hlc.now(99), Hlc::pack(100, 2));  // physical clock stepped back: logical time does not
  EXPECT_EQ(hlc.now(150), Hlc::pack(150, 0));
}

TEST(Hlc, ReceiveMovesPastTheRemoteTimeAndRefusesFarFutureClocks) {
  Hlc hlc(1000);
  hlc.now(100);
  ASSERT_TRUE(hlc.receive(Hlc::pack(500, 7), 120));
  EXPECT_EQ(hlc.last(), Hlc::pack(500, 8));
  EXPECT_GT(hlc.now(130), Hlc::pack(500, 8));
  const uint64_t before = hlc.last();
  EXPECT_FALSE(hlc.receive(Hlc::pack(5000, 0), 130));
  EXPECT_EQ(hlc.last(), before);
}

// Every region's wall clock stepped back by a minute (NTP): the HLCs stay where they were, and a
// peer's write stamped there is no further ahead of us than our own writes. A clock that runs
// ahead of the newest time we ever read is still refused.
TEST(Hlc, AWallClockSteppedBackDoesNotMakeThePeersWritesFutureOnes) {
  Hlc hlc(1000);
  hlc.now(100'000);
  EXPECT_TRUE(hlc.receive(Hlc::pack(100'500, 0), 40'000));  // physical went back 60 s
  EXPECT_FALSE(hlc.receive(Hlc::pack(102'000, 0), 40'000));
  Hlc restarted(1000);  // after a restart, the newest stamp its map holds
  restarted.restore(Hlc::pack(100'000, 3));
  EXPECT_TRUE(restarted.receive(Hlc::pack(100'900, 0), 40'000));
  EXPECT_FALSE(restarted.receive(Hlc::pack(101'500, 0), 40'000));
}

TEST(Hlc, CounterOverflowCarriesIntoTheMillisecond) {
  Hlc hlc(1000);
  hlc.restore(Hlc::pack(10, Hlc::counter_max));
  EXPECT_EQ(hlc.now(10), Hlc::pack(11, 0));
}

RC_GTEST_PROP(Hlc, EveryTimeIsGreaterThanTheLast, ()) {
  Hlc hlc(1000);
  uint64_t physical = *rc::gen::inRange<uint64_t>(0, 1'000'000);
  uint64_t last = 0;
  const auto events = *rc::gen::container<std::vector<std::pair<bool, uint64_t>>>(
      rc::gen::pair(rc::gen::arbitrary<bool>(), rc::gen::inRange<uint64_t>(0, 3000)));
  for (const auto& [remote, delta] : events) {
    physical += delta % 7;  // physical time moves slowly, sometimes not at all
    uint64_t time = 0;
    if (remote) {
      const uint64_t remote_time = Hlc::pack(physical + delta - 1500, delta % 5);
      if (!hlc.receive(remote_time, physical)) continue;
      RC_ASSERT(hlc.last() > remote_time);
      time = hlc.last();
    } else {
      time = hlc.now(physical);
    }
    RC_ASSERT(time > last);
    RC_ASSERT(Hlc::ms_of(time) >= physical || Hlc::ms_of(time) >= Hlc::ms_of(last));
    last = time;
  }
}

}  // namespace
}  // namespace strata::server
