// grad_bench's Gloo baseline: the same model's gradients (perf/grad_models.h) allreduced one
// tensor at a time per step with Gloo's default allreduce (gloo::allreduce, as PyTorch's Gloo
// process group calls it), fp32, sum, in backward order. Each step is checked element by
// element; rank 0 ends with the line grad_bench parses:
//
//   gloo_per_tensor median_step_ms T wire_bytes B tensors N wrong W
//
//   gloo_grad_bench [--np N] [--model resnet50|transformer] [-n 10] [-w 2] [--backward-ms X]
//                   [--timeout S] [--bind cpus|none]
//
// Ranks are forked on 127.0.0.1 and meet through a FileStore in a fresh temporary directory;
// with GLOO_PERF_RANK, GLOO_PERF_STORE and GLOO_PERF_ADDR set it runs that one rank of --np
// (as gloo_allreduce_perf does).
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/math.h>
#include <gloo/rendezvous/file_store.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../grad_models.h"
#include "../grad_pattern.h"
#include "gloo_context.h"
#include "local_ranks.h"

namespace baselines {
namespace {

using Clock = std::chrono::steady_clock;
using gccl::perf::GradTensor;

struct Args {
  int np = 2;
  std::string model = "resnet50";
  int iterations = 10;
  int warmup = 2;
  double backwardMs = 0;
  int timeoutSec = 600;
  cpu_binding::Binding binding = cpu_binding::Binding::kCpus;
};

bool parse(int argc, char** argv, Args& args) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--np") {
      args.np = std::atoi(value);
    } else if (flag == "--model") {
      args.model = value;
    } else if (flag == "-n") {
      args.iterations = std::atoi(value);
    } else if (flag == "-w") {
      args.warmup = std::atoi(value);
    } else if (flag == "--backward-ms") {
      args.backwardMs = std::atof(value);
    } else if (flag == "--timeout") {
      args.timeoutSec = std::atoi(value);
    } else if (flag == "--bind") {
      const auto binding = cpu_binding::parseBinding(value);
      if (!binding) return false;
      args.binding = *binding;
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && args.np >= 1 && args.iterations >= 1 && args.warmup >= 0 &&
         args.timeoutSec >= 1 && gccl::perf::gradModel(args.model).has_value();
}

// In place, with the kernels of gloo/math.h.
template <typename T>
void allreduce(const std::shared_ptr<gloo::Context>& context, T* data, size_t count,
               void (*reduce)(void*, const void*, const void*, size_t)) {
  gloo::AllreduceOptions options(context);
  options.setOutput(data, count);
  options.setReduceFunction(reduce);
  gloo::allreduce(options);
}

// Element i of tensor t on `rank` is its gradValue (grad_pattern.h), so every fp32 sum is exact.
void fill(float* g, size_t count, size_t t, int rank) {
  size_t phase = gccl::perf::gradPhase(t, 0);
  for (size_t i = 0; i < count; ++i, phase = (phase + 1) % gccl::perf::kGradPeriod) {
    g[i] = gccl::perf::gradValue(rank, phase);
  }
}

uint64_t countWrong(const float* g, size_t count, size_t t, const gccl::perf::GradSums& sums) {
  uint64_t wrong = 0;
  size_t phase = gccl::perf::gradPhase(t, 0);
  for (size_t i = 0; i < count; ++i, phase = (phase + 1) % gccl::perf::kGradPeriod) {
    wrong += g[i] != sums.sum[phase];
  }
  return wrong;
}

int runRank(const Args& args, const std::string& storeDir, int rank, const char* address) {
  const std::vector<GradTensor> model = *gccl::perf::gradModel(args.model);
  gloo::rendezvous::FileStore store(storeDir);
  auto context = connectGloo(store, rank, args.np, args.timeoutSec, address);
  std::vector<std::vector<float>> grads(model.size());
  size_t wireBytes = 0;
  for (size_t t = 0; t < model.size(); ++t) {
    grads[t].resize(model[t].count);
    wireBytes += model[t].count * sizeof(float);
  }
  const gccl::perf::GradSums sum(args.np);
  const auto sumKernel =
      static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>);
  const auto maxKernel =
      static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::max<double>);
  std::vector<double> times;
  uint64_t wrong = 0;
  for (int step = 0; step < args.warmup + args.iterations; ++step) {
    for (size_t t = 0; t < model.size(); ++t) fill(grads[t].data(), model[t].count, t, rank);
    // Unbound collectives only: a pair-bound one would shrink the sockets' send buffers for
    // the unbound allreduces (see glooUsesUnboundBuffers in gloo_collectives.h).
    gloo::BarrierOptions barrier(context);
    gloo::barrier(barrier);
    const Clock::time_point start = Clock::now();
    for (size_t t = 0; t < model.size(); ++t) {
      if (args.backwardMs > 0) {  // the tensor's place in a simulated backward pass
        const std::chrono::duration<double, std::milli> at(
            args.backwardMs * static_cast<double>(t + 1) / static_cast<double>(model.size()));
        std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(at));
      }
      allreduce(context, grads[t].data(), model[t].count, sumKernel);
    }
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    allreduce(context, &ms, 1, maxKernel);  // a step lasts until its slowest rank is done
    if (step >= args.warmup) times.push_back(ms);
    for (size_t t = 0; t < model.size(); ++t) {
      wrong += countWrong(grads[t].data(), model[t].count, t, sum);
    }
  }
  leaveTogether(store, rank, args.np);
  std::sort(times.begin(), times.end());
  if (rank == 0) {
    std::printf("# gloo_grad_bench: %s, %zu fp32 tensors, %d ranks, median of %d steps\n",
                args.model.c_str(), model.size(), args.np, args.iterations);
    std::printf("gloo_per_tensor median_step_ms %.4f wire_bytes %zu tensors %zu wrong %llu\n",
                times[times.size() / 2], wireBytes, model.size(),
                static_cast<unsigned long long>(wrong));
  }
  if (wrong != 0)
    std::fprintf(stderr, "gloo_grad_bench rank %d: %llu wrong elements\n", rank,
                 static_cast<unsigned long long>(wrong));
  return wrong == 0 ? 0 : 1;
}

}  // namespace
}  // namespace baselines

int main(int argc, char** argv) {
  using namespace baselines;
  Args args;
  if (!parse(argc, argv, args)) {
    std::fprintf(stderr,
                 "usage: gloo_grad_bench [--np N] [--model resnet50|transformer] [-n N] [-w N] "
                 "[--backward-ms X] [--timeout S] [--bind cpus|none]\n");
    return 2;
  }
  if (const char* oneRank = std::getenv("GLOO_PERF_RANK")) {
    const char* store = std::getenv("GLOO_PERF_STORE");
    const char* address = std::getenv("GLOO_PERF_ADDR");
    const int rank = std::atoi(oneRank);
    if (store == nullptr || address == nullptr || rank < 0 || rank >= args.np) {
      std::fprintf(stderr,
                   "GLOO_PERF_RANK needs GLOO_PERF_STORE, GLOO_PERF_ADDR and a rank < --np\n");
      return 2;
    }
    return runRank(args, store, rank, address);
  }
  char dirTemplate[] = "/tmp/gloo_grad_bench.XXXXXX";
  if (!mkdtemp(dirTemplate)) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string storeDir = dirTemplate;
  const int rc = runLocalRanks(args.np, std::chrono::seconds(args.timeoutSec),
                               cpu_binding::placementFor(args.binding, args.np), [&](int rank) {
                                 return runRank(args, storeDir, rank, "127.0.0.1");
                               });
  std::error_code ignored;
  std::filesystem::remove_all(storeDir, ignored);
  return rc;
}
