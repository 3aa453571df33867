#include "presence/rate_limiter.h"

#include <algorithm>

namespace presence {
namespace {

// b - a for a <= b without signed overflow.
double Elapsed(int64_t a, int64_t b) {
  return static_cast<double>(static_cast<uint64_t>(b) -
                             static_cast<uint64_t>(a));
}

}  // namespace

RateLimiter::RateLimiter(RateLimit limit, int64_t now_ms)
    : limit_(limit), tokens_(limit.burst), last_refill_ms_(now_ms) {}

RateDecision RateLimiter::Take(int64_t now_ms) {
  // A clock that steps back adds nothing, and last_refill_ms_ keeps the
  // latest time so the same interval is never credited twice.
  if (now_ms > last_refill_ms_) {
    const double earned =
        Elapsed(last_refill_ms_, now_ms) * limit_.frames_per_second / 1000.0;
    tokens_ = std::min(limit_.burst, tokens_ + earned);
    last_refill_ms_ = now_ms;
  }
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return RateDecision::kAllow;
  }
  if (rejections_ == 0 ||
      (now_ms > window_start_ms_ &&
       Elapsed(window_start_ms_, now_ms) >=
           static_cast<double>(limit_.rejection_window_ms))) {
    window_start_ms_ = now_ms;
    rejections_ = 0;
  }
  if (rejections_ <= limit_.max_rejections) ++rejections_;
  return rejections_ > limit_.max_rejections ? RateDecision::kClose
                                             : RateDecision::kReject;
}

}  // namespace presence
