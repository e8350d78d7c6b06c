// A LocalDb that fails some of the engine's local calls, as a Durable Object's storage or a
// browser's SQLite can (disk full, I/O errors, a storage reset): seeded, so a run replays.
// A failed call either never ran (`before`) or ran and still reported an error (`after`), which
// is what a failure at the end of a multi-statement exec looks like.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "backoff.hpp"
#include "host.hpp"

namespace d1sync::native {

class FaultyLocal : public LocalDb {
 public:
  explicit FaultyLocal(LocalDb& inner, uint64_t seed = 1) : inner_(inner), rng_(seed) {}

  QueryResult exec(const std::string& sql) override {
    ++calls;
    bool failBefore = false, failAfter = false;
    if (failWhen && failWhen(sql)) {
      failBefore = !failWhenAfter;
      failAfter = failWhenAfter;
    } else if (probability > 0 && rng_.unit() < probability) {
      failAfter = rng_.unit() < 0.3;
      failBefore = !failAfter;
    }
    if (failBefore) {
      ++failedBefore;
      return failure();
    }
    QueryResult r = inner_.exec(sql);
    if (failAfter) {
      ++failedAfter;
      return failure();
    }
    return r;
  }

  // Random faults: each call fails with this probability.
  double probability = 0;
  // Targeted faults: calls whose SQL this accepts fail (before running, or after when
  // `failWhenAfter`).
  std::function<bool(const std::string&)> failWhen;
  bool failWhenAfter = false;
  int64_t calls = 0, failedBefore = 0, failedAfter = 0;

 private:
  static QueryResult failure() {
    QueryResult r;
    r.ok = false;
    r.error = "disk I/O error (injected)";
    return r;
  }
  LocalDb& inner_;
  Random rng_;
};

}  // namespace d1sync::native
