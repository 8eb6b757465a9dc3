// lazy_perf: a model's gradients (200 small fp32 tensors by default) averaged one allreduce at a
// time versus fused by the gradient sync (gcclGradSync*, thresholds 0 / 1 MiB / 25 MiB), with
// fp32 or fp16 on the wire, over --np local ranks (TCP loopback). Each step marks every
// gradient ready in backward order and waits; rank 0 prints the median step time.
//
//   lazy_perf --np 4 [--tensors 200] [--max-count 16384] [-n 20] [-w 3] [--bind cpus|none]
#include <gccl/gccl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "local_launcher.h"

namespace {

struct Options {
  int ranks = 4;
  int tensors = 200;
  size_t maxCount = 16384;  // tensor i has 64 << (i % 9) elements, capped here
  int iterations = 20;
  int warmup = 3;
  cpu_binding::Binding binding = cpu_binding::Binding::kCpus;  // --bind
};

struct Mode {
  const char* name;
  bool fused;          // false: one gcclAllReduceAsync per tensor, no gradient sync
  size_t bucketBytes;  // theta
  gcclWireFormat_t wire;
};

const Mode kModes[] = {
    {"one-by-one", false, 0, gcclWireNone},
    {"lazy theta=0", true, 0, gcclWireNone},
    {"lazy theta=1MiB", true, size_t{1} << 20, gcclWireNone},
    {"lazy theta=25MiB", true, size_t{25} << 20, gcclWireNone},
    {"lazy theta=0", true, 0, gcclWireFloat16},
    {"lazy theta=1MiB", true, size_t{1} << 20, gcclWireFloat16},
    {"lazy theta=25MiB", true, size_t{25} << 20, gcclWireFloat16},
};

std::vector<size_t> modelCounts(const Options& options) {
  std::vector<size_t> counts;
  for (int i = 0; i < options.tensors; ++i) {
    counts.push_back(std::min(options.maxCount, size_t{64} << (i % 9)));
  }
  return counts;
}

// Small integers: sums are exact in fp32 and fp16 (|sum| <= 7 * nranks). Each rank's values
// are a different multiple of the position, so a rank's input equals the average only where
// every rank holds 0 (one element in eight): a rank that skipped the copy-back fails.
float input(int rank, size_t tensor, size_t i) {
  return static_cast<float>((static_cast<size_t>(rank) + 1) * (tensor * 7 + i + 3) % 8);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

struct Result {
  double ms = 0;
  size_t buckets = 0;
  size_t wireBytes = 0;
  uint64_t wrong = 0;
};

#define CHECK(call)                                                                             \
  do {                                                                                          \
    if ((call) != gcclSuccess) {                                                                \
      std::fprintf(stderr, "lazy_perf rank %d: %s: %s\n", rank, #call, gcclGetLastError(comm)); \
      std::exit(1);                                                                             \
    }                                                                                           \
  } while (0)

Result runMode(const Mode& mode, const Options& options, gcclComm_t comm, int rank, int nranks) {
  const std::vector<size_t> counts = modelCounts(options);
  std::vector<float*> views(counts.size());
  std::vector<std::vector<float>> own;  // one-by-one: the framework's buffers
  gcclGradSync_t sync = nullptr;
  if (mode.fused) {
    gcclGradSyncConfig_t config = GCCL_GRAD_SYNC_CONFIG_INITIALIZER;
    config.bucketBytes = mode.bucketBytes;
    config.compression = mode.wire;
    CHECK(gcclGradSyncCreate(comm, &config, &sync));
    size_t index = 0;
    for (size_t count : counts)
      CHECK(gcclGradSyncRegister(sync, nullptr, count, gcclFloat32, &index));
    CHECK(gcclGradSyncFinalize(sync, nullptr, nullptr));
    for (size_t t = 0; t < counts.size(); ++t) {
      void* view = nullptr;
      CHECK(gcclGradSyncGetTensor(sync, t, &view));
      views[t] = static_cast<float*>(view);
    }
  } else {
    own.resize(counts.size());
    for (size_t t = 0; t < counts.size(); ++t) {
      own[t].resize(counts[t]);
      views[t] = own[t].data();
    }
  }
  Result result;
  std::vector<double> times;
  std::vector<gcclRequest_t> requests(counts.size());
  for (int iteration = 0; iteration < options.warmup + options.iterations; ++iteration) {
    for (size_t t = 0; t < counts.size(); ++t) {
      for (size_t i = 0; i < counts[t]; ++i) views[t][i] = input(rank, t, i);
    }
    CHECK(gcclBarrier(comm));
    const auto start = std::chrono::steady_clock::now();
    // Backward produces the gradients in registration order.
    gcclGradSyncStats_t stats{};
    if (mode.fused) {
      for (size_t t = 0; t < counts.size(); ++t) CHECK(gcclGradSyncMarkReady(sync, t, nullptr));
      CHECK(gcclGradSyncWait(sync, &stats));
    } else {
      for (size_t t = 0; t < counts.size(); ++t) {
        CHECK(gcclAllReduceAsync(views[t], views[t], counts[t], gcclFloat32, gcclAvg, comm,
                                 &requests[t]));
        stats.wireBytes += counts[t] * sizeof(float);
      }
      for (gcclRequest_t request : requests) CHECK(gcclWait(request));
      stats.buckets = counts.size();
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (iteration >= options.warmup) times.push_back(ms);
    result.buckets = stats.buckets;
    result.wireBytes = stats.wireBytes;
    for (size_t t = 0; t < counts.size(); ++t) {
      for (size_t i = 0; i < counts[t]; ++i) {
        float sum = 0;
        for (int r = 0; r < nranks; ++r) sum += input(r, t, i);
        const float expected = sum / static_cast<float>(nranks);
        // fp16: the average of exact sums is rounded once to 11 bits; fp32 is exact. Written
        // so that a NaN is wrong.
        const float tolerance = mode.wire == gcclWireNone ? 0.0f : expected * (1.0f / 1024);
        if (!(std::fabs(views[t][i] - expected) <= tolerance)) ++result.wrong;
      }
    }
  }
  if (sync != nullptr) CHECK(gcclGradSyncDestroy(sync));
  result.ms = median(times);
  return result;
}

gccl::perf::RankReport rankMain(const Options& options, const gcclUniqueId& id, int rank,
                                int nranks) {
  gcclComm_t comm = nullptr;
  CHECK(gcclCommInitRank(&comm, nranks, id, rank));
  gccl::perf::RankReport report;
  report.wrongElements = 0;
  size_t modelBytes = 0;
  for (size_t count : modelCounts(options)) modelBytes += count * sizeof(float);
  if (rank == 0) {
    std::printf(
        "# lazy_perf: %d ranks, %d fp32 tensors, %.2f MiB of gradients, median of %d "
        "steps\n",
        nranks, options.tensors, modelBytes / 1048576.0, options.iterations);
    std::printf("# %-18s %5s %8s %12s %10s %9s %7s\n", "mode", "wire", "buckets", "wire_bytes",
                "step_ms", "algbw", "#wrong");
  }
  for (const Mode& mode : kModes) {
    const Result result = runMode(mode, options, comm, rank, nranks);
    report.wrongElements += result.wrong;
    if (rank == 0) {
      std::printf("  %-18s %5s %8zu %12zu %10.3f %9.3f %7llu\n", mode.name,
                  mode.wire == gcclWireFloat16 ? "fp16" : "fp32", result.buckets, result.wireBytes,
                  result.ms, modelBytes / result.ms / 1e6,
                  static_cast<unsigned long long>(result.wrong));
      std::fflush(stdout);
    }
  }
  CHECK(gcclCommDestroy(comm));
  report.exitStatus = 0;
  return report;
}

int parseInt(const char* text, const char* flag) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < 1) {
    std::fprintf(stderr, "lazy_perf: %s needs a positive integer, got '%s'\n", flag, text);
    std::exit(2);
  }
  return static_cast<int>(value);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr,
                   "usage: lazy_perf [--np N] [--tensors N] [--max-count N] [-n N] [-w N]\n"
                   "                 [--bind cpus|none]\n");
      return 2;
    }
    if (flag == "--bind") {
      const auto binding = cpu_binding::parseBinding(argv[++i]);
      if (!binding) {
        std::fprintf(stderr, "lazy_perf: --bind takes cpus or none\n");
        return 2;
      }
      options.binding = *binding;
      continue;
    }
    const int value = parseInt(argv[++i], flag.c_str());
    if (flag == "--np") {
      options.ranks = value;
    } else if (flag == "--tensors") {
      options.tensors = value;
    } else if (flag == "--max-count") {
      options.maxCount = static_cast<size_t>(value);
    } else if (flag == "-n") {
      options.iterations = value;
    } else if (flag == "-w") {
      options.warmup = value;
    } else {
      std::fprintf(stderr, "lazy_perf: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  const cpu_binding::Placement placement =
      cpu_binding::placementFor(options.binding, options.ranks);
  std::printf("# %s\n", cpu_binding::describe(placement).c_str());
  const auto oneRank = [&](const gcclUniqueId& id, int rank, int nranks) {
    return rankMain(options, id, rank, nranks);
  };
  const gccl::perf::LocalRun run =
      gccl::perf::runLocalRanks("lazy_perf", options.ranks, 600, placement, oneRank);
  if (!run.allSucceeded || run.wrongElements != 0) {
    std::fprintf(stderr, "lazy_perf: %s, %llu wrong elements\n",
                 run.allSucceeded ? "all ranks finished" : "a rank failed",
                 static_cast<unsigned long long>(run.wrongElements));
    return 1;
  }
  return 0;
}
