// Exact-result data for checking an allreduce of any dtype and op: every input is a small
// integer, so every partial result is exact in every type and the expected value is known.
#pragma once

#include <cstddef>

#include <gccl/gccl.h>

namespace gccl::perf {

// Writes rank's input for elements [first, first + count) of its send buffer, at `buffer`.
void fillInput(void* buffer, size_t count, gcclDataType_t type, gcclRedOp_t op, int rank,
               int nranks, size_t first = 0);

// Number of elements of `output` that differ from the exact reduction of elements
// [first, first + count) of every rank's input.
size_t countWrong(const void* output, size_t count, gcclDataType_t type, gcclRedOp_t op, int nranks,
                  size_t first = 0);

// Number of elements of `output` that differ from `rank`'s input [first, first + count): what a
// broadcast from that root or an allgather's block of that rank must hold.
size_t countWrongInput(const void* output, size_t count, gcclDataType_t type, gcclRedOp_t op,
                       int rank, int nranks, size_t first = 0);

}  // namespace gccl::perf
