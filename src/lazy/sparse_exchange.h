// The two-phase exchange of one fp32 bucket in sparse mode (docs/api.md, "Sparse gradients"):
//
//   start (in markReady, when the bucket becomes startable, so in plan order on every rank)
//     V (+U) += g                                   error_feedback.h
//     norms  = L1 of each chunk of V                chunk_select.h
//     allreduce(norms, sum)   -- blocking: K = count / C floats, the latency-bound case
//     picked = same top chunks on every rank        (the summed norms are bit-identical)
//     wire   = pack(V, picked); V keeps what was not sent
//     allreduce(wire, avg or sum)   -- asynchronous, returned to the caller
//   finish (in wait)
//     gradient = unpack(wire): the reduced chunks, 0 elsewhere
//
// Every rank issues the same collectives in the same order: per bucket, norms then payload,
// buckets in plan order. The norms allreduce of bucket b is queued behind the payload
// allreduces of the buckets before it, which keep progressing while markReady waits for it.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "base/config.h"
#include "core/communicator.h"
#include "core/request.h"
#include "sparse/error_feedback.h"

namespace gccl {

struct SparseOptions {
  bool enabled = false;         // fp32 buckets travel sparse; other types stay dense
  size_t chunkElements = 1024;  // C: chunk size in elements
  double density = 0.01;        // rho in (0, 1]: ceil(rho K) of K chunks sent, exempt on top
  uint64_t warmupSteps = 0;     // W: the first W steps are dense, residuals untouched
  float momentum = 0.0f;        // m in [0, 1): momentum correction when > 0
  SparsePayload payload = SparsePayload::kFloat16;
};

// Throws Error(kInvalidArgument) for chunkElements 0, density outside (0, 1] or momentum outside
// [0, 1).
void checkSparseOptions(const SparseOptions& options);

class SparseBucket {
 public:
  // `exemptChunks[i]`: chunk i holds part of an exempt tensor and is always sent.
  SparseBucket(size_t count, const SparseOptions& options, std::vector<bool> exemptChunks);

  // Folds `grad` (count fp32 values) into the residual, agrees on the chunks and starts the
  // payload allreduce (into this object's wire buffer). Rethrows a failed norms allreduce,
  // which carries `agreement` (CollectiveCall::agreement: the gradient sync's).
  std::shared_ptr<Request> start(Communicator& comm, const float* grad, bool average,
                                 WaitPolicy waits, uint32_t agreement);
  // Writes the reduced gradient: the picked chunks, 0 elsewhere.
  void finish(float* grad, bool* nonFinite) const;
  // Zeroes V and U (gcclGradSyncReset).
  void clearResidual();

  size_t chunks() const { return norms_.size(); }
  size_t pickedChunks() const { return picked_.size(); }
  // Bytes handed to allreduce in the last start: norms plus payload.
  size_t sentBytes() const;
  const std::vector<float>& residual() const { return v_; }

 private:
  const size_t count_;
  const SparseOptions options_;
  const std::vector<bool> exempt_;
  std::vector<float> v_;
  std::vector<float> u_;  // empty without momentum
  std::vector<float> norms_;
  std::vector<std::byte> wire_;
  std::vector<size_t> picked_;
  size_t packed_ = 0;
  bool unsentNonFinite_ = false;  // a chunk not sent had an inf or NaN summed norm
};

}  // namespace gccl
