// Where the gradients live and how they are averaged over the ranks: plain vectors in one
// process, or gcclGradSync's pool.
#pragma once

#include <array>
#include <cstdio>
#include <vector>

#include <gccl/gccl.h>

#include "mlp.h"

namespace digits {

// What the training loop sees of either.
class GradientExchange {
 public:
  virtual ~GradientExchange() = default;
  virtual const Gradients& gradients() const = 0;
  virtual void markReady(int tensor) = 0;
  // Ends the step: the gradients are averaged. False on an error; *skip when this step's
  // averaged gradient is not finite.
  virtual bool wait(bool* skip) = 0;
};

// One process: the gradients are plain vectors and nothing is exchanged.
class LocalGradients final : public GradientExchange {
 public:
  explicit LocalGradients(const Mlp& mlp) {
    for (int t = 0; t < kTensors; ++t) {
      storage_[t].assign(mlp.size(t), 0.0f);
      views_[t] = storage_[t];
    }
  }
  const Gradients& gradients() const override { return views_; }
  void markReady(int) override {}
  bool wait(bool* skip) override {
    *skip = false;
    return true;
  }

 private:
  std::array<std::vector<float>, kTensors> storage_;
  Gradients views_;
};

// gccl: the gradients are views into gcclGradSync's pool (registered in backward order), each
// handed over as backward writes it; wait leaves the average over the ranks in place.
class SyncedGradients final : public GradientExchange {
 public:
  SyncedGradients() = default;
  SyncedGradients(const SyncedGradients&) = delete;
  SyncedGradients& operator=(const SyncedGradients&) = delete;
  ~SyncedGradients() override { gcclGradSyncDestroy(sync_); }

  bool init(gcclComm_t comm, const Mlp& mlp, const gcclGradSyncConfig_t& config) {
    if (!check(gcclGradSyncCreate(comm, &config, &sync_))) return false;
    for (int t = 0; t < kTensors; ++t) {
      if (!check(gcclGradSyncRegister(sync_, Mlp::name(t), mlp.size(t), gcclFloat32, &index_[t]))) {
        return false;
      }
      // Biases are few and move every step: send them whole (no effect unless sparse).
      if (Mlp::isBias(t) && !check(gcclGradSyncSetExempt(sync_, index_[t]))) return false;
    }
    if (!check(gcclGradSyncFinalize(sync_, nullptr, nullptr))) return false;
    for (int t = 0; t < kTensors; ++t) {
      void* view = nullptr;
      if (!check(gcclGradSyncGetTensor(sync_, index_[t], &view))) return false;
      views_[t] = {static_cast<float*>(view), mlp.size(t)};
    }
    return true;
  }

  const Gradients& gradients() const override { return views_; }
  void markReady(int t) override {
    if (ok_) ok_ = check(gcclGradSyncMarkReady(sync_, index_[t], nullptr));
  }
  bool wait(bool* skip) override {
    if (!ok_) return false;
    gcclGradSyncStats_t stats{};
    if (!check(gcclGradSyncWait(sync_, &stats))) return false;
    *skip = stats.nonFinite != 0;
    wireBytes_ += stats.wireBytes;
    ++steps_;
    return true;
  }
  double wireBytesPerStep() const { return steps_ ? double(wireBytes_) / double(steps_) : 0.0; }

 private:
  bool check(gcclResult_t result) {
    if (result == gcclSuccess) return true;
    std::fprintf(stderr, "gradient sync: %s: %s\n", gcclGetErrorString(result),
                 gcclGetLastError(nullptr));
    return false;
  }

  gcclGradSync_t sync_ = nullptr;
  std::array<size_t, kTensors> index_{};
  Gradients views_;
  bool ok_ = true;
  size_t wireBytes_ = 0;
  size_t steps_ = 0;
};

}  // namespace digits
