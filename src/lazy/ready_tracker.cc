#include "lazy/ready_tracker.h"

namespace gccl {

ReadyTracker::ReadyTracker(const std::vector<Bucket>& buckets, size_t tensors)
    : bucketOf_(tensors), ready_(tensors, false) {
  for (size_t b = 0; b < buckets.size(); ++b) {
    for (size_t t = buckets[b].firstTensor; t < buckets[b].endTensor; ++t) bucketOf_[t] = b;
    sizes_.push_back(buckets[b].endTensor - buckets[b].firstTensor);
  }
  remaining_ = sizes_;
}

void ReadyTracker::markReady(size_t tensor) {
  ready_[tensor] = true;
  --remaining_[bucketOf_[tensor]];
}

std::optional<size_t> ReadyTracker::nextStartable() const {
  if (started_ < remaining_.size() && remaining_[started_] == 0) return started_;
  return std::nullopt;
}

std::optional<size_t> ReadyTracker::firstMissing() const {
  for (size_t t = 0; t < ready_.size(); ++t) {
    if (!ready_[t]) return t;
  }
  return std::nullopt;
}

void ReadyTracker::reset() {
  ready_.assign(ready_.size(), false);
  remaining_ = sizes_;
  started_ = 0;
}

}  // namespace gccl
