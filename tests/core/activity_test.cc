#include "presence/activity.h"

#include <gtest/gtest.h>

namespace presence {
namespace {

TEST(ActivityRule, SenderClearsThreeSecondsAfterLastKeystroke) {
  ExpiringActivity typing(kActivityAutoClearMs);
  EXPECT_TRUE(typing.Set(Activity::Typing("c1"), 1000));
  EXPECT_EQ(typing.deadline(), 4000);
  // Keystrokes keep it alive: each refresh moves the deadline.
  EXPECT_FALSE(typing.Set(Activity::Typing("c1"), 2500));
  EXPECT_EQ(typing.deadline(), 5500);
  EXPECT_FALSE(typing.HandleTimeout(4000));
  EXPECT_FALSE(typing.HandleTimeout(5499));
  EXPECT_EQ(typing.current(), Activity::Typing("c1"));
  EXPECT_TRUE(typing.HandleTimeout(5500));
  EXPECT_EQ(typing.current(), std::nullopt);
  EXPECT_EQ(typing.deadline(), std::nullopt);
}

TEST(ActivityRule, ReceiverClearsAfterTtl) {
  constexpr int64_t kTtl = 3000;  // DESIGN.md activityTtlMs default
  ExpiringActivity viewing(kTtl);
  EXPECT_EQ(viewing.lifetime_ms(), kTtl);
  EXPECT_TRUE(viewing.Set(Activity::Viewing("/inbox"), 10'000));
  EXPECT_FALSE(viewing.HandleTimeout(12'999));
  EXPECT_TRUE(viewing.HandleTimeout(13'000));
  // A late or repeated timeout is a harmless no-op.
  EXPECT_FALSE(viewing.HandleTimeout(13'000));
  EXPECT_FALSE(viewing.HandleTimeout(99'000));
}

TEST(ActivityRule, IdleClearsAtOnce) {
  ExpiringActivity activity(5000);
  EXPECT_TRUE(activity.Set(Activity::Busy("meeting"), 0));
  EXPECT_TRUE(activity.Set(Activity::Idle(), 10));
  EXPECT_EQ(activity.current(), std::nullopt);
  EXPECT_EQ(activity.deadline(), std::nullopt);
  EXPECT_FALSE(activity.Set(Activity::Idle(), 20));  // nothing to clear
}

TEST(ActivityTest, ChangingActivityIsVisible) {
  ExpiringActivity activity(3000);
  EXPECT_TRUE(activity.Set(Activity::Viewing("/a"), 0));
  EXPECT_TRUE(activity.Set(Activity::Viewing("/b"), 100));
  EXPECT_EQ(activity.current(), Activity::Viewing("/b"));
  EXPECT_TRUE(activity.Set(Activity::Typing("/b"), 200));
  EXPECT_EQ(activity.current(), Activity::Typing("/b"));
  EXPECT_EQ(activity.deadline(), 3200);
}

TEST(ActivityTest, ClearReportsWhetherThereWasOne) {
  ExpiringActivity activity(3000);
  EXPECT_FALSE(activity.Clear());
  activity.Set(Activity::Typing("c"), 0);
  EXPECT_TRUE(activity.Clear());
  EXPECT_FALSE(activity.Clear());
  EXPECT_FALSE(activity.HandleTimeout(10'000));
}

TEST(ActivityTest, TimeoutWithNothingSetIsNoOp) {
  ExpiringActivity activity(3000);
  EXPECT_FALSE(activity.HandleTimeout(0));
  EXPECT_FALSE(activity.HandleTimeout(-5));
  EXPECT_EQ(activity.current(), std::nullopt);
}

TEST(ActivityTest, SetAgainAfterExpiryIsVisibleAgain) {
  ExpiringActivity activity(1000);
  EXPECT_TRUE(activity.Set(Activity::Typing("c"), 0));
  EXPECT_TRUE(activity.HandleTimeout(1000));
  EXPECT_TRUE(activity.Set(Activity::Typing("c"), 1500));
  EXPECT_EQ(activity.deadline(), 2500);
}

}  // namespace
}  // namespace presence
