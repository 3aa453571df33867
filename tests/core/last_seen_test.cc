#include "presence/last_seen.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace presence {
namespace {

constexpr int64_t kSeen = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

LastSeenText At(int64_t offset_ms) {
  return ClassifyLastSeen(kSeen, kSeen + offset_ms);
}

std::string TextAt(int64_t offset_ms) { return FormatLastSeen(At(offset_ms)); }

TEST(LastSeenRule, NeverWhenUnknown) {
  const LastSeenText text = ClassifyLastSeen(std::nullopt, kSeen);
  EXPECT_EQ(text.bucket, LastSeenBucket::kNever);
  EXPECT_EQ(text.count, 0);
  EXPECT_EQ(text.epoch_ms, 0);
  EXPECT_EQ(text.next_change_ms, std::nullopt);
  EXPECT_EQ(FormatLastSeen(text), "Never");
}

TEST(LastSeenRule, JustNowBelowOneMinute) {
  EXPECT_EQ(At(0).bucket, LastSeenBucket::kJustNow);
  EXPECT_EQ(At(59'999).bucket, LastSeenBucket::kJustNow);
  EXPECT_EQ(TextAt(59'999), "Just now");
  EXPECT_EQ(At(0).next_change_ms, kSeen + 60'000);
  EXPECT_EQ(At(0).epoch_ms, kSeen);
  EXPECT_EQ(TextAt(60'000), "1m ago");
}

TEST(LastSeenRule, MinuteBoundaries) {
  EXPECT_EQ(At(60'000).bucket, LastSeenBucket::kMinutes);
  EXPECT_EQ(At(60'000).count, 1);
  EXPECT_EQ(At(60'000).next_change_ms, kSeen + 120'000);
  EXPECT_EQ(At(119'999).count, 1);
  EXPECT_EQ(At(120'000).count, 2);
  EXPECT_EQ(TextAt(5 * kMinuteMs + 30'000), "5m ago");
  EXPECT_EQ(TextAt(kHourMs - 1), "59m ago");
  EXPECT_EQ(At(kHourMs - 1).next_change_ms, kSeen + kHourMs);
}

TEST(LastSeenRule, HourBoundaries) {
  EXPECT_EQ(At(kHourMs).bucket, LastSeenBucket::kHours);
  EXPECT_EQ(TextAt(kHourMs), "1h ago");
  EXPECT_EQ(At(kHourMs).next_change_ms, kSeen + 2 * kHourMs);
  EXPECT_EQ(TextAt(2 * kHourMs - 1), "1h ago");
  EXPECT_EQ(TextAt(2 * kHourMs), "2h ago");
  EXPECT_EQ(TextAt(kDayMs - 1), "23h ago");
  EXPECT_EQ(At(kDayMs - 1).next_change_ms, kSeen + kDayMs);
}

TEST(LastSeenRule, DayBoundaries) {
  EXPECT_EQ(At(kDayMs).bucket, LastSeenBucket::kDays);
  EXPECT_EQ(TextAt(kDayMs), "1d ago");
  EXPECT_EQ(TextAt(2 * kDayMs - 1), "1d ago");
  EXPECT_EQ(TextAt(2 * kDayMs), "2d ago");
  EXPECT_EQ(TextAt(7 * kDayMs - 1), "6d ago");
  EXPECT_EQ(At(7 * kDayMs - 1).next_change_ms, kSeen + 7 * kDayMs);
}

TEST(LastSeenRule, DateFromSevenDays) {
  const LastSeenText text = At(7 * kDayMs);
  EXPECT_EQ(text.bucket, LastSeenBucket::kDate);
  EXPECT_EQ(text.count, 0);
  EXPECT_EQ(text.epoch_ms, kSeen);
  EXPECT_EQ(text.next_change_ms, std::nullopt);
  EXPECT_EQ(FormatLastSeen(text), "11/14/2023");
  EXPECT_EQ(FormatLastSeen(At(400 * kDayMs)), "11/14/2023");
}

TEST(LastSeenRule, FutureCountsAsJustNow) {
  for (int64_t ahead :
       {int64_t{1}, int64_t{59'999}, int64_t{60'000}, int64_t{10} * kDayMs}) {
    const LastSeenText text = ClassifyLastSeen(kSeen, kSeen - ahead);
    EXPECT_EQ(text.bucket, LastSeenBucket::kJustNow) << ahead;
    EXPECT_EQ(text.next_change_ms, kSeen + 60'000) << ahead;
    EXPECT_EQ(FormatLastSeen(text), "Just now");
  }
}

TEST(LastSeenRule, NextChangeIsExact) {
  // Offsets around every boundary plus an irregular sweep over 8 days.
  std::vector<int64_t> offsets;
  for (int64_t unit : {int64_t{1000}, kMinuteMs, kHourMs, kDayMs}) {
    for (int64_t n = 0; n <= 8; ++n) {
      for (int64_t d : {-1, 0, 1}) offsets.push_back(n * unit + d);
    }
  }
  for (int64_t off = -5 * kMinuteMs; off < 8 * kDayMs; off += 7'777'777) {
    offsets.push_back(off);
  }
  for (int64_t off = 0; off < 3 * kHourMs; off += 12'347) {
    offsets.push_back(off);
  }
  int checked = 0;
  for (int64_t off : offsets) {
    const int64_t now = kSeen + off;
    const LastSeenText text = ClassifyLastSeen(kSeen, now);
    if (!text.next_change_ms) {
      EXPECT_EQ(text.bucket, LastSeenBucket::kDate) << off;
      EXPECT_EQ(ClassifyLastSeen(kSeen, now + 365 * kDayMs), text) << off;
      continue;
    }
    const int64_t next = *text.next_change_ms;
    ASSERT_GT(next, now) << off;
    EXPECT_EQ(ClassifyLastSeen(kSeen, next - 1), text) << off;
    const LastSeenText after = ClassifyLastSeen(kSeen, next);
    EXPECT_NE(after, text) << off;
    EXPECT_NE(FormatLastSeen(after), FormatLastSeen(text)) << off;
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

TEST(LastSeenRule, FollowingNextChangeWalksEveryText) {
  // Jumping from change to change visits each text once, in order.
  std::vector<std::string> texts;
  int64_t now = kSeen;
  for (int steps = 0; steps < 200; ++steps) {
    const LastSeenText text = ClassifyLastSeen(kSeen, now);
    texts.push_back(FormatLastSeen(text));
    if (!text.next_change_ms) break;
    now = *text.next_change_ms;
  }
  // Just now + 59 minutes + 23 hours + 6 days + the date.
  ASSERT_EQ(texts.size(), 1u + 59 + 23 + 6 + 1);
  EXPECT_EQ(texts[0], "Just now");
  EXPECT_EQ(texts[1], "1m ago");
  EXPECT_EQ(texts[59], "59m ago");
  EXPECT_EQ(texts[60], "1h ago");
  EXPECT_EQ(texts[82], "23h ago");
  EXPECT_EQ(texts[83], "1d ago");
  EXPECT_EQ(texts[88], "6d ago");
  EXPECT_EQ(texts[89], "11/14/2023");
}

TEST(LastSeenTest, FormatsKnownDates) {
  auto date = [](int64_t ms) {
    LastSeenText text;
    text.bucket = LastSeenBucket::kDate;
    text.epoch_ms = ms;
    return FormatLastSeen(text);
  };
  EXPECT_EQ(date(0), "1/1/1970");
  EXPECT_EQ(date(kDayMs - 1), "1/1/1970");
  EXPECT_EQ(date(-1), "12/31/1969");
  EXPECT_EQ(date(-kDayMs), "12/31/1969");
  EXPECT_EQ(date(1'709'164'800'000), "2/29/2024");  // leap day
  EXPECT_EQ(date(1'709'164'800'000 + kDayMs - 1), "2/29/2024");
  EXPECT_EQ(date(1'709'164'800'000 + kDayMs), "3/1/2024");
  EXPECT_EQ(date(951'782'400'000), "2/29/2000");  // 400-year leap
  EXPECT_EQ(date(946'598'400'000), "12/31/1999");
  EXPECT_EQ(date(4'107'542'400'000 - kDayMs), "2/28/2100");  // not leap
  EXPECT_EQ(date(4'107'542'400'000), "3/1/2100");
  EXPECT_EQ(date(1'699'142'400'000), "11/5/2023");
}

TEST(LastSeenTest, ExtremeTimesDoNotOverflow) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  const LastSeenText old = ClassifyLastSeen(kMin, kMax);
  EXPECT_EQ(old.bucket, LastSeenBucket::kDate);
  EXPECT_FALSE(FormatLastSeen(old).empty());
  const LastSeenText future = ClassifyLastSeen(kMax, kMin);
  EXPECT_EQ(future.bucket, LastSeenBucket::kJustNow);
  EXPECT_EQ(future.next_change_ms, std::nullopt);  // past the end of time
  EXPECT_EQ(ApproximateLastSeen(kMin, kMax), ApproxLastSeen::kLongAgo);
  EXPECT_EQ(ApproximateLastSeen(kMax, kMin), ApproxLastSeen::kRecently);
}

TEST(LastSeenTest, ApproximateBuckets) {
  auto approx = [](int64_t off) {
    return ApproximateLastSeen(kSeen, kSeen + off);
  };
  EXPECT_EQ(approx(-kDayMs), ApproxLastSeen::kRecently);
  EXPECT_EQ(approx(0), ApproxLastSeen::kRecently);
  EXPECT_EQ(approx(3 * kDayMs - 1), ApproxLastSeen::kRecently);
  EXPECT_EQ(approx(3 * kDayMs), ApproxLastSeen::kWithinWeek);
  EXPECT_EQ(approx(7 * kDayMs - 1), ApproxLastSeen::kWithinWeek);
  EXPECT_EQ(approx(7 * kDayMs), ApproxLastSeen::kWithinMonth);
  EXPECT_EQ(approx(30 * kDayMs - 1), ApproxLastSeen::kWithinMonth);
  EXPECT_EQ(approx(30 * kDayMs), ApproxLastSeen::kLongAgo);
  EXPECT_EQ(ToString(ApproxLastSeen::kRecently), "recently");
  EXPECT_EQ(ToString(ApproxLastSeen::kWithinWeek), "within a week");
  EXPECT_EQ(ToString(ApproxLastSeen::kWithinMonth), "within a month");
  EXPECT_EQ(ToString(ApproxLastSeen::kLongAgo), "a long time ago");
}

}  // namespace
}  // namespace presence
