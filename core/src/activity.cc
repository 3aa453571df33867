#include "presence/activity.h"

namespace presence {

bool ExpiringActivity::Set(const Activity& activity, int64_t now_ms) {
  if (activity.kind == ActivityKind::kIdle) return Clear();
  const bool changed = current_ != activity;
  current_ = activity;
  // A refresh of the same activity only moves the deadline: nothing a viewer
  // sees changes, so the caller has nothing to send.
  int64_t deadline = 0;
  if (__builtin_add_overflow(now_ms, lifetime_ms_, &deadline)) {
    deadline = now_ms;  // an absurd lifetime expires at once, never wraps
  }
  expires_at_ms_ = deadline;
  return changed;
}

bool ExpiringActivity::Clear() {
  const bool had = current_.has_value();
  current_.reset();
  expires_at_ms_.reset();
  return had;
}

bool ExpiringActivity::HandleTimeout(int64_t now_ms) {
  if (!expires_at_ms_ || now_ms < *expires_at_ms_) return false;
  return Clear();
}

}  // namespace presence
