// Which gradients of the current step are ready, and how many buckets may start. Buckets start
// strictly in plan order: a bucket whose tensors are all ready still waits for every earlier
// bucket to start, so the sequence of collectives is the plan's on every rank, whatever order
// backward delivers the gradients in.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "lazy/bucket_plan.h"

namespace gccl {

class ReadyTracker {
 public:
  ReadyTracker() = default;
  ReadyTracker(const std::vector<Bucket>& buckets, size_t tensors);

  bool isReady(size_t tensor) const { return ready_[tensor]; }
  // Marks `tensor` (known, not yet ready) ready.
  void markReady(size_t tensor);
  // The next bucket to start, when all its tensors (and all earlier buckets) are ready.
  std::optional<size_t> nextStartable() const;
  // Records that nextStartable() was started.
  void started() { ++started_; }
  size_t startedCount() const { return started_; }
  // The first tensor not marked ready this step, if any.
  std::optional<size_t> firstMissing() const;
  // A new step: nothing ready, nothing started.
  void reset();

 private:
  std::vector<size_t> bucketOf_;   // tensor -> bucket
  std::vector<size_t> sizes_;      // tensors per bucket
  std::vector<size_t> remaining_;  // tensors per bucket not ready yet
  std::vector<bool> ready_;
  size_t started_ = 0;
};

}  // namespace gccl
