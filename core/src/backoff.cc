#include "presence/backoff.h"

#include <climits>
#include <cmath>
#include <utility>

namespace presence {

Backoff::Backoff(BackoffPolicy policy, RandomSource random)
    : policy_(policy), random_(std::move(random)) {
  // Calling an empty std::function would abort (no exceptions in the core).
  if (!random_)
    random_ = [rng = SplitMix64(0)]() mutable { return rng.NextUnit(); };
}

Backoff::Backoff(BackoffPolicy policy, uint64_t seed)
    : policy_(policy),
      random_([rng = SplitMix64(seed)]() mutable { return rng.NextUnit(); }) {}

int64_t Backoff::CurrentCeiling() const {
  const int64_t cap = policy_.cap_ms > 0 ? policy_.cap_ms : 0;
  int64_t ceiling = policy_.base_ms > 0 ? policy_.base_ms : 0;
  // Double step by step and stop at the cap: base * 2^attempt itself would
  // overflow long before attempt 1000, and the loop runs at most ~63 times.
  for (int i = 0; i < attempt_ && ceiling > 0 && ceiling < cap; ++i) {
    ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
  }
  return ceiling < cap ? ceiling : cap;
}

int64_t Backoff::NextDelay() {
  const int64_t ceiling = CurrentCeiling();
  if (attempt_ < INT_MAX) ++attempt_;
  double r = random_();
  if (!(r > 0.0)) r = 0.0;  // also maps NaN to 0
  // Scaling by ceiling + 1 makes every integer in [0, ceiling] equally
  // likely; the clamp catches a source that returns 1 or more.
  const double scaled = std::floor(r * (static_cast<double>(ceiling) + 1.0));
  if (scaled >= static_cast<double>(ceiling)) return ceiling;
  return static_cast<int64_t>(scaled);
}

uint64_t SplitMix64::Next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double SplitMix64::NextUnit() {
  // The top 53 bits fill a double's mantissa exactly: uniform, never 1.0.
  return static_cast<double>(Next() >> 11) * 0x1.0p-53;
}

}  // namespace presence
