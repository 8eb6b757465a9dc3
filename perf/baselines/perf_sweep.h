// The allreduce sweep itself, written once over a small backend interface so that the Gloo
// and MPI tools time, check and report in the same way, and the way gccl's allreduce_perf does
// (perf/sweep.cc): same sizes, check scheme, back-to-back timing and median.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "perf_args.h"
#include "perf_report.h"
#include "perf_types.h"

namespace baselines {

// What a library provides to be swept. Buffers belong to the sweep; `prepare` binds them.
template <typename T>
class SweepBackend {
 public:
  virtual ~SweepBackend() = default;
  virtual int rank() const = 0;
  virtual int nranks() const = 0;
  // Untimed set-up for one size (Gloo builds its algorithm objects over `output` here).
  virtual void prepare(T* input, T* output, size_t count) = 0;
  virtual void allreduceOutOfPlace() = 0;  // input -> output
  virtual void allreduceInPlace() = 0;     // output -> output
  // Returns once every rank entered it and none of this rank's earlier sends is in flight.
  virtual void barrier() = 0;
  // Collectives on the sweep's own bookkeeping, done with the library under test. Like
  // barrier(), they return with nothing of this rank in flight, so buffers may be reused.
  virtual void maxAcrossRanks(std::vector<double>& values) = 0;
  virtual int64_t sumAcrossRanks(int64_t value) = 0;
};

namespace detail {

// One call in the mode under test: out-of-place reduces input into output, in-place reduces
// output (which the caller refilled from the pristine input).
template <typename T>
void run(SweepBackend<T>& lib, bool inPlace) {
  inPlace ? lib.allreduceInPlace() : lib.allreduceOutOfPlace();
}

// Checks one freshly filled call. The timed calls reduce their own output again, so only a
// separate first call is checkable (the same scheme as gccl's allreduce_perf).
template <typename T>
int64_t checkOnce(SweepBackend<T>& lib, const PerfArgs& args, const T* input, T* output,
                  size_t count, bool inPlace) {
  if (!args.check) return 0;
  if (inPlace) {
    std::memcpy(output, input, count * sizeof(T));
  } else {
    std::fill(output, output + count, static_cast<T>(-1));  // no allreduce produces -1
  }
  run(lib, inPlace);
  return lib.sumAcrossRanks(countWrong(output, count, args.op, lib.nranks()));
}

// Times back-to-back calls, as gccl's allreduce_perf does: no barrier between them; each call's
// time is the max over ranks, and the reported time the median call (the upper one for even -n).
template <typename T>
Timing timeMode(SweepBackend<T>& lib, const PerfArgs& args, const T* input, T* output, size_t count,
                bool inPlace) {
  using Clock = std::chrono::steady_clock;
  // Backends' collectives flush (see SweepBackend::barrier), so no peer still reads output here.
  const int64_t wrong = checkOnce(lib, args, input, output, count, inPlace);
  if (inPlace) std::memcpy(output, input, count * sizeof(T));
  for (int i = 0; i < args.warmup; ++i) run(lib, inPlace);
  std::vector<double> timesUs(args.iters);
  for (double& t : timesUs) {
    const auto start = Clock::now();
    run(lib, inPlace);
    t = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  }
  lib.maxAcrossRanks(timesUs);
  return makeTiming(count * sizeof(T), lib.nranks(), std::move(timesUs), wrong);
}

}  // namespace detail

// Runs every size of the sweep; rank 0 prints the table.
template <typename T>
Run runSweep(SweepBackend<T>& lib, const PerfArgs& args, const RunInfo& info) {
  const size_t maxCount = args.maxBytes / sizeof(T);
  std::vector<T> input(maxCount), output(maxCount);
  fillInput(input.data(), maxCount, args.op, lib.rank());
  Run run{info, {}};
  if (lib.rank() == 0) printHeader(info);
  for (size_t bytes : sweepSizes(args)) {
    const size_t count = bytes / sizeof(T);
    lib.prepare(input.data(), output.data(), count);
    SizeResult r{count * sizeof(T), count, {}, {}};
    r.oop = detail::timeMode(lib, args, input.data(), output.data(), count, false);
    r.ip = detail::timeMode(lib, args, input.data(), output.data(), count, true);
    if (lib.rank() == 0) printRow(info, r);
    run.results.push_back(r);
  }
  if (lib.rank() == 0) printFooter(run.results);
  lib.barrier();  // no peer still reads our buffers when they are freed
  return run;
}

inline int64_t totalWrong(const Run& run) {
  int64_t wrong = 0;
  for (const SizeResult& r : run.results) wrong += r.oop.wrong + r.ip.wrong;
  return wrong;
}

}  // namespace baselines
