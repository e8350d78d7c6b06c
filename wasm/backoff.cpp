#include "backoff.hpp"

namespace d1sync {

uint64_t Random::next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int64_t Backoff::nextDelayMs() {
  int64_t d = baseMs_;
  for (int i = 0; i < failures_ && d < maxMs_; ++i) d *= 2;
  if (d > maxMs_) d = maxMs_;
  ++failures_;
  return static_cast<int64_t>(static_cast<double>(d) * (0.5 + 0.5 * rng_.unit()));
}

}  // namespace d1sync
