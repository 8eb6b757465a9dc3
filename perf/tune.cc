#include "tune.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "algorithm_comms.h"
#include "algorithms/registry.h"
#include "base/collective.h"
#include "base/config.h"
#include "base/error.h"
#include "local_launcher.h"
#include "reduce/reduce.h"
#include "turns.h"

namespace gccl::perf {

namespace {

// The sizes timed, each as the median of `iterations` calls after `warmup`. The first gives
// the latency scales (and the ring's alpha); every other one a bandwidth scale at its size
// (Scale::bandwidthAt), 16 MiB also the ring's beta and the scale of files before sizes had
// their own. Over loopback TCP the choice turns between 16 and 256 KiB, from recursive doubling
// to the trees, halving-doubling and the ring: untimed, 16 KiB took 64 KiB's scale (auto ran
// the tree at 1.47x recursive doubling's time) and 256 KiB an interpolation (the ring, 1.29x
// halving-doubling's). The sizes where the choice turns get 100 calls, as the comparisons time
// them: in 30, the ring still looked fastest at 256 KiB (docs/benchmarks.md).
struct TimedSize {
  size_t bytes;
  int warmup;
  int iterations;
};
constexpr TimedSize kSizes[] = {{8, 10, 100},         {16 << 10, 10, 100}, {64 << 10, 10, 100},
                                {256 << 10, 10, 100}, {1 << 20, 3, 20},    {16 << 20, 2, 7},
                                {64 << 20, 1, 5}};
constexpr size_t kSmall = 0;  // kSizes[kSmall]: latency
constexpr size_t kBeta = 5;   // kSizes[kBeta]: the ring's beta
constexpr size_t kLaunches = 3;
constexpr size_t kLargestBytes = kSizes[std::size(kSizes) - 1].bytes;
constexpr size_t kGammaBytes = kSizes[kBeta].bytes;
static_assert(kSizes[kSmall].bytes == 8 && kSizes[kBeta].bytes == 16 << 20);

// "8 B", "64 KiB", "16 MiB": the table's column heads.
std::string byteLabel(size_t bytes) {
  if (bytes >= (1 << 20)) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1 << 10)) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " B";
}

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
  const size_t count = kGammaBytes / sizeof(float);
  std::vector<float> a(count, 1.0f), b(count, 2.0f), out(count);
  std::vector<double> times;
  for (int i = 0; i < 7; ++i) {
    const double start = nowUs();
    reduce(DataType::kFloat32, ReduceOp::kSum, out.data(), a.data(), b.data(), count);
    times.push_back(nowUs() - start);
  }
  return median(times) / static_cast<double>(kGammaBytes);
}

// The float32 elements of one call of `collective` at a timed size on `nranks` ranks: an
// allreduce's whole buffer; an all-to-all's block per rank, at least one element (8 B over
// four ranks would be none), so that its buffer is `nranks` blocks of about the size.
size_t timedCount(CollectiveKind collective, const TimedSize& size, int nranks) {
  const size_t count = size.bytes / sizeof(float);
  if (collective != CollectiveKind::kAllToAll) return count;
  return std::max<size_t>(1, count / static_cast<size_t>(nranks));
}

// The bytes the selector prices such a call at (CostInputs::bytes, a rank's whole buffer).
size_t timedBytes(CollectiveKind collective, const TimedSize& size, int nranks) {
  const size_t count = timedCount(collective, size, nranks);
  const size_t blocks = collective == CollectiveKind::kAllToAll ? static_cast<size_t>(nranks) : 1;
  return count * blocks * sizeof(float);
}

// What one timed call reads and writes: an allreduce in place on `input`, an all-to-all from
// `input` into `output`. Sums of zeros stay zero.
struct Buffers {
  std::vector<float> input = std::vector<float>(kLargestBytes / sizeof(float), 0.0f);
  std::vector<float> output = std::vector<float>(kLargestBytes / sizeof(float), 0.0f);
};

// The median call of each communicator, a call's time being its slowest rank's, as the sweep
// times them (perf/sweep.cc): the collective is done when every rank is. One rank's own times
// can rank algorithms otherwise: rank 0 timed recursive doubling of 64 KiB at 38.6 us and
// halving-doubling at 38.8, where the slowest ranks took 57-73 and 46-63 (4 ranks on 2
// vCPUs), and the selector chose recursive doubling. Several communicators take turns
// (turns.h), each calling its algorithm's collective. Returns false when a call failed.
bool medianCallUs(std::span<const gcclComm_t> comms, std::span<const Algorithm* const> algorithms,
                  Buffers& buffers, const TimedSize& size, int nranks,
                  std::vector<double>& medians) {
  const auto call = [&](size_t k) {
    const CollectiveKind collective = algorithms[k]->collective;
    const size_t count = timedCount(collective, size, nranks);
    if (collective == CollectiveKind::kAllToAll) {
      return gcclAllToAll(buffers.input.data(), buffers.output.data(), count, gcclFloat32,
                          comms[k]) == gcclSuccess;
    }
    return gcclAllReduce(buffers.input.data(), buffers.input.data(), count, gcclFloat32, gcclSum,
                         comms[k]) == gcclSuccess;
  };
  std::vector<std::vector<double>> times;
  if (!timeInTurns(comms.size(), size.warmup, size.iterations, call, times)) return false;
  medians.clear();
  for (size_t k = 0; k < comms.size(); ++k) {
    if (gcclAllReduce(times[k].data(), times[k].data(), times[k].size(), gcclFloat64, gcclMax,
                      comms[k]) != gcclSuccess) {
      return false;
    }
    medians.push_back(median(times[k]));
  }
  return true;
}

// Microseconds per size of kSizes; -1 where the algorithm does not run that size (forced, it
// would run another) or a call failed.
using Measured = std::vector<double>;

// One launch of `nranks` local ranks timing every algorithm of `timed` together, each on its
// own communicator (algorithm_comms.h), their calls taken in turn: what the selector compares
// is measured on the same CPUs, pages and minute. Rank 0 hands its medians back through a file
// (the ranks are child processes). Empty when the launch failed.
std::vector<Measured> measure(std::span<const Algorithm* const> timed, const ScheduleShape& shape,
                              int nranks, const cpu_binding::Placement& placement,
                              int timeoutSeconds) {
  std::vector<std::string> names;
  for (const Algorithm* algorithm : timed) names.emplace_back(algorithm->name);
  const std::string results = "/tmp/gccl-tune-" + std::to_string(getpid());
  const LocalRun run =
      runLocalRanks("allreduce_perf --tune", nranks, timeoutSeconds, placement,
                    [&](const gcclUniqueId& id, int rank, int size) {
                      gcclComm_t base = nullptr;
                      std::vector<gcclComm_t> comms;
                      if (gcclCommInitRank(&base, size, id, rank) != gcclSuccess)
                        return RankReport{};
                      if (!openAlgorithmComms(base, names, comms)) {
                        gcclCommAbort(base);
                        return RankReport{};
                      }
                      gcclCommDestroy(base);
                      Buffers buffers;
                      std::vector<Measured> times(timed.size(), Measured(std::size(kSizes), -1));
                      bool failed = false;
                      for (size_t i = 0; i < std::size(kSizes) && !failed; ++i) {
                        // Every rank decides alike: the same table, shape and size.
                        std::vector<size_t> running;
                        std::vector<gcclComm_t> runningComms;
                        std::vector<const Algorithm*> runningAlgorithms;
                        for (size_t a = 0; a < timed.size(); ++a) {
                          const size_t bytes = timedBytes(timed[a]->collective, kSizes[i], size);
                          if (!fits(*timed[a], shape, bytes)) continue;
                          running.push_back(a);
                          runningComms.push_back(comms[a]);
                          runningAlgorithms.push_back(timed[a]);
                        }
                        std::vector<double> medians;
                        failed = !medianCallUs(runningComms, runningAlgorithms, buffers, kSizes[i],
                                               size, medians);
                        for (size_t k = 0; k < medians.size(); ++k)
                          times[running[k]][i] = medians[k];
                      }
                      for (gcclComm_t comm : comms) {
                        if (failed) {
                          gcclCommAbort(comm);
                        } else {
                          gcclCommDestroy(comm);
                        }
                      }
                      if (failed) return RankReport{};
                      if (rank == 0) {
                        std::ofstream out(results);
                        for (const Measured& m : times) {
                          for (const double us : m) out << us << "\n";
                        }
                      }
                      return RankReport{0, 0};
                    });
  std::vector<Measured> measured(timed.size(), Measured(std::size(kSizes), -1));
  std::ifstream in(results);
  if (run.allSucceeded) {
    for (Measured& m : measured) {
      for (double& us : m) in >> us;
    }
  }
  std::remove(results.c_str());
  if (!run.allSucceeded || !in) return {};
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

  // kLaunches launches, each timing every algorithm (in an order rotated by one from launch to
  // launch), and per size the median: a launch's figures depend on where its pages and ranks
  // landed, and a slow minute then falls on every algorithm alike instead of on one. The
  // allreduce's, and the all-to-all's, whose schedules differ from every allreduce's (n - 1
  // messages at once, or Bruck's packed rounds) as no closed form fully says: over loopback
  // TCP, four ranks on two vCPUs, Bruck's two messages beat three at once by 1.5x at 64 B where
  // the unscaled closed forms put the three first.
  std::vector<const Algorithm*> timed;
  for (const Algorithm& algorithm : algorithms()) {
    const bool tuned = algorithm.collective == CollectiveKind::kAllreduce ||
                       algorithm.collective == CollectiveKind::kAllToAll;
    if (tuned && algorithm.supports(shape)) timed.push_back(&algorithm);
  }
  const cpu_binding::Placement placement = cpu_binding::placementFor(options.binding, nranks);
  std::vector<std::vector<Measured>> launches(timed.size());
  for (size_t launch = 0; launch < kLaunches; ++launch) {
    std::vector<const Algorithm*> order = timed;
    std::rotate(order.begin(), order.begin() + static_cast<long>(launch % order.size()),
                order.end());
    const std::vector<Measured> m =
        measure(order, shape, nranks, placement, options.timeoutSeconds);
    if (m.empty()) {
      std::fprintf(stderr, "allreduce_perf --tune: a launch failed\n");
      return 1;
    }
    for (size_t k = 0; k < order.size(); ++k) {
      const size_t a =
          static_cast<size_t>(std::find(timed.begin(), timed.end(), order[k]) - timed.begin());
      if (m[k][kSmall] < 0 || (timed[a]->id == AlgorithmId::kRing && m[k][kBeta] < 0)) {
        std::fprintf(stderr, "allreduce_perf --tune: %s failed\n", timed[a]->name.data());
        return 1;
      }
      launches[a].push_back(m[k]);
    }
  }
  std::vector<std::pair<const Algorithm*, Measured>> measured;
  for (size_t a = 0; a < timed.size(); ++a) {
    Measured medians;
    for (size_t i = 0; i < std::size(kSizes); ++i) {
      std::vector<double> runs;
      for (const Measured& m : launches[a]) runs.push_back(m[i]);
      medians.push_back(median(runs));  // -1 in every launch where the size does not run
    }
    measured.emplace_back(timed[a], medians);
  }

  // The ring's closed form, 2(n-1) alpha + (n-1)/n B (2 beta + gamma), solved for alpha at 8 B
  // and for beta at 16 MiB.
  if (measured.empty() || measured.front().first->id != AlgorithmId::kRing) {
    std::fprintf(stderr, "allreduce_perf --tune: the ring is not the table's first allreduce\n");
    return 1;
  }
  const Measured& ring = measured.front().second;
  const double n = nranks, betaBytes = static_cast<double>(kSizes[kBeta].bytes);
  const double alpha = ring[kSmall] / (2 * (n - 1));
  const double perByte = (ring[kBeta] - 2 * (n - 1) * alpha) / ((n - 1) / n * betaBytes);
  const double beta = std::max(1e-7, (perByte - figures.gammaUsPerByte) / 2);
  figures.intraHost = figures.interHost = LinkCost{alpha, beta};

  std::printf("# %s\n", cpu_binding::describe(placement).c_str());
  std::printf(
      "# allreduce_perf --tune: %d local ranks; alpha %.2f us, %.3f GB/s, reduce %.3f GB/s\n",
      nranks, alpha, 1e-3 / beta, 1e-3 / figures.gammaUsPerByte);
  std::printf("# %-27s", "algorithm us (scale)");
  for (const TimedSize& size : kSizes) std::printf(" %17s", byteLabel(size.bytes).c_str());
  std::printf("\n");
  for (const auto& [algorithm, m] : measured) {
    const CollectiveKind collective = algorithm->collective;
    CostInputs inputs = costInputsOf(shape, chunkBytes, figures);
    auto partsAt = [&](const TimedSize& size) {
      inputs.bytes = timedBytes(collective, size, nranks);
      return *predictParts(collective, algorithm->id, inputs);
    };
    const CostParts small = partsAt(kSizes[kSmall]);
    Scale scale;
    scale.latency = clampScale((m[kSmall] - small.bandwidthUs) / small.latencyUs);
    const std::string label = collective == CollectiveKind::kAllreduce
                                  ? std::string(algorithm->name)
                                  : strCat(collectiveName(collective), " ", algorithm->name);
    std::printf("  %-27s %8.1f (%6.3f)", label.c_str(), m[kSmall], scale.latency);
    for (size_t i = kSmall + 1; i < std::size(kSizes); ++i) {
      if (m[i] < 0) {
        std::printf(" %17s", "-");
        continue;
      }
      const CostParts parts = partsAt(kSizes[i]);
      const double bandwidth =
          clampScale((m[i] - scale.latency * parts.latencyUs) / parts.bandwidthUs);
      scale.bandwidthAt.emplace_back(timedBytes(collective, kSizes[i], nranks), bandwidth);
      if (i == kBeta) scale.bandwidth = bandwidth;
      std::printf(" %8.1f (%6.3f)", m[i], bandwidth);
    }
    std::printf("\n");
    figures.scales[{collective, algorithm->id}] = scale;
    if (collective == CollectiveKind::kAllreduce) {
      figures.scales[{CollectiveKind::kBarrier, algorithm->id}] = scale;
    }
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
