// The gccl modes of grad_bench: one step is write the gradients, barrier, then (timed) mark
// every tensor ready in backward order -- or start its allreduce, per_tensor -- and wait. With
// --device the lazy modes keep the gradients in device memory (written from host mirrors before
// the barrier, read back after the step) and the gradient sync copies them in and out.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "grad_bench.h"
#include "grad_expect.h"
#include "grad_pattern.h"

namespace gccl::perf {

namespace {

using Clock = std::chrono::steady_clock;

// Element i of tensor t on `rank` is nranks times its gradValue: the sum over the ranks is
// nranks times an integer of at most 7 nranks, so the average (the sum, then one division by
// nranks) is that integer exactly, in fp32 and through fp16 on the wire (whose integers are
// exact up to 2048: up to 17 ranks).
void fillGradient(float* g, size_t count, size_t t, int rank, int nranks) {
  size_t phase = gradPhase(t, 0);
  for (size_t i = 0; i < count; ++i, phase = (phase + 1) % kGradPeriod) {
    g[i] = static_cast<float>(nranks) * gradValue(rank, phase);
  }
}

// The expected average of element i of tensor t: the sum of the ranks' values of its phase.
struct Expected {
  GradSums averages;
  explicit Expected(int nranks) : averages(nranks) {}
  uint64_t wrong(const float* g, size_t count, size_t t) const {
    uint64_t wrong = 0;
    size_t phase = gradPhase(t, 0);
    for (size_t i = 0; i < count; ++i, phase = (phase + 1) % kGradPeriod) {
      wrong += g[i] != averages.sum[phase];
    }
    return wrong;
  }
};

void check(gcclResult_t result, const char* what, gcclComm_t comm) {
  if (result != gcclSuccess) {
    throw std::runtime_error(std::string(what) + ": " + gcclGetLastError(comm));
  }
}

// Sleeps until tensor t's place in a backward pass of `backwardMs` (none when 0).
void awaitBackward(Clock::time_point start, double backwardMs, size_t t, size_t tensors) {
  if (backwardMs <= 0) return;
  const std::chrono::duration<double, std::milli> at(backwardMs * static_cast<double>(t + 1) /
                                                     static_cast<double>(tensors));
  std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(at));
}

// The two ways of synchronising, behind one step interface.
class Stepper {
 public:
  virtual ~Stepper() = default;
  virtual float* gradient(size_t t) = 0;
  // After the gradients were written, before the timed part.
  virtual void prepare() {}
  virtual void markReady(size_t t) = 0;
  virtual void wait(GradResult& row) = 0;
  // Checks the step's result, counting wrong elements (or failed stats).
  virtual uint64_t verify(const Expected& expected) = 0;
};

class PerTensor : public Stepper {
 public:
  PerTensor(const std::vector<GradTensor>& model, gcclComm_t comm)
      : model_(model), comm_(comm), buffers_(model.size()), requests_(model.size()) {
    for (size_t t = 0; t < model.size(); ++t) buffers_[t].resize(model[t].count);
  }
  float* gradient(size_t t) override { return buffers_[t].data(); }
  void markReady(size_t t) override {
    check(gcclAllReduceAsync(buffers_[t].data(), buffers_[t].data(), model_[t].count, gcclFloat32,
                             gcclAvg, comm_, &requests_[t]),
          "gcclAllReduceAsync", comm_);
  }
  void wait(GradResult& row) override {
    row.wireBytes = 0;
    for (size_t t = 0; t < model_.size(); ++t) {
      check(gcclWait(requests_[t]), "gcclWait", nullptr);
      row.wireBytes += model_[t].count * sizeof(float);
    }
    row.buckets = model_.size();
  }
  uint64_t verify(const Expected& expected) override {
    uint64_t wrong = 0;
    for (size_t t = 0; t < model_.size(); ++t) {
      wrong += expected.wrong(buffers_[t].data(), model_[t].count, t);
    }
    return wrong;
  }

 private:
  const std::vector<GradTensor>& model_;
  gcclComm_t comm_;
  std::vector<std::vector<float>> buffers_;
  std::vector<gcclRequest_t> requests_;
};

class Lazy : public Stepper {
 public:
  Lazy(const GradMode& mode, const std::vector<GradTensor>& model, gcclComm_t comm,
       BufferSpace* space)
      : model_(model), comm_(comm), space_(space), views_(model.size()) {
    gcclGradSyncConfig_t config = GCCL_GRAD_SYNC_CONFIG_INITIALIZER;
    config.compression = mode.compression;
    config.copyMode = space != nullptr;
    if (mode.density > 0) {
      config.sparse = 1;
      config.sparseDensity = mode.density;
      expectedChunks_ = expectedSparseChunks(model, config.alignment, config.bucketBytes,
                                             config.sparseChunk, config.sparseDensity);
    }
    check(gcclGradSyncCreate(comm, &config, &sync_), "gcclGradSyncCreate", comm);
    for (const GradTensor& tensor : model) {
      size_t index = 0;
      check(gcclGradSyncRegister(sync_, tensor.name.c_str(), tensor.count, gcclFloat32, &index),
            "gcclGradSyncRegister", comm);
      // Biases and norms are small and sensitive: sent whole, as docs/api.md advises.
      if (config.sparse && tensor.vector) {
        check(gcclGradSyncSetExempt(sync_, index), "gcclGradSyncSetExempt", comm);
      }
    }
    check(gcclGradSyncFinalize(sync_, nullptr, nullptr), "gcclGradSyncFinalize", comm);
    mirrors_.reserve(space_ != nullptr ? model.size() : 0);
    for (size_t t = 0; t < model.size(); ++t) {
      if (space_ != nullptr) {
        mirrors_.emplace_back(model[t].count);
        views_[t] = mirrors_.back().data();
        device_.push_back(space_->allocate(bytes(t)));
        continue;
      }
      void* view = nullptr;
      check(gcclGradSyncGetTensor(sync_, t, &view), "gcclGradSyncGetTensor", comm);
      views_[t] = static_cast<float*>(view);
    }
  }
  ~Lazy() override {
    gcclGradSyncDestroy(sync_);
    for (unsigned char* buffer : device_) space_->release(buffer);
  }
  float* gradient(size_t t) override { return views_[t]; }
  void prepare() override {
    for (size_t t = 0; t < device_.size(); ++t) {
      space_->toDevice(device_[t], reinterpret_cast<unsigned char*>(views_[t]), bytes(t));
    }
  }
  void markReady(size_t t) override {
    check(gcclGradSyncMarkReady(sync_, t, space_ != nullptr ? device_[t] : nullptr),
          "gcclGradSyncMarkReady", comm_);
  }
  void wait(GradResult& row) override {
    check(gcclGradSyncWait(sync_, &stats_), "gcclGradSyncWait", comm_);
    row.wireBytes = stats_.wireBytes;
    row.buckets = stats_.buckets;
  }
  uint64_t verify(const Expected& expected) override {
    for (size_t t = 0; t < device_.size(); ++t) {
      space_->toHost(reinterpret_cast<unsigned char*>(views_[t]), device_[t], bytes(t));
    }
    if (!expectedChunks_) {
      uint64_t wrong = 0;
      for (size_t t = 0; t < model_.size(); ++t) {
        wrong += expected.wrong(views_[t], model_[t].count, t);
      }
      return wrong;
    }
    return verifySparse(expected);
  }

 private:
  // A chunk not picked is 0 and a picked one holds several steps' worth of residual, so only
  // the exempt tensors (sent every step, nothing left behind) must equal the average; every
  // value must be finite, and the chunks sent are what the documented rules give.
  uint64_t verifySparse(const Expected& expected) {
    uint64_t wrong = stats_.nonFinite != 0;
    for (size_t t = 0; t < model_.size(); ++t) {
      const float* g = views_[t];
      if (model_[t].vector) {
        wrong += expected.wrong(g, model_[t].count, t);
      } else {
        wrong += static_cast<uint64_t>(
            std::count_if(g, g + model_[t].count, [](float v) { return !std::isfinite(v); }));
      }
    }
    size_t sent = 0, chunks = 0;
    check(gcclGradSyncGetSparseStats(sync_, &sent, &chunks), "gcclGradSyncGetSparseStats", comm_);
    if (sent != expectedChunks_->sent || chunks != expectedChunks_->total) {
      std::fprintf(stderr, "grad_bench: %zu of %zu chunks sent, expected %zu of %zu\n", sent,
                   chunks, expectedChunks_->sent, expectedChunks_->total);
      ++wrong;
    }
    return wrong;
  }

  size_t bytes(size_t t) const { return model_[t].count * sizeof(float); }

  const std::vector<GradTensor>& model_;
  gcclComm_t comm_;
  BufferSpace* space_;  // --device; null: the gradients are pool views
  gcclGradSync_t sync_ = nullptr;
  std::vector<std::vector<float>> mirrors_;  // --device: written and checked on the host
  std::vector<unsigned char*> device_;       // --device: the gradients the sync copies
  std::vector<float*> views_;
  gcclGradSyncStats_t stats_{};
  std::optional<SparseChunks> expectedChunks_;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

}  // namespace

const std::vector<GradMode>& gradModes() {
  static const std::vector<GradMode> modes = {
      {"per_tensor", GradModeKind::kPerTensor, gcclWireNone, 0},
      {"lazy", GradModeKind::kLazy, gcclWireNone, 0},
      {"lazy_fp16", GradModeKind::kLazy, gcclWireFloat16, 0},
      {"lazy_csc_0.1", GradModeKind::kLazy, gcclWireNone, 0.1},
      {"lazy_csc_0.01", GradModeKind::kLazy, gcclWireNone, 0.01},
      {"gloo_per_tensor", GradModeKind::kGloo, gcclWireNone, 0},
  };
  return modes;
}

const GradMode* findGradMode(const std::string& name) {
  for (const GradMode& mode : gradModes()) {
    if (name == mode.name) return &mode;
  }
  return nullptr;
}

GradResult runGradMode(const GradMode& mode, const GradBenchOptions& options,
                       const std::vector<GradTensor>& model, gcclComm_t comm, BufferSpace* space) {
  int rank = 0, nranks = 0;
  gcclCommUserRank(comm, &rank);
  gcclCommCount(comm, &nranks);
  std::unique_ptr<Stepper> stepper;
  if (mode.kind == GradModeKind::kPerTensor) {
    stepper = std::make_unique<PerTensor>(model, comm);
  } else {
    stepper = std::make_unique<Lazy>(mode, model, comm, space);
  }
  const Expected expected(nranks);
  GradResult row;
  std::snprintf(row.mode, sizeof row.mode, "%s", mode.name);
  std::vector<double> times;
  for (int step = 0; step < options.warmup + options.iterations; ++step) {
    for (size_t t = 0; t < model.size(); ++t) {
      fillGradient(stepper->gradient(t), model[t].count, t, rank, nranks);
    }
    stepper->prepare();
    check(gcclBarrier(comm), "gcclBarrier", comm);
    const Clock::time_point start = Clock::now();
    for (size_t t = 0; t < model.size(); ++t) {
      awaitBackward(start, options.backwardMs, t, model.size());
      stepper->markReady(t);
    }
    stepper->wait(row);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    // A step lasts until its slowest rank is done.
    check(gcclAllReduce(&ms, &ms, 1, gcclFloat64, gcclMax, comm), "gcclAllReduce", comm);
    if (step >= options.warmup) times.push_back(ms);
    row.wrong += stepper->verify(expected);
  }
  row.stepMs = median(times);
  return row;
}

}  // namespace gccl::perf
