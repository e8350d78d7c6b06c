// A double and its IEEE 754 bit pattern, for tests that compare REALs bit for bit.
#pragma once

#include <cstdint>
#include <cstring>

namespace d1sync::native {

inline uint64_t bitsOf(double d) {
  uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

inline double fromBits(uint64_t b) {
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}

}  // namespace d1sync::native
