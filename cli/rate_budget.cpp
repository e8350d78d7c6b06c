#include "rate_budget.hpp"

namespace d1sync::cli {

int64_t RateBudget::waitMs(int64_t nowMs) {
  while (!times_.empty() && times_.front() <= nowMs - windowMs_) times_.pop_front();
  if (requests_ <= 0 || static_cast<int64_t>(times_.size()) < requests_) return 0;
  // The oldest request in the window leaves it at times_.front() + windowMs_.
  return times_.front() + windowMs_ - nowMs;
}

}  // namespace d1sync::cli
