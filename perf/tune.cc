#include "tune.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "algorithms/registry.h"
#include "base/config.h"
#include "local_launcher.h"
#include "reduce/reduce.h"

namespace gccl::perf {

namespace {

constexpr size_t kSmallBytes = 8;
constexpr size_t kLargeBytes = size_t{16} << 20;

double nowUs() {
  return std::chrono::duration<double, std::micro>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// The sum kernel's time per byte of output, the gamma of the model.
double measureGammaUsPerByte() {
  const size_t count = kLargeBytes / sizeof(float);
  std::vector<float> a(count, 1.0f), b(count, 2.0f), out(count);
  std::vector<double> times;
  for (int i = 0; i < 7; ++i) {
    const double start = nowUs();
    reduce(DataType::kFloat32, ReduceOp::kSum, out.data(), a.data(), b.data(), count);
    times.push_back(nowUs() - start);
  }
  return median(times) / static_cast<double>(kLargeBytes);
}

// Per call, each call a whole allreduce (every rank waits for all): the median.
double medianAllreduceUs(gcclComm_t comm, std::vector<float>& buffer, size_t bytes, int warmup,
                         int iterations) {
  const size_t count = bytes / sizeof(float);
  std::vector<double> times;
  for (int i = 0; i < warmup + iterations; ++i) {
    const double start = nowUs();
    if (gcclAllReduce(buffer.data(), buffer.data(), count, gcclFloat32, gcclSum, comm) !=
        gcclSuccess) {
      return -1;
    }
    if (i >= warmup) times.push_back(nowUs() - start);
  }
  return median(times);
}

struct Measured {
  double smallUs = -1;
  double largeUs = -1;
};

// One launch of `nranks` local ranks running `algorithm`; rank 0 hands its medians back
// through a file (the ranks are child processes).
Measured measure(const char* algorithm, int nranks, int timeoutSeconds) {
  setenv("GCCL_ALGO", algorithm, 1);
  const std::string results = "/tmp/gccl-tune-" + std::to_string(getpid()) + "-" + algorithm;
  const LocalRun run = runLocalRanks(
      "allreduce_perf --tune", nranks, timeoutSeconds,
      [&](const gcclUniqueId& id, int rank, int size) {
        gcclComm_t comm = nullptr;
        if (gcclCommInitRank(&comm, size, id, rank) != gcclSuccess) return RankReport{};
        std::vector<float> buffer(kLargeBytes / sizeof(float), 0.0f);  // sums stay zero
        const double small = medianAllreduceUs(comm, buffer, kSmallBytes, 10, 100);
        const double large = medianAllreduceUs(comm, buffer, kLargeBytes, 2, 7);
        gcclCommDestroy(comm);
        if (small < 0 || large < 0) return RankReport{};
        if (rank == 0) std::ofstream(results) << small << " " << large << "\n";
        return RankReport{0, 0};
      });
  Measured measured;
  std::ifstream in(results);
  if (run.allSucceeded) in >> measured.smallUs >> measured.largeUs;
  std::remove(results.c_str());
  return measured;
}

double clampScale(double value) {
  return std::clamp(value, 0.05, 20.0);
}

}  // namespace

int runTune(const PerfOptions& options, const char* path) {
  const int nranks = options.localRanks.value_or(2);
  if (nranks < 2) {
    std::fprintf(stderr, "allreduce_perf --tune needs --np 2 or more\n");
    return 2;
  }
  ScheduleShape shape;
  shape.size = nranks;
  // The slice the measured runs used: the tree's closed form depends on it.
  const size_t chunkBytes = configFromEnvironment(processEnvironment()).chunkBytes;
  CostFigures figures;
  figures.gammaUsPerByte = measureGammaUsPerByte();

  std::vector<std::pair<const Algorithm*, Measured>> measured;
  for (const Algorithm& algorithm : algorithms()) {
    if (algorithm.collective != CollectiveKind::kAllreduce || !algorithm.supports(shape)) continue;
    const Measured m = measure(std::string(algorithm.name).c_str(), nranks, options.timeoutSeconds);
    if (m.smallUs < 0) {
      std::fprintf(stderr, "allreduce_perf --tune: %s failed\n", algorithm.name.data());
      return 1;
    }
    measured.emplace_back(&algorithm, m);
  }

  // The ring's closed form, 2(n-1) alpha + (n-1)/n B (2 beta + gamma), solved for alpha at 8 B
  // and for beta at 16 MiB.
  const Measured& ring = measured.front().second;
  const double n = nranks, large = static_cast<double>(kLargeBytes);
  const double alpha = ring.smallUs / (2 * (n - 1));
  const double perByte = (ring.largeUs - 2 * (n - 1) * alpha) / ((n - 1) / n * large);
  const double beta = std::max(1e-7, (perByte - figures.gammaUsPerByte) / 2);
  figures.intraHost = figures.interHost = LinkCost{alpha, beta};

  std::printf(
      "# allreduce_perf --tune: %d local ranks; alpha %.2f us, %.3f GB/s, reduce %.3f GB/s\n",
      nranks, alpha, 1e-3 / beta, 1e-3 / figures.gammaUsPerByte);
  std::printf("# %-20s %12s %12s %14s %14s\n", "algorithm", "8 B (us)", "16 MiB (us)",
              "latency scale", "bandwidth scale");
  for (const auto& [algorithm, m] : measured) {
    CostInputs inputs = costInputsOf(shape, chunkBytes, figures);
    inputs.bytes = kSmallBytes;
    const CostParts small = *predictParts(CollectiveKind::kAllreduce, algorithm->id, inputs);
    inputs.bytes = kLargeBytes;
    const CostParts big = *predictParts(CollectiveKind::kAllreduce, algorithm->id, inputs);
    Scale scale;
    scale.latency = clampScale((m.smallUs - small.bandwidthUs) / small.latencyUs);
    scale.bandwidth = clampScale((m.largeUs - scale.latency * big.latencyUs) / big.bandwidthUs);
    figures.scales[{CollectiveKind::kAllreduce, algorithm->id}] = scale;
    figures.scales[{CollectiveKind::kBarrier, algorithm->id}] = scale;
    std::printf("  %-20s %12.1f %12.1f %14.3f %14.3f\n", algorithm->name.data(), m.smallUs,
                m.largeUs, scale.latency, scale.bandwidth);
  }
  std::ofstream file(path);
  file << "# written by allreduce_perf --tune --np " << nranks << "\n"
       << formatCostFigures(figures);
  file.close();  // a write that fails only when the buffer is flushed (a full disk) shows here
  if (file.fail()) {
    std::fprintf(stderr, "allreduce_perf --tune: cannot write %s\n", path);
    return 1;
  }
  std::printf("# wrote %s: use it with GCCL_TUNE_FILE=%s\n", path, path);
  return 0;
}

}  // namespace gccl::perf
