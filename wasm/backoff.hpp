// Exponential backoff with jitter. Deterministic for a given seed so tests can replay it.
#pragma once

#include <cstdint>

namespace d1sync {

class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next();  // splitmix64
  double unit() { return static_cast<double>(next() >> 11) / 9007199254740992.0; }

 private:
  uint64_t state_;
};

class Backoff {
 public:
  Backoff(uint64_t seed, int64_t baseMs = 250, int64_t maxMs = 60000)
      : rng_(seed), baseMs_(baseMs), maxMs_(maxMs) {}
  // Delay before the next attempt: base * 2^failures, capped, times a jitter in [0.5, 1).
  int64_t nextDelayMs();
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  Random rng_;
  int64_t baseMs_, maxMs_;
  int failures_ = 0;
};

}  // namespace d1sync
