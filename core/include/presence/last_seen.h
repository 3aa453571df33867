// "Last seen" as buckets, with the moment the text next changes.
//
// `ClassifyLastSeen` gives the seed's exact buckets: Just now (< 60 s),
// N minutes (< 60 min), N hours (< 24 h), N days (< 7 d), then a date; Never
// when unknown. A last seen in the future (clock skew) counts as Just now.
// `next_change_ms` is the absolute time at which the bucket or count will
// change, so a UI can re-render exactly then instead of every minute; it is
// nullopt when the text never changes (Never, a date).
//
// `ApproximateLastSeen` gives the coarse buckets a privacy-conscious UI may
// show instead of a time (recently < 3 d, within a week < 7 d, within a month
// < 30 d, a long time ago).
//
// All functions are pure; times are epoch milliseconds.

#ifndef PRESENCE_LAST_SEEN_H_
#define PRESENCE_LAST_SEEN_H_

#include <cstdint>
#include <optional>
#include <string>

namespace presence {

enum class LastSeenBucket : uint8_t {
  kNever,
  kJustNow,
  kMinutes,
  kHours,
  kDays,
  kDate,
};

struct LastSeenText {
  LastSeenBucket bucket = LastSeenBucket::kNever;
  int64_t count = 0;     // N for minutes/hours/days, else 0
  int64_t epoch_ms = 0;  // the last seen time itself (0 for Never)
  std::optional<int64_t> next_change_ms;
  bool operator==(const LastSeenText&) const = default;
};

enum class ApproxLastSeen : uint8_t {
  kRecently,
  kWithinWeek,
  kWithinMonth,
  kLongAgo,
};

inline constexpr int64_t kMinuteMs = 60'000;
inline constexpr int64_t kHourMs = 60 * kMinuteMs;
inline constexpr int64_t kDayMs = 24 * kHourMs;

LastSeenText ClassifyLastSeen(std::optional<int64_t> last_seen_ms,
                              int64_t now_ms);

// English text as the seed writes it: "Never", "Just now", "5m ago",
// "3h ago", "2d ago", or the date as M/D/YYYY (UTC).
std::string FormatLastSeen(const LastSeenText& text);

ApproxLastSeen ApproximateLastSeen(int64_t last_seen_ms, int64_t now_ms);

// "recently", "within a week", "within a month", "a long time ago".
std::string_view ToString(ApproxLastSeen approx);

}  // namespace presence

#endif  // PRESENCE_LAST_SEEN_H_
