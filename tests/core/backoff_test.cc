#include "presence/backoff.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace presence {
namespace {

TEST(ClientRule, BackoffIsExponentialWithFullJitterCappedAt30s) {
  Backoff backoff(BackoffPolicy{}, [] { return 0.999999; });
  const std::vector<int64_t> expected = {500,   1000,  2000,  4000,  8000,
                                         16000, 30000, 30000, 30000, 30000};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(backoff.CurrentCeiling(), expected[i]) << i;
    EXPECT_EQ(backoff.NextDelay(), expected[i]) << i;
    EXPECT_EQ(backoff.attempt(), static_cast<int>(i + 1));
  }
}

TEST(ClientRule, BackoffWithZeroRandomIsAlwaysZero) {
  Backoff backoff(BackoffPolicy{}, [] { return 0.0; });
  for (int i = 0; i < 50; ++i) EXPECT_EQ(backoff.NextDelay(), 0) << i;
  EXPECT_EQ(backoff.CurrentCeiling(), 30'000);
}

TEST(ClientRule, BackoffResetStartsOver) {
  Backoff backoff(BackoffPolicy{}, [] { return 0.999999; });
  for (int i = 0; i < 5; ++i) backoff.NextDelay();
  EXPECT_EQ(backoff.CurrentCeiling(), 16'000);
  backoff.Reset();
  EXPECT_EQ(backoff.attempt(), 0);
  EXPECT_EQ(backoff.CurrentCeiling(), 500);
  EXPECT_EQ(backoff.NextDelay(), 500);
}

TEST(ClientRule, BackoffJitterIsUniform) {
  Backoff backoff(BackoffPolicy{}, uint64_t{42});
  for (int i = 0; i < 7; ++i) backoff.NextDelay();
  ASSERT_EQ(backoff.CurrentCeiling(), 30'000);
  double sum = 0;
  int low = 0;
  int64_t min = 30'000;
  int64_t max = 0;
  constexpr int kDraws = 10'000;
  for (int i = 0; i < kDraws; ++i) {
    const int64_t d = backoff.NextDelay();
    ASSERT_GE(d, 0);
    ASSERT_LE(d, 30'000);
    sum += static_cast<double>(d);
    if (d < 15'000) ++low;
    if (d < min) min = d;
    if (d > max) max = d;
  }
  EXPECT_NEAR(sum / kDraws, 15'000, 750);  // within 5 % of ceiling / 2
  EXPECT_NEAR(low, kDraws / 2, kDraws / 20);
  EXPECT_LT(min, 300);  // reaches both ends of [0, ceiling]
  EXPECT_GT(max, 29'700);
}

TEST(ClientRule, BackoffSameSeedSameDelays) {
  Backoff a(BackoffPolicy{}, uint64_t{7});
  Backoff b(BackoffPolicy{}, uint64_t{7});
  Backoff c(BackoffPolicy{}, uint64_t{8});
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const int64_t da = a.NextDelay();
    EXPECT_EQ(da, b.NextDelay()) << i;
    if (da != c.NextDelay()) differs = true;
  }
  EXPECT_TRUE(differs);
}

TEST(BackoffTest, LargeAttemptsStayAtCap) {
  Backoff backoff(BackoffPolicy{}, [] { return 0.999999; });
  for (int i = 0; i < 1000; ++i) backoff.NextDelay();
  EXPECT_EQ(backoff.attempt(), 1000);
  EXPECT_EQ(backoff.CurrentCeiling(), 30'000);
  EXPECT_EQ(backoff.NextDelay(), 30'000);

  // A huge cap: doubling would pass INT64_MAX long before attempt 1000.
  BackoffPolicy wide{500, INT64_MAX};
  Backoff big(wide, [] { return 0.999999; });
  for (int i = 0; i < 1000; ++i) big.NextDelay();
  EXPECT_EQ(big.CurrentCeiling(), INT64_MAX);
  const int64_t d = big.NextDelay();
  EXPECT_GT(d, 0);
  EXPECT_LE(d, INT64_MAX);
}

TEST(BackoffTest, OutOfRangeRandomIsClamped) {
  Backoff one(BackoffPolicy{}, [] { return 1.0; });
  EXPECT_EQ(one.NextDelay(), 500);
  Backoff above(BackoffPolicy{}, [] { return 7.5; });
  EXPECT_EQ(above.NextDelay(), 500);
  Backoff negative(BackoffPolicy{}, [] { return -0.5; });
  EXPECT_EQ(negative.NextDelay(), 0);
  Backoff half(BackoffPolicy{}, [] { return 0.5; });
  EXPECT_EQ(half.NextDelay(), 250);  // floor(0.5 * 501)
}

TEST(BackoffTest, CapBelowBase) {
  Backoff backoff(BackoffPolicy{5000, 1000}, [] { return 0.999999; });
  EXPECT_EQ(backoff.NextDelay(), 1000);
  EXPECT_EQ(backoff.NextDelay(), 1000);
}

TEST(BackoffTest, EmptyRandomSourceFallsBackToGenerator) {
  Backoff backoff(BackoffPolicy{}, Backoff::RandomSource{});
  const int64_t d = backoff.NextDelay();
  EXPECT_GE(d, 0);
  EXPECT_LE(d, 500);
}

TEST(BackoffTest, SplitMix64ReferenceValues) {
  // Reference outputs of Vigna's splitmix64.c for seed 0.
  SplitMix64 rng(0);
  EXPECT_EQ(rng.Next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(rng.Next(), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(rng.Next(), 0x06C45D188009454FULL);
}

TEST(BackoffTest, NextUnitUsesTop53Bits) {
  SplitMix64 a(123);
  SplitMix64 b(123);
  for (int i = 0; i < 1000; ++i) {
    const uint64_t bits = a.Next();
    const double unit = b.NextUnit();
    ASSERT_GE(unit, 0.0);
    ASSERT_LT(unit, 1.0);
    EXPECT_EQ(unit, static_cast<double>(bits >> 11) / 9007199254740992.0);
  }
}

}  // namespace
}  // namespace presence
