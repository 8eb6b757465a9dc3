// Whether a buffer holds inf or NaN: the flag that lets every rank skip the same loss-scaled
// step. The engine asks it of what an average divides (reduce.h, reduceAndDivide), where the
// values are still in the cache; the gradient sync of what it decodes or has to scan itself.
#pragma once

#include <cstddef>

#include "base/dtype.h"

namespace gccl {

// True if any of `count` elements is inf or NaN (false for integer types).
bool hasNonFinite(DataType type, const void* data, size_t count);

}  // namespace gccl
