// Reconnect delays: exponential backoff with full jitter.
//
// Attempt n (0-based) waits a uniform random time in [0, min(cap, base*2^n)]
// (base 500 ms, cap 30 s by default). "Full jitter" spreads a crowd of
// clients that lost the same server, so they do not return as a herd.
// The random source is injected (a value in [0, 1) per call) so tests and
// the browser can choose it; the default is a seeded SplitMix64.

#ifndef PRESENCE_BACKOFF_H_
#define PRESENCE_BACKOFF_H_

#include <cstdint>
#include <functional>

namespace presence {

struct BackoffPolicy {
  int64_t base_ms = 500;
  int64_t cap_ms = 30'000;
};

class Backoff {
 public:
  using RandomSource = std::function<double()>;  // uniform in [0, 1)

  Backoff(BackoffPolicy policy, RandomSource random);
  Backoff(BackoffPolicy policy, uint64_t seed);

  // The delay before the next attempt; each call counts one attempt.
  int64_t NextDelay();
  // The upper bound NextDelay would draw from now.
  int64_t CurrentCeiling() const;
  void Reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

 private:
  BackoffPolicy policy_;
  RandomSource random_;
  int attempt_ = 0;
};

// A small deterministic generator: SplitMix64, mapped to [0, 1).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  double NextUnit();  // [0, 1)

 private:
  uint64_t state_;
};

}  // namespace presence

#endif  // PRESENCE_BACKOFF_H_
