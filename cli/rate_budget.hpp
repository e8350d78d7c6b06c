// The API's request budget (the D1 REST API allows 1,200 requests per 5 minutes per user and
// answers 429 beyond): a sliding window of the times requests were sent, asked before each
// request how long to wait so the next one stays inside the budget.
#pragma once

#include <cstdint>
#include <deque>

namespace d1sync::cli {

class RateBudget {
 public:
  RateBudget(int64_t requests, int64_t windowMs) : requests_(requests), windowMs_(windowMs) {}
  // Milliseconds to wait before a request sent at `nowMs` fits the budget (0: send now).
  int64_t waitMs(int64_t nowMs);
  void sent(int64_t nowMs) { times_.push_back(nowMs); }
  int64_t requests() const { return requests_; }
  int64_t windowMs() const { return windowMs_; }

 private:
  int64_t requests_, windowMs_;
  std::deque<int64_t> times_;
};

}  // namespace d1sync::cli
