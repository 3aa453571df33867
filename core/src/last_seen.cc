#include "presence/last_seen.h"

#include <limits>
#include <string>

namespace presence {
namespace {

// a - b, saturated: a last seen may come from anywhere (a peer, storage), and
// a wrapped difference would put a very old time in the future.
int64_t SaturatingSub(int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_sub_overflow(a, b, &out)) {
    return b < 0 ? std::numeric_limits<int64_t>::max()
                 : std::numeric_limits<int64_t>::min();
  }
  return out;
}

// last_seen + steps * unit, or nullopt when that moment is not representable
// (the text then never changes within int64 time).
std::optional<int64_t> At(int64_t last_seen, int64_t steps, int64_t unit) {
  int64_t offset = 0;
  int64_t out = 0;
  if (__builtin_mul_overflow(steps, unit, &offset) ||
      __builtin_add_overflow(last_seen, offset, &out)) {
    return std::nullopt;
  }
  return out;
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

struct CivilDate {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

// Howard Hinnant's civil_from_days: proleptic Gregorian, days since
// 1970-01-01. Pure arithmetic, so no dependency on the C library's time zone
// state.
CivilDate CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);  // [0, 146096]
  const unsigned yoe =
      (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);  // [0, 365]
  const unsigned mp = (5 * doy + 2) / 153;                       // [0, 11]
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;               // [1, 31]
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;                  // [1, 12]
  return {m <= 2 ? y + 1 : y, m, d};
}

}  // namespace

LastSeenText ClassifyLastSeen(std::optional<int64_t> last_seen_ms,
                              int64_t now_ms) {
  LastSeenText out;
  if (!last_seen_ms) return out;
  const int64_t last_seen = *last_seen_ms;
  out.epoch_ms = last_seen;
  const int64_t diff = SaturatingSub(now_ms, last_seen);

  // A future last seen (clock skew) reads as Just now until a minute past it.
  if (diff < kMinuteMs) {
    out.bucket = LastSeenBucket::kJustNow;
    out.next_change_ms = At(last_seen, 1, kMinuteMs);
    return out;
  }
  // diff >= 0 here, so the seed's nested floors equal these plain divisions,
  // and each count changes exactly at the next multiple of its unit (the last
  // count of a unit rolls over to 1 of the next one at that same moment).
  struct Rung {
    LastSeenBucket bucket;
    int64_t unit;
    int64_t limit;  // counts below this stay in the bucket
  };
  constexpr Rung kRungs[] = {
      {LastSeenBucket::kMinutes, kMinuteMs, 60},
      {LastSeenBucket::kHours, kHourMs, 24},
      {LastSeenBucket::kDays, kDayMs, 7},
  };
  for (const Rung& rung : kRungs) {
    const int64_t count = diff / rung.unit;
    if (count < rung.limit) {
      out.bucket = rung.bucket;
      out.count = count;
      out.next_change_ms = At(last_seen, count + 1, rung.unit);
      return out;
    }
  }
  out.bucket = LastSeenBucket::kDate;
  return out;
}

std::string FormatLastSeen(const LastSeenText& text) {
  switch (text.bucket) {
    case LastSeenBucket::kNever:
      return "Never";
    case LastSeenBucket::kJustNow:
      return "Just now";
    case LastSeenBucket::kMinutes:
      return std::to_string(text.count) + "m ago";
    case LastSeenBucket::kHours:
      return std::to_string(text.count) + "h ago";
    case LastSeenBucket::kDays:
      return std::to_string(text.count) + "d ago";
    case LastSeenBucket::kDate: {
      const CivilDate date = CivilFromDays(FloorDiv(text.epoch_ms, kDayMs));
      return std::to_string(date.month) + "/" + std::to_string(date.day) + "/" +
             std::to_string(date.year);
    }
  }
  return "Never";
}

ApproxLastSeen ApproximateLastSeen(int64_t last_seen_ms, int64_t now_ms) {
  const int64_t diff = SaturatingSub(now_ms, last_seen_ms);
  if (diff < 3 * kDayMs) return ApproxLastSeen::kRecently;
  if (diff < 7 * kDayMs) return ApproxLastSeen::kWithinWeek;
  if (diff < 30 * kDayMs) return ApproxLastSeen::kWithinMonth;
  return ApproxLastSeen::kLongAgo;
}

std::string_view ToString(ApproxLastSeen approx) {
  switch (approx) {
    case ApproxLastSeen::kRecently:
      return "recently";
    case ApproxLastSeen::kWithinWeek:
      return "within a week";
    case ApproxLastSeen::kWithinMonth:
      return "within a month";
    case ApproxLastSeen::kLongAgo:
      return "a long time ago";
  }
  return "a long time ago";
}

}  // namespace presence
