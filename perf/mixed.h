// A 64-bit finaliser (every input bit moves every output bit): the pseudo-random, exactly
// reproducible test values of verifiable.cc and grad_pattern.h come from it.
#pragma once

#include <cstdint>

namespace gccl::perf {

inline uint64_t mixed(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

}  // namespace gccl::perf
