// tests/sim/assert_test.cpp — death tests of STRATA_ASSERT and STRATA_REQUIRE (sim/assert.h): they fire
// with NDEBUG defined, print the kind, the condition and the values, and cost a passing check one
// evaluation of its condition and none of its values.
#ifndef NDEBUG
#define NDEBUG  // the point: these checks stay on in release builds
#endif

#include <gtest/gtest.h>

#include <cassert>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "sim/assert.h"
#include "sim/fixed.h"
#include "sim/types.h"

namespace strata::sim {
namespace {

int evaluations = 0;
int counted(int value) {
  ++evaluations;
  return value;
}

TEST(AssertTest, TheBuildHasNdebugAndAssertIsCompiledOut) {
  int calls = 0;
  assert(++calls == 100);  // compiled out: would abort otherwise
  EXPECT_EQ(calls, 0);
}

TEST(AssertDeathTest, AssertPrintsKindConditionAndValues) {
  const int a = 3;
  const int b = 2;
  EXPECT_DEATH(STRATA_ASSERT(a <= b, a, b),
               "assert_test.cpp:[0-9]+: STRATA_ASSERT failed \\(a bug here\\): a <= b; a = 3, b = 2");
}

TEST(AssertDeathTest, RequirePrintsKindConditionAndValues) {
  const uint32_t count = 9;
  const uint32_t limit = 8;
  EXPECT_DEATH(STRATA_REQUIRE(count <= limit, "a batch over its limit", count, limit),
               "STRATA_REQUIRE failed \\(a bug in the caller\\): count <= limit; a batch over its limit, "
               "count = 9, limit = 8");
}

TEST(AssertDeathTest, NoValuesPrintsTheCondition) {
  const bool ready = false;
  EXPECT_DEATH(STRATA_ASSERT(ready), "STRATA_ASSERT failed \\(a bug here\\): ready\n");
}

TEST(AssertDeathTest, PrintsEachKindOfValue) {
  const PlayerId player{7};
  const Direction direction = Direction::e;
  const int64_t negative = -5;
  const uint64_t big = std::numeric_limits<uint64_t>::max();
  const bool flag = true;
  const char letter = 'x';
  const std::string_view name = "ab\x01";
  const std::string owned = "owned";
  const char* missing = nullptr;
  const Fixed half = Fixed::from_raw(limits::fixed_one / 2);
  EXPECT_DEATH(STRATA_ASSERT(negative > 0, player, direction, negative, big, flag, letter, name, owned, missing, half),
               "negative > 0; player = 7, direction = 3, negative = -5, big = 18446744073709551615, flag = true, "
               "letter = 'x', name = \"ab\\?\", owned = \"owned\", missing = \"\\(null\\)\", half = [0-9]+");
}

TEST(AssertDeathTest, ValueTextsKeepCommasInsideCalls) {
  const int a = 4;
  const int b = 6;
  EXPECT_DEATH(STRATA_ASSERT(a > b, std::max(a, b), a + b), "a > b; std::max\\(a, b\\) = 6, a \\+ b = 10");
}

TEST(AssertDeathTest, ConditionIsEvaluatedOnceWhenItFails) {
  int n = 0;
  EXPECT_DEATH(STRATA_ASSERT(++n == 5, n), "\\+\\+n == 5; n = 1");
}

TEST(AssertDeathTest, LongTextValuesAreCut) {
  const std::string long_text(1000, 'z');
  EXPECT_DEATH(STRATA_ASSERT(long_text.empty(), long_text), "long_text = \"z{256}\\.\\.\\.\"");
}

TEST(AssertTest, PassingCheckEvaluatesItsConditionOnceAndNoValues) {
  evaluations = 0;
  int n = 0;
  STRATA_ASSERT(++n == 1, counted(1), counted(2));
  STRATA_REQUIRE(++n == 2, "message", counted(3));
  EXPECT_EQ(n, 2);
  EXPECT_EQ(evaluations, 0);
}

TEST(AssertTest, ChecksAreStatementsThatFitAnIfWithoutBraces) {
  int n = 0;
  if (n == 0)
    STRATA_ASSERT(n == 0, n);
  else
    STRATA_REQUIRE(n != 0);
  EXPECT_EQ(n, 0);
}

}  // namespace
}  // namespace strata::sim
