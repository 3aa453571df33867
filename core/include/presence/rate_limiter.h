// A token bucket per connection (DESIGN.md "Limits": 20 frames/s sustained,
// bursts of 60), with the escalation from `rate_limited` to a close.
//
// `Take(now)` spends one token: kAllow if there was one; kReject if not
// (answer `rate_limited`, drop the frame); kClose once more than
// `max_rejections` frames have been rejected within one `rejection_window_ms`
// (sustained abuse: close with 1008). Time must not go backwards; if it does
// it is treated as no time passing.

#ifndef PRESENCE_RATE_LIMITER_H_
#define PRESENCE_RATE_LIMITER_H_

#include <cstdint>

namespace presence {

struct RateLimit {
  double frames_per_second = 20;
  double burst = 60;
  int max_rejections = 40;
  int64_t rejection_window_ms = 10'000;
};

enum class RateDecision : uint8_t { kAllow, kReject, kClose };

class RateLimiter {
 public:
  explicit RateLimiter(RateLimit limit = {}, int64_t now_ms = 0);

  RateDecision Take(int64_t now_ms);
  double tokens() const { return tokens_; }

 private:
  RateLimit limit_;
  double tokens_;
  int64_t last_refill_ms_;
  int rejections_ = 0;
  int64_t window_start_ms_ = 0;
};

}  // namespace presence

#endif  // PRESENCE_RATE_LIMITER_H_
