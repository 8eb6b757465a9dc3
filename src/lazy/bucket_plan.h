// Where each gradient lives in the pool and which gradients travel together: pure functions of
// the registered tensors (in backward order), the alignment and the bucket threshold theta.
// Every rank computes the same plan from the same registrations, so every rank issues the same
// sequence of allreduces however its gradients arrive.
//
//   pool:    | t0 |pad| t1 |pad| t2 | t3 |pad| t4 ...        (offsets aligned, padding zeroed)
//   buckets: [ t0 ..... t1 ][ t2 ...... t3 ][ t4 ...
//            ^ reached theta at t1: closes  ^ reached theta at t3: closes
//
// A bucket is one allreduce over a contiguous byte range of the pool, padding included (it is
// zero on every rank, so it reduces to zero), hence all its tensors share one data type: a
// change of type closes a bucket too.
#pragma once

#include <cstddef>
#include <vector>

#include "base/dtype.h"

namespace gccl {

struct TensorSpec {
  size_t count = 0;
  DataType type = DataType::kFloat32;
};

struct PoolLayout {
  std::vector<size_t> offsets;  // byte offset of each tensor
  size_t bytes = 0;             // the pool's size
};

struct Bucket {
  size_t firstTensor = 0;  // tensors [firstTensor, endTensor)
  size_t endTensor = 0;
  size_t offset = 0;  // bytes [offset, offset + count * element size) of the pool
  size_t count = 0;   // elements, padding included
  DataType type = DataType::kFloat32;
};

// Each tensor at the next multiple of max(alignment, its element size) after the previous one.
// `alignment` must be a power of two (checked by the caller). Throws Error(kInvalidArgument)
// when the pool's size overflows.
PoolLayout layoutPool(const std::vector<TensorSpec>& tensors, size_t alignment);

// Buckets in pool order. A bucket closes at the first tensor where its span (bytes from its
// first tensor's offset to the end of this tensor, padding included) reaches `thetaBytes`, or
// before a tensor of another type; the last bucket takes what is left. theta 0 gives one bucket
// per tensor; a theta above the pool's size, one bucket per run of one type.
std::vector<Bucket> planBuckets(const std::vector<TensorSpec>& tensors, const PoolLayout& layout,
                                size_t thetaBytes);

}  // namespace gccl
