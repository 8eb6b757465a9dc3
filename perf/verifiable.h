// Exact-result data for checking an allreduce of any dtype and op: every input is a small
// integer, so every partial result is exact in every type and the expected value is known.
#pragma once

#include <cstddef>

#include <gccl/gccl.h>

namespace gccl::perf {

// Writes rank's input for elements [0, count).
void fillInput(void* buffer, size_t count, gcclDataType_t type, gcclRedOp_t op, int rank,
               int nranks);

// Number of elements of `output` that differ from the exact result.
size_t countWrong(const void* output, size_t count, gcclDataType_t type, gcclRedOp_t op,
                  int nranks);

}  // namespace gccl::perf
