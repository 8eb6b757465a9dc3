#include "lazy/bucket_plan.h"

#include <algorithm>
#include <limits>

#include "base/error.h"

namespace gccl {

namespace {

size_t roundUp(size_t value, size_t alignment, size_t index) {
  if (value > std::numeric_limits<size_t>::max() - (alignment - 1)) {
    fail(Status::kInvalidArgument, "gradient pool overflows size_t at tensor ", index);
  }
  return (value + alignment - 1) & ~(alignment - 1);
}

}  // namespace

PoolLayout layoutPool(const std::vector<TensorSpec>& tensors, size_t alignment) {
  PoolLayout layout;
  layout.offsets.reserve(tensors.size());
  size_t end = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const size_t elementSize = dataTypeSize(tensors[i].type);
    const size_t offset = roundUp(end, std::max(alignment, elementSize), i);
    if (tensors[i].count > (std::numeric_limits<size_t>::max() - offset) / elementSize) {
      fail(Status::kInvalidArgument, "gradient pool overflows size_t at tensor ", i);
    }
    layout.offsets.push_back(offset);
    end = offset + tensors[i].count * elementSize;
  }
  layout.bytes = end;
  return layout;
}

std::vector<Bucket> planBuckets(const std::vector<TensorSpec>& tensors, const PoolLayout& layout,
                                size_t thetaBytes) {
  std::vector<Bucket> buckets;
  size_t first = 0;
  // Closes the bucket [first, end) and starts the next one at `end`.
  auto close = [&](size_t end) {
    const TensorSpec& last = tensors[end - 1];
    const size_t elementSize = dataTypeSize(last.type);
    const size_t bytes = layout.offsets[end - 1] + last.count * elementSize - layout.offsets[first];
    buckets.push_back({first, end, layout.offsets[first], bytes / elementSize, last.type});
    first = end;
  };
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (i > first && tensors[i].type != tensors[first].type) close(i);
    const size_t span = layout.offsets[i] + tensors[i].count * dataTypeSize(tensors[i].type) -
                        layout.offsets[first];
    if (span >= thetaBytes) close(i + 1);
  }
  if (first < tensors.size()) close(tensors.size());
  return buckets;
}

}  // namespace gccl
