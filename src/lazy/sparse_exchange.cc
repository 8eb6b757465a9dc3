#include "lazy/sparse_exchange.h"

#include <algorithm>
#include <utility>

#include "base/error.h"
#include "core/collective_call.h"
#include "sparse/chunk_select.h"

namespace gccl {

void checkSparseOptions(const SparseOptions& options) {
  if (!options.enabled) return;
  if (options.chunkElements == 0) {
    fail(Status::kInvalidArgument, "sparse gradient chunk size must be positive");
  }
  if (!(options.density > 0.0 && options.density <= 1.0)) {
    fail(Status::kInvalidArgument, "sparse gradient density ", options.density,
         " must be in (0, 1]");
  }
  if (!(options.momentum >= 0.0f && options.momentum < 1.0f)) {
    fail(Status::kInvalidArgument, "sparse gradient momentum ", options.momentum,
         " must be in [0, 1)");
  }
}

SparseBucket::SparseBucket(size_t count, const SparseOptions& options,
                           std::vector<bool> exemptChunks)
    : count_(count),
      options_(options),
      exempt_(std::move(exemptChunks)),
      v_(count, 0.0f),
      u_(options.momentum > 0.0f ? count : 0, 0.0f),
      norms_(chunkCount(count, options.chunkElements), 0.0f),
      wire_(count * payloadElementSize(options.payload)) {}

std::shared_ptr<Request> SparseBucket::start(Communicator& comm, const float* grad, bool average,
                                             WaitPolicy waits, uint32_t agreement) {
  accumulateResidualAndNorms(v_.data(), u_.empty() ? nullptr : u_.data(), grad, count_,
                             options_.momentum, options_.chunkElements, norms_.data());
  CollectiveCall norms = allreduceCall(norms_.data(), norms_.data(), norms_.size(),
                                       DataType::kFloat32, ReduceOp::kSum);
  norms.agreement = agreement;
  const auto normsDone = comm.start(norms, false);
  normsDone->wait(waits);
  if (normsDone->status() != Status::kSuccess) {
    throw Error(normsDone->status(), normsDone->message());
  }
  picked_ = selectChunks(norms_, options_.density, exempt_);
  float* u = u_.empty() ? nullptr : u_.data();
  packed_ = packChunks(options_.payload, wire_.data(), v_.data(), u, count_, options_.chunkElements,
                       picked_);
  unsentNonFinite_ =
      dropNonFiniteUnsent(v_.data(), u, count_, options_.chunkElements, norms_, picked_);
  const DataType type =
      options_.payload == SparsePayload::kFloat16 ? DataType::kFloat16 : DataType::kFloat32;
  return comm.allreduce(wire_.data(), wire_.data(), packed_, type,
                        average ? ReduceOp::kAvg : ReduceOp::kSum);
}

void SparseBucket::finish(float* grad, bool* nonFinite) const {
  unpackChunks(options_.payload, grad, wire_.data(), count_, options_.chunkElements, picked_,
               nonFinite);
  if (unsentNonFinite_ && nonFinite != nullptr) *nonFinite = true;
}

void SparseBucket::clearResidual() {
  std::fill(v_.begin(), v_.end(), 0.0f);
  std::fill(u_.begin(), u_.end(), 0.0f);
}

size_t SparseBucket::sentBytes() const {
  return norms_.size() * sizeof(float) + packed_ * payloadElementSize(options_.payload);
}

}  // namespace gccl
