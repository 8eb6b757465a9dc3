// Splits `count` elements into `parts` contiguous, balanced pieces (the first count % parts
// pieces get one element more). Every rank computes the same split.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

inline Range balancedPiece(size_t count, size_t parts, size_t index) {
  const size_t base = count / parts;
  const size_t extra = count % parts;
  return {index * base + std::min(index, extra), base + (index < extra ? 1 : 0)};
}

// Slices per piece so that no slice exceeds sliceElements; at least one (possibly empty)
// slice, so every step sends a message even for tiny counts and a mismatch is always seen.
inline size_t slicesPerPiece(size_t count, size_t parts, size_t sliceElements) {
  const size_t largest = (count + parts - 1) / parts;
  return std::max<size_t>(1, (largest + sliceElements - 1) / sliceElements);
}

inline Range slice(Range piece, size_t slices, size_t index) {
  const Range inner = balancedPiece(piece.count, slices, index);
  return {piece.offset + inner.offset, inner.count};
}

// `range` cut into balanced slices of at most sliceElements: at least one (possibly empty), so
// that a message is sent even when nothing moves. Both ends of a transfer cut alike.
inline std::vector<Range> slicesOf(Range range, size_t sliceElements) {
  const size_t slices = slicesPerPiece(range.count, 1, sliceElements);
  std::vector<Range> out;
  out.reserve(slices);
  for (size_t j = 0; j < slices; ++j) out.push_back(slice(range, slices, j));
  return out;
}

}  // namespace gccl
