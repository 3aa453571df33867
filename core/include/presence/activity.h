// An activity that expires unless refreshed, on either side of the wire.
//
// The sender (client session) holds the local user's activity and clears it
// kActivityAutoClearMs after the last `Set` (the seed's rule: typing stops
// showing 3 s after the last keystroke). The receiver (hub) holds each user's
// activity and clears it `activityTtlMs` after the last activity frame. Both
// are this one timer with a different lifetime.
//
// Setting `idle` clears at once: idle is the absence of an activity.
// `HandleTimeout(now)` is harmless to call at any time; it returns true only
// on the call that cleared the activity.

#ifndef PRESENCE_ACTIVITY_H_
#define PRESENCE_ACTIVITY_H_

#include <cstdint>
#include <optional>

#include "presence/model.h"

namespace presence {

inline constexpr int64_t kActivityAutoClearMs = 3000;

class ExpiringActivity {
 public:
  explicit ExpiringActivity(int64_t lifetime_ms) : lifetime_ms_(lifetime_ms) {}

  // Stores `activity` until now + lifetime (idle clears). Returns true if
  // the visible activity changed.
  bool Set(const Activity& activity, int64_t now_ms);
  // Returns true if there was an activity.
  bool Clear();
  // Clears the activity if its lifetime is over; true if it did.
  bool HandleTimeout(int64_t now_ms);

  const std::optional<Activity>& current() const { return current_; }
  std::optional<int64_t> deadline() const { return expires_at_ms_; }
  int64_t lifetime_ms() const { return lifetime_ms_; }

 private:
  int64_t lifetime_ms_;
  std::optional<Activity> current_;
  std::optional<int64_t> expires_at_ms_;
};

}  // namespace presence

#endif  // PRESENCE_ACTIVITY_H_
