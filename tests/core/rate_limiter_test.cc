#include "presence/rate_limiter.h"

#include <gtest/gtest.h>

namespace presence {
namespace {

TEST(LimitsRule, BurstOf60ThenReject) {
  RateLimiter limiter({}, 1000);
  for (int i = 0; i < 60; ++i) {
    ASSERT_EQ(limiter.Take(1000), RateDecision::kAllow) << i;
  }
  EXPECT_EQ(limiter.Take(1000), RateDecision::kReject);
  // One token comes back every 50 ms at 20/s.
  EXPECT_EQ(limiter.Take(1049), RateDecision::kReject);
  EXPECT_EQ(limiter.Take(1050), RateDecision::kAllow);
  EXPECT_EQ(limiter.Take(1050), RateDecision::kReject);
}

TEST(LimitsRule, Sustained20PerSecondIsAllowedForever) {
  RateLimiter limiter({}, 0);
  // Ten minutes at exactly 20 frames/s, starting from a spent burst.
  for (int i = 0; i < 60; ++i) ASSERT_EQ(limiter.Take(0), RateDecision::kAllow);
  for (int64_t t = 50; t <= 10 * 60'000; t += 50) {
    ASSERT_EQ(limiter.Take(t), RateDecision::kAllow) << t;
  }
  EXPECT_EQ(limiter.Take(10 * 60'000), RateDecision::kReject);
}

TEST(LimitsRule, TwentyPerSecondInClumpsIsAllowed) {
  RateLimiter limiter({}, 0);
  // A client that flushes once a second sends 20 frames at once.
  for (int64_t second = 0; second < 600; ++second) {
    for (int i = 0; i < 20; ++i) {
      ASSERT_EQ(limiter.Take(second * 1000), RateDecision::kAllow)
          << second << " " << i;
    }
  }
}

TEST(LimitsRule, FloodEscalatesToClose) {
  RateLimit limit;
  RateLimiter limiter(limit, 0);
  int allowed = 0;
  int rejected = 0;
  RateDecision last = RateDecision::kAllow;
  int64_t t = 0;
  // 1000 frames/s: far above 20/s.
  for (int i = 0; i < 2000 && last != RateDecision::kClose; ++i, ++t) {
    last = limiter.Take(t);
    if (last == RateDecision::kAllow) ++allowed;
    if (last == RateDecision::kReject) ++rejected;
  }
  EXPECT_EQ(last, RateDecision::kClose);
  EXPECT_EQ(rejected, limit.max_rejections);
  EXPECT_GE(allowed, 60);
  EXPECT_LT(t, 1000);  // closed well inside one rejection window
}

TEST(LimitsRule, TimeGoingBackwardsAddsNoTokens) {
  RateLimiter limiter({}, 10'000);
  for (int i = 0; i < 60; ++i) limiter.Take(10'000);
  EXPECT_EQ(limiter.Take(10'000), RateDecision::kReject);
  EXPECT_EQ(limiter.Take(0), RateDecision::kReject);
  EXPECT_EQ(limiter.tokens(), 0.0);
  // Back at the latest time, the interval spent in the past is not credited.
  EXPECT_EQ(limiter.Take(10'049), RateDecision::kReject);
  EXPECT_EQ(limiter.Take(10'050), RateDecision::kAllow);
}

TEST(LimitsRule, RejectionWindowResets) {
  RateLimit limit;
  limit.frames_per_second = 0;  // no refill: every later frame is rejected
  limit.burst = 1;
  limit.max_rejections = 3;
  limit.rejection_window_ms = 1000;
  RateLimiter limiter(limit, 0);
  EXPECT_EQ(limiter.Take(0), RateDecision::kAllow);
  EXPECT_EQ(limiter.Take(100), RateDecision::kReject);  // window opens at 100
  EXPECT_EQ(limiter.Take(200), RateDecision::kReject);
  EXPECT_EQ(limiter.Take(1099), RateDecision::kReject);
  // The window has passed: the count starts again.
  EXPECT_EQ(limiter.Take(1100), RateDecision::kReject);
  EXPECT_EQ(limiter.Take(1101), RateDecision::kReject);
  EXPECT_EQ(limiter.Take(1102), RateDecision::kReject);
  EXPECT_EQ(limiter.Take(1103), RateDecision::kClose);  // 4th in the window
}

TEST(RateLimiterTest, StartsFullAndCapsAtBurst) {
  RateLimiter limiter({}, 0);
  EXPECT_EQ(limiter.tokens(), 60.0);
  limiter.Take(0);
  EXPECT_EQ(limiter.tokens(), 59.0);
  limiter.Take(3'600'000);  // an hour idle refills only to the burst
  EXPECT_EQ(limiter.tokens(), 59.0);
}

TEST(RateLimiterTest, RefillIsContinuous) {
  RateLimit limit;
  limit.frames_per_second = 10;
  limit.burst = 2;
  RateLimiter limiter(limit, 0);
  limiter.Take(0);
  limiter.Take(0);
  EXPECT_EQ(limiter.tokens(), 0.0);
  EXPECT_EQ(limiter.Take(30), RateDecision::kReject);
  EXPECT_NEAR(limiter.tokens(), 0.3, 1e-9);
  EXPECT_EQ(limiter.Take(100), RateDecision::kAllow);  // 0.3 + 0.7
  EXPECT_NEAR(limiter.tokens(), 0.0, 1e-9);
}

}  // namespace
}  // namespace presence
