#include "presence/attention.h"

#include <gtest/gtest.h>

namespace presence {
namespace {

constexpr int64_t kT0 = 1'000'000;
constexpr int64_t kIdle = 60'000;

TEST(AttentionTest, StartsPresentWithNoIdleClockUntilTheFirstSignal) {
  Attention attention(kIdle);
  EXPECT_FALSE(attention.away());
  EXPECT_EQ(attention.deadline(), std::nullopt);
  // A host without a page never reports; time alone changes nothing.
  EXPECT_FALSE(attention.HandleTimeout(kT0 + 10 * kIdle));
  EXPECT_FALSE(attention.away());
}

TEST(AttentionTest, HiddenIsAwayAndShownIsPresent) {
  Attention attention(kIdle);
  EXPECT_TRUE(attention.SetVisible(false, kT0));
  EXPECT_TRUE(attention.away());
  EXPECT_EQ(attention.deadline(), std::nullopt);  // hidden: no idle timer
  EXPECT_FALSE(attention.SetVisible(false, kT0 + 1));
  EXPECT_TRUE(attention.SetVisible(true, kT0 + 2));
  EXPECT_FALSE(attention.away());
  EXPECT_EQ(attention.deadline(), kT0 + 2 + kIdle);
}

TEST(AttentionTest, BlurIsAwayAndFocusIsPresent) {
  Attention attention(kIdle);
  EXPECT_FALSE(attention.SetFocused(true, kT0));
  EXPECT_TRUE(attention.SetFocused(false, kT0 + 1));
  EXPECT_TRUE(attention.away());
  // Input into an unfocused window (a scroll under the pointer) does not
  // bring the page back: focus does.
  EXPECT_FALSE(attention.HandleInput(kT0 + 2));
  EXPECT_TRUE(attention.away());
  EXPECT_TRUE(attention.SetFocused(true, kT0 + 3));
  EXPECT_FALSE(attention.away());
}

TEST(AttentionTest, IdleAfterIdleMsWithoutInputAndBackOnInput) {
  Attention attention(kIdle);
  attention.HandleInput(kT0);
  EXPECT_EQ(attention.deadline(), kT0 + kIdle);
  EXPECT_FALSE(attention.HandleTimeout(kT0 + kIdle - 1));
  EXPECT_TRUE(attention.HandleTimeout(kT0 + kIdle));
  EXPECT_TRUE(attention.away());
  EXPECT_TRUE(attention.idle());
  EXPECT_EQ(attention.deadline(), std::nullopt);
  EXPECT_TRUE(attention.HandleInput(kT0 + kIdle + 5));
  EXPECT_FALSE(attention.away());
}

TEST(AttentionTest, InputNeverMovesTheDeadlineEarlier) {
  Attention attention(kIdle);
  attention.HandleInput(kT0);
  const int64_t first = *attention.deadline();
  attention.HandleInput(kT0 + 1000);
  EXPECT_GT(*attention.deadline(), first);
  // A timer set for the first deadline fires early: nothing happens, and
  // the deadline read afterwards is the later one.
  EXPECT_FALSE(attention.HandleTimeout(first));
  EXPECT_FALSE(attention.away());
  EXPECT_EQ(attention.deadline(), kT0 + 1000 + kIdle);
}

TEST(AttentionTest, ShowingOrFocusingCountsAsInput) {
  Attention attention(kIdle);
  attention.HandleInput(kT0);
  ASSERT_TRUE(attention.HandleTimeout(kT0 + kIdle));
  EXPECT_TRUE(attention.SetFocused(true, kT0 + kIdle + 1));
  EXPECT_FALSE(attention.idle());

  ASSERT_TRUE(attention.HandleTimeout(kT0 + 3 * kIdle));
  // Already away (idle): hiding changes nothing others see.
  EXPECT_FALSE(attention.SetVisible(false, kT0 + 3 * kIdle + 1));
  EXPECT_TRUE(attention.SetVisible(true, kT0 + 3 * kIdle + 2));
  EXPECT_FALSE(attention.idle());
}

TEST(AttentionTest, ShowingATabRestoresFocusLostBeforeHiding) {
  Attention attention(kIdle);
  attention.SetFocused(false, kT0);  // blur fires before the tab hides
  attention.SetVisible(false, kT0 + 1);
  EXPECT_TRUE(attention.SetVisible(true, kT0 + 2));
  EXPECT_FALSE(attention.away());
}

TEST(AttentionTest, IdleMsZeroNeverIdles) {
  Attention attention(0);
  attention.HandleInput(kT0);
  EXPECT_EQ(attention.deadline(), std::nullopt);
  EXPECT_FALSE(attention.HandleTimeout(kT0 + 1'000'000'000));
  EXPECT_FALSE(attention.away());
}

}  // namespace
}  // namespace presence
