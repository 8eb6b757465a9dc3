// FNV-1a over 64-bit words, little-endian byte by byte: the hash the ranks compare to agree on
// what a collective's call leaves out of its header (allgatherv's blocks, a gradient sync's
// tensors and config). Not a MAC: it only has to tell honest mistakes apart.
#pragma once

#include <cstdint>

namespace gccl {

class Fnv1a {
 public:
  void add(uint64_t word) {
    for (int byte = 0; byte < 8; ++byte, word >>= 8) {
      hash_ = (hash_ ^ (word & 0xff)) * 0x100000001b3ull;
    }
  }
  // The 64 bits folded into the 32 a frame header carries.
  uint32_t folded() const { return static_cast<uint32_t>(hash_ ^ (hash_ >> 32)); }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ull;
};

}  // namespace gccl
