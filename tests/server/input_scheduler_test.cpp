// tests/server/input_scheduler_test.cpp — TickInput(T) is built in DESIGN.md's order, late inputs
// land in the current tick, early ones wait (bounded), duplicates drop, stamps come from the HLC
// and the session's player overrides whatever the client claimed.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <set>

#include "server/input_scheduler.h"

namespace strata::server {
namespace {

using namespace strata::sim;

constexpr RegionId region{3};

struct Fixture {
  Hlc hlc{1000};
  InputScheduler scheduler{default_input_scheduler_config(), region, hlc};
};

MoveCommand move(Direction d) { return MoveCommand{PlayerId{999}, 0, d, MoveMode::walk}; }

TEST(InputScheduler, OrdersSystemThenPlayersBySeqThenRemoteByOriginAndSequence) {
  Fixture f;
  EXPECT_EQ(f.scheduler.submit_player(PlayerId{7}, 2, 10, move(Direction::n), 10), InputVerdict::accepted);
  EXPECT_EQ(f.scheduler.submit_player(PlayerId{3}, 1, 10, move(Direction::e), 10), InputVerdict::accepted);
  EXPECT_EQ(f.scheduler.submit_player(PlayerId{7}, 1, 10, move(Direction::s), 10), InputVerdict::accepted);
  const Command presence9 = RemotePresenceCommand{RegionId{9}, PlayerId{1}, {}, Direction::n};
  const Command presence5 = RemotePresenceCommand{RegionId{5}, PlayerId{1}, {}, Direction::n};
  EXPECT_EQ(f.scheduler.submit_remote(RegionId{9}, 4, {&presence9, 1}, false, 0).verdict, InputVerdict::accepted);
  EXPECT_EQ(f.scheduler.submit_remote(RegionId{5}, 8, {&presence5, 1}, false, 0).verdict, InputVerdict::accepted);
  EXPECT_EQ(f.scheduler.submit_system(JoinCommand{PlayerId{4}}), InputVerdict::accepted);
  TickInput input;
  f.scheduler.build(10, 0, input);
  ASSERT_EQ(input.commands.size(), 6U);
  EXPECT_TRUE(std::holds_alternative<JoinCommand>(input.commands[0]));
  EXPECT_EQ(std::get<MoveCommand>(input.commands[1]).player, PlayerId{3});
  EXPECT_EQ(std::get<MoveCommand>(input.commands[2]).seq, 1U);
  EXPECT_EQ(std::get<MoveCommand>(input.commands[2]).player, PlayerId{7});  // the session's id, not 999
  EXPECT_EQ(std::get<MoveCommand>(input.commands[3]).seq, 2U);
  EXPECT_EQ(std::get<RemotePresenceCommand>(input.commands[4]).origin, RegionId{5});
  EXPECT_EQ(std::get<RemotePresenceCommand>(input.commands[5]).origin, RegionId{9});
  EXPECT_EQ(f.scheduler.pending(), 0U);
}

TEST(InputScheduler, LateGoesNowEarlyWaitsTooEarlyAndDuplicatesAreRefused) {
  Fixture f;
  EXPECT_EQ(f.scheduler.submit_player(PlayerId{1}, 1, 5, move(Direction::n), 10), InputVerdict::late);
  EXPECT_EQ(f.scheduler.submit_player(PlayerId{1}, 2, 12, move(Direction::e), 10), InputVerdict::accepted);
  EXPECT_EQ(f.scheduler.submit_player(PlayerId{1}, 3, 11, move(Direction::w), 10), InputVerdict::accepted);
  EXPECT_EQ(f.scheduler.submit_player(PlayerId{1}, 4, 10 + 21, move(Direction::w), 10), InputVerdict::too_early);
  EXPECT_EQ(f.scheduler.submit_player(PlayerId{1}, 2, 12, move(Direction::e), 10), InputVerdict::duplicate);
  TickInput input;
  f.scheduler.build(10, 0, input);
  ASSERT_EQ(input.commands.size(), 1U);
  f.scheduler.build(11, 0, input);
  EXPECT_TRUE(input.commands.empty()) << "seq 3 waits behind seq 2 (wanted 12): sequence order is kept";
  f.scheduler.build(12, 0, input);
  ASSERT_EQ(input.commands.size(), 2U);
  EXPECT_EQ(f.scheduler.last_scheduled_seq(PlayerId{1}), 3U);
  EXPECT_EQ(f.scheduler.submit_player(PlayerId{1}, 1, 13, move(Direction::n), 13), InputVerdict::duplicate);
  EXPECT_EQ(f.scheduler.counters()[static_cast<size_t>(InputVerdict::duplicate)], 2U);
  EXPECT_EQ(f.scheduler.submit_system(MoveCommand{}), InputVerdict::accepted);
  EXPECT_EQ(f.scheduler.submit_player(PlayerId{1}, 9, 13, JoinCommand{PlayerId{1}}, 13), InputVerdict::not_player);
}

TEST(InputScheduler, StampsLocalWritesFromTheHlcInOrder) {
  Fixture f;
  const PlaceCommand forged{PlayerId{1}, 0, {1, 1}, Layer::active, 1, LwwStamp{~0ULL, RegionId{77}}};
  ASSERT_EQ(f.scheduler.submit_player(PlayerId{2}, 1, 1, forged, 1), InputVerdict::accepted);
  ASSERT_EQ(f.scheduler.submit_player(PlayerId{2}, 2, 1, BreakCommand{PlayerId{2}, 0, {1, 1}, Layer::active, {}}, 1),
            InputVerdict::accepted);
  TickInput input;
  f.scheduler.build(1, 5000, input);
  const auto& place = std::get<PlaceCommand>(input.commands[0]);
  const auto& brk = std::get<BreakCommand>(input.commands[1]);
  EXPECT_EQ(place.stamp.region, region);
  EXPECT_EQ(place.stamp.hlc, Hlc::pack(5000, 0));
  EXPECT_LT(place.stamp, brk.stamp);
}

TEST(InputScheduler, RemoteDuplicatesAndFarFutureClocksAreRefused) {
  Fixture f;
  const RemoteBlockWriteCommand write{{2, 2}, Layer::active, 1, 0, LwwStamp{Hlc::pack(1000, 0), RegionId{5}}};
  RemoteBlockWriteCommand ahead = write;
  ahead.stamp.hlc = Hlc::pack(1000 + 5000, 0);
  const std::vector<Command> batch{write};
  EXPECT_EQ(f.scheduler.submit_remote(RegionId{5}, 10, batch, true, 1000).verdict, InputVerdict::accepted);
  EXPECT_EQ(f.scheduler.submit_remote(RegionId{5}, 10, batch, true, 1000).verdict, InputVerdict::duplicate);
  EXPECT_EQ(f.scheduler.submit_remote(RegionId{5}, 9, batch, true, 1000).verdict, InputVerdict::duplicate);
  // A write too far ahead is dropped; the rest of its batch, and the batch's mark, go on.
  const std::vector<Command> mixed{ahead, write};
  const InputScheduler::RemoteSubmit submit = f.scheduler.submit_remote(RegionId{5}, 11, mixed, true, 1000);
  EXPECT_EQ(submit.verdict, InputVerdict::accepted);
  EXPECT_EQ(submit.clock_ahead, 1U);
  EXPECT_EQ(f.scheduler.counters()[static_cast<size_t>(InputVerdict::clock_ahead)], 1U);
  EXPECT_EQ(f.scheduler.applied_stream_seqs().at(5), 11U);
  EXPECT_GT(f.hlc.last(), Hlc::pack(1000, 0));  // the HLC merged the remote stamp
  TickInput input;
  f.scheduler.build(1, 1000, input);
  ASSERT_EQ(input.commands.size(), 4U);  // write, mark 10, write, mark 11
  EXPECT_EQ(std::get<RemoteBatchCommand>(input.commands[1]).stream_seq, 10U);
  EXPECT_EQ(std::get<RemoteBlockWriteCommand>(input.commands[2]).stamp, write.stamp);
  EXPECT_EQ(std::get<RemoteBatchCommand>(input.commands[3]).stream_seq, 11U);
}

TEST(InputScheduler, ARemoteMessageIsTakenWholeOrNotAtAll) {
  Hlc hlc(1000);
  InputSchedulerConfig config;
  config.max_pending_remote = 4;
  InputScheduler scheduler(config, region, hlc);
  const Command write = RemoteBlockWriteCommand{{2, 2}, Layer::active, 1, 0, LwwStamp{Hlc::pack(1, 0), RegionId{5}}};
  const std::vector<Command> three(3, write);
  EXPECT_EQ(scheduler.submit_remote(RegionId{5}, 1, three, true, 1000).verdict, InputVerdict::accepted);
  EXPECT_EQ(scheduler.submit_remote(RegionId{5}, 2, three, true, 1000).verdict, InputVerdict::queue_full);
  EXPECT_EQ(scheduler.applied_stream_seqs().at(5), 1U);  // seq 2 may come again
  EXPECT_EQ(scheduler.pending(), 4U);
}

TEST(InputScheduler, PendingLimitsAreEnforced) {
  Hlc hlc(1000);
  InputSchedulerConfig config;
  config.max_pending_per_player = 2;
  InputScheduler scheduler(config, region, hlc);
  EXPECT_EQ(scheduler.submit_player(PlayerId{1}, 1, 3, move(Direction::n), 1), InputVerdict::accepted);
  EXPECT_EQ(scheduler.submit_player(PlayerId{1}, 2, 3, move(Direction::n), 1), InputVerdict::accepted);
  EXPECT_EQ(scheduler.submit_player(PlayerId{1}, 3, 3, move(Direction::n), 1), InputVerdict::queue_full);
}

// The scheduler keeps its players in flat arrays; this model keeps them in a std::map, the plain
// statement of the rules: per player, pending inputs sorted by sequence, taken in sequence order
// while due, the whole tick ordered by player id.
class SchedulerModel {
 public:
  explicit SchedulerModel(InputSchedulerConfig config) : config_(config) {}
  InputVerdict submit(uint32_t player, uint32_t seq, uint64_t wanted, Direction d, uint64_t current) {
    if (wanted > current + config_.max_lead_ticks) return InputVerdict::too_early;
    auto it = players_.find(player);
    if (it == players_.end()) {
      if (players_.size() >= config_.max_pending_players) return InputVerdict::queue_full;
      it = players_.emplace(player, Queue{}).first;
    }
    Queue& q = it->second;
    if (seq <= q.last || q.pending.count(seq) > 0) return InputVerdict::duplicate;
    if (q.pending.size() >= config_.max_pending_per_player) return InputVerdict::queue_full;
    q.pending.emplace(seq, std::pair{std::max(wanted, current), d});
    return wanted < current ? InputVerdict::late : InputVerdict::accepted;
  }
  void forget(uint32_t player) { players_.erase(player); }
  std::vector<std::tuple<uint32_t, uint32_t, Direction>> build(uint64_t tick) {
    std::vector<std::tuple<uint32_t, uint32_t, Direction>> out;
    for (auto& [player, q] : players_) {
      while (!q.pending.empty() && q.pending.begin()->second.first <= tick) {
        out.emplace_back(player, q.pending.begin()->first, q.pending.begin()->second.second);
        q.last = q.pending.begin()->first;
        q.pending.erase(q.pending.begin());
      }
    }
    return out;
  }
  uint32_t last(uint32_t player) const {
    auto it = players_.find(player);
    return it == players_.end() ? 0 : it->second.last;
  }

 private:
  struct Queue {
    uint32_t last = 0;
    std::map<uint32_t, std::pair<uint64_t, Direction>> pending;
  };
  InputSchedulerConfig config_;
  std::map<uint32_t, Queue> players_;
};

RC_GTEST_PROP(InputScheduler, AgreesWithTheOrderedMapModel, ()) {
  InputSchedulerConfig config;
  config.max_lead_ticks = *rc::gen::inRange<uint32_t>(0, 6);
  config.max_pending_per_player = *rc::gen::inRange<uint32_t>(1, 8);
  config.max_pending_players = *rc::gen::inRange<uint32_t>(1, 24);
  Hlc hlc(1000);
  InputScheduler scheduler(config, region, hlc);
  SchedulerModel model(config);
  uint64_t tick = 1;
  const auto steps = *rc::gen::inRange(1, 400);
  for (int i = 0; i < steps; ++i) {
    const auto op = *rc::gen::inRange(0, 10);
    const auto player = *rc::gen::inRange<uint32_t>(1, 40);
    if (op < 7) {
      const auto seq = *rc::gen::inRange<uint32_t>(1, 30);
      const uint64_t wanted = tick + *rc::gen::inRange<uint64_t>(0, 12) - std::min<uint64_t>(tick, 4);
      const auto d = *rc::gen::element(Direction::n, Direction::e, Direction::s, Direction::w);
      RC_ASSERT(scheduler.submit_player(PlayerId{player}, seq, wanted, move(d), tick) ==
                model.submit(player, seq, wanted, d, tick));
    } else if (op == 7) {
      scheduler.forget_player(PlayerId{player});
      model.forget(player);
    } else {
      TickInput input;
      scheduler.build(tick, 5000 + tick, input);
      std::vector<std::tuple<uint32_t, uint32_t, Direction>> got;
      for (const Command& c : input.commands) {
        const auto& m = std::get<MoveCommand>(c);
        got.emplace_back(raw(m.player), m.seq, m.direction);
      }
      RC_ASSERT(got == model.build(tick));
      RC_ASSERT(scheduler.last_scheduled_seq(PlayerId{player}) == model.last(player));
      tick += 1;
    }
  }
}

// A player's inputs due in one tick go in at most commands_per_player_per_tick at a time (what the
// sim applies); the rest wait, in sequence order, and are counted.
TEST(InputScheduler, APlayerGetsAtMostWhatTheSimAppliesPerTickAndTheRestWaitsInOrder) {
  Fixture f;
  constexpr uint32_t cap = scheduler_limits::commands_per_player_per_tick_max;
  for (uint32_t seq = 1; seq <= 20; ++seq)
    ASSERT_EQ(f.scheduler.submit_player(PlayerId{5}, seq, 1, move(Direction::n), 1), InputVerdict::accepted);
  TickInput input;
  uint32_t next_seq = 1;
  for (uint64_t tick = 1; tick <= 3; ++tick) {
    f.scheduler.build(tick, 0, input);
    EXPECT_EQ(input.commands.size(), std::min<size_t>(cap, 21 - next_seq)) << tick;
    for (const Command& c : input.commands) EXPECT_EQ(std::get<MoveCommand>(c).seq, next_seq++);
  }
  EXPECT_EQ(next_seq, 21U);
  EXPECT_EQ(f.scheduler.pending(), 0U);
  EXPECT_EQ(f.scheduler.deferrals().player_cap, (20U - cap) + (20U - 2 * cap));
}

// When the players together want more than their part of the tick, each gets a fair share (the
// largest equal share that fits, the remainder one each in a rotation) and nobody is starved.
TEST(InputScheduler, PlayersShareTheirPartOfATickFairly) {
  Hlc hlc(1000);
  InputSchedulerConfig config;
  config.player_commands_per_tick = 10;
  InputScheduler scheduler(config, region, hlc);
  for (uint32_t player = 1; player <= 4; ++player) {
    for (uint32_t seq = 1; seq <= 8; ++seq)
      ASSERT_EQ(scheduler.submit_player(PlayerId{player}, seq, 1, move(Direction::n), 1), InputVerdict::accepted);
  }
  TickInput input;
  scheduler.build(1, 0, input);
  ASSERT_EQ(input.commands.size(), 10U);
  std::map<uint32_t, uint32_t> got;
  for (const Command& c : input.commands) got[raw(std::get<MoveCommand>(c).player)] += 1;
  ASSERT_EQ(got.size(), 4U);
  for (const auto& [player, n] : got) EXPECT_TRUE(n == 2 || n == 3) << player << " got " << n;
  EXPECT_EQ(scheduler.deferrals().fair_share, 22U);
  EXPECT_EQ(scheduler.deferrals().ticks_shared, 1U);
  // Everything arrives in a few ticks, in sequence order per player.
  std::map<uint32_t, uint32_t> last;
  for (const Command& c : input.commands) last[raw(std::get<MoveCommand>(c).player)] = std::get<MoveCommand>(c).seq;
  for (uint64_t tick = 2; tick <= 4; ++tick) {
    scheduler.build(tick, 0, input);
    EXPECT_LE(input.commands.size(), 10U);
    for (const Command& c : input.commands) {
      const auto& m = std::get<MoveCommand>(c);
      EXPECT_EQ(m.seq, last[raw(m.player)] + 1);
      last[raw(m.player)] = m.seq;
    }
  }
  EXPECT_EQ(scheduler.pending(), 0U);
  for (const auto& [player, seq] : last) EXPECT_EQ(seq, 8U) << player;
}

TEST(InputScheduler, SystemAndRemotePartsWaitForTheNextTickInOrder) {
  Hlc hlc(1000);
  InputSchedulerConfig config;
  config.system_commands_per_tick = 3;
  config.remote_commands_per_tick = 2;
  InputScheduler scheduler(config, region, hlc);
  for (uint32_t player = 1; player <= 5; ++player)
    ASSERT_EQ(scheduler.submit_system(JoinCommand{PlayerId{player}}), InputVerdict::accepted);
  for (uint64_t seq : {3, 1, 2}) {
    const Command presence = RemotePresenceCommand{RegionId{4}, PlayerId{uint32_t(seq)}, {}, Direction::n};
    ASSERT_EQ(scheduler.submit_remote(RegionId{uint16_t(seq == 3 ? 9 : 4)}, seq, {&presence, 1}, false, 0).verdict,
              InputVerdict::accepted);
  }
  TickInput input;
  scheduler.build(1, 0, input);
  ASSERT_EQ(input.commands.size(), 5U);
  EXPECT_EQ(std::get<JoinCommand>(input.commands[2]).player, PlayerId{3});
  EXPECT_EQ(std::get<RemotePresenceCommand>(input.commands[3]).player, PlayerId{1});  // origin 4, seq 1
  EXPECT_EQ(std::get<RemotePresenceCommand>(input.commands[4]).player, PlayerId{2});
  scheduler.build(2, 0, input);
  ASSERT_EQ(input.commands.size(), 3U);
  EXPECT_EQ(std::get<JoinCommand>(input.commands[0]).player, PlayerId{4});
  EXPECT_EQ(std::get<JoinCommand>(input.commands[1]).player, PlayerId{5});
  EXPECT_EQ(std::get<RemotePresenceCommand>(input.commands[2]).player, PlayerId{3});  // origin 9
  EXPECT_EQ(scheduler.deferrals().system_cap, 2U);
  EXPECT_EQ(scheduler.deferrals().remote_cap, 1U);
}

TEST(InputScheduler, AConfigCannotRaiseThePartsBeyondTheLimits) {
  Hlc hlc(1000);
  InputSchedulerConfig config;
  config.commands_per_player_per_tick = 1000;
  config.player_commands_per_tick = 1'000'000;
  config.system_commands_per_tick = 1'000'000;
  config.remote_commands_per_tick = 1'000'000;
  InputScheduler scheduler(config, region, hlc);
  EXPECT_EQ(scheduler.config().commands_per_player_per_tick, sim::limits::commands_per_player_per_tick_max);
  EXPECT_EQ(scheduler.config().player_commands_per_tick, scheduler_limits::player_commands_per_tick_max);
  EXPECT_EQ(scheduler.config().system_commands_per_tick, scheduler_limits::system_commands_per_tick_max);
  EXPECT_EQ(scheduler.config().remote_commands_per_tick, scheduler_limits::remote_commands_per_tick_max);
  config.commands_per_player_per_tick = 0;
  EXPECT_EQ(InputScheduler(config, region, hlc).config().commands_per_player_per_tick, 1U);
}

// Any flood, any parts: a tick never holds more than its parts, a player never more than its cap,
// each player's inputs go in sequence order, and every accepted input is scheduled exactly once.
RC_GTEST_PROP(InputScheduler, FloodsNeverExceedTheTicksPartsAndNothingAcceptedIsLost, ()) {
  InputSchedulerConfig config;
  config.max_lead_ticks = *rc::gen::inRange<uint32_t>(0, 5);
  config.max_pending_per_player = *rc::gen::inRange<uint32_t>(1, 70);
  config.commands_per_player_per_tick = *rc::gen::inRange<uint32_t>(1, 9);
  config.player_commands_per_tick = *rc::gen::inRange<uint32_t>(1, 200);
  config.system_commands_per_tick = *rc::gen::inRange<uint32_t>(1, 8);
  Hlc hlc(1000);
  InputScheduler scheduler(config, region, hlc);
  std::set<std::pair<uint32_t, uint32_t>> accepted;
  std::set<std::pair<uint32_t, uint32_t>> scheduled;
  std::map<uint32_t, uint32_t> last_seq;
  size_t system_accepted = 0;
  size_t system_scheduled = 0;
  uint64_t tick = 1;
  auto build = [&] {
    TickInput input;
    scheduler.build(tick, tick, input);
    std::map<uint32_t, uint32_t> per_player;
    size_t players = 0;
    for (const Command& c : input.commands) {
      if (std::holds_alternative<JoinCommand>(c)) {
        RC_ASSERT(players == 0);  // system first
        system_scheduled += 1;
        continue;
      }
      const auto& m = std::get<MoveCommand>(c);
      players += 1;
      per_player[raw(m.player)] += 1;
      RC_ASSERT(m.seq > last_seq[raw(m.player)]);
      last_seq[raw(m.player)] = m.seq;
      RC_ASSERT(scheduled.emplace(raw(m.player), m.seq).second);
    }
    RC_ASSERT(players <= config.player_commands_per_tick);
    RC_ASSERT(input.commands.size() - players <= config.system_commands_per_tick);
    for (const auto& [player, n] : per_player) RC_ASSERT(n <= config.commands_per_player_per_tick);
    tick += 1;
  };
  const auto steps = *rc::gen::inRange(1, 300);
  for (int i = 0; i < steps; ++i) {
    const auto op = *rc::gen::inRange(0, 10);
    if (op < 7) {
      const auto player = *rc::gen::inRange<uint32_t>(1, 30);
      const auto burst = *rc::gen::inRange<uint32_t>(1, 40);
      const auto first = *rc::gen::inRange<uint32_t>(1, 200);
      const uint64_t wanted = tick + *rc::gen::inRange<uint64_t>(0, 8) - std::min<uint64_t>(tick, 3);
      for (uint32_t k = 0; k < burst; ++k) {
        const InputVerdict v = scheduler.submit_player(PlayerId{player}, first + k, wanted, move(Direction::s), tick);
        if (v == InputVerdict::accepted || v == InputVerdict::late) accepted.emplace(player, first + k);
      }
    } else if (op == 7) {
      if (scheduler.submit_system(JoinCommand{PlayerId{1}}) == InputVerdict::accepted) system_accepted += 1;
    } else {
      build();
    }
  }
  // Every build takes at least one command of each part while any is due, and everything is due
  // within max_lead_ticks: so this many builds drain the scheduler (a fixed 400 did not when a
  // tick's players' part is one command and the floods left more than that).
  const size_t drain_max = scheduler.pending() + config.max_lead_ticks + 8;
  for (size_t drain = 0; drain < drain_max && scheduler.pending() > 0; ++drain) build();
  RC_ASSERT(scheduler.pending() == 0U);
  RC_ASSERT(scheduled == accepted);
  RC_ASSERT(system_scheduled == system_accepted);
}

}  // namespace
}  // namespace strata::server
