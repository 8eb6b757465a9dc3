// The sweep itself, written once over a small backend interface so that the Gloo and MPI tools
// time, check and report in the same way, and the way gccl's perf tools do (perf/sweep.cc):
// same sizes, check scheme, back-to-back timing and median.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "perf_args.h"
#include "perf_collective.h"
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
  // Untimed set-up for one size of the collective under test (Gloo builds its algorithm
  // objects here). `count` is the call's count: a block, for allgather and reduce-scatter.
  virtual void prepare(T* input, T* output, size_t count) = 0;
  virtual void runOutOfPlace() = 0;  // input -> output
  virtual void runInPlace() = 0;     // output -> output, laid out as perf_collective.h says
  // Returns once every rank entered it and none of this rank's earlier sends is in flight.
  virtual void barrier() = 0;
  // Collectives on the sweep's own bookkeeping, done with the library under test. Like
  // barrier(), they return with nothing of this rank in flight, so buffers may be reused.
  virtual void maxAcrossRanks(std::vector<double>& values) = 0;
  virtual int64_t sumAcrossRanks(int64_t value) = 0;
};

namespace detail {

// One row's call, as the sweep sees it.
struct Call {
  Collective collective;
  Op op;  // the op the input is filled for: sum for collectives that reduce nothing
  int root;
  size_t count;
  bool inPlace;
};

template <typename T>
void run(SweepBackend<T>& lib, const Call& call) {
  call.inPlace ? lib.runInPlace() : lib.runOutOfPlace();
}

// In place, the call finds this rank's input in the output (allreduce: the output refilled
// from the pristine input).
template <typename T>
void placeInput(SweepBackend<T>& lib, const Call& call, const T* input, T* output) {
  if (!call.inPlace || !readsInput(call.collective, lib.rank(), call.root)) return;
  std::memcpy(output + inPlaceInputOffset(call.collective, call.count, lib.rank()), input,
              inputElements(call.collective, call.count, lib.nranks()) * sizeof(T));
}

// Checks one freshly filled call. The timed calls work on their own output again, so only a
// separate first call is checkable (the same scheme as gccl's perf tools).
template <typename T>
int64_t checkOnce(SweepBackend<T>& lib, const PerfArgs& args, const Call& call, const T* input,
                  T* output) {
  if (!args.check) return 0;
  // No collective produces -1 from these inputs: what it should write but does not is wrong.
  const size_t rowElements = call.count * blocksPerRow(call.collective, lib.nranks());
  std::fill(output, output + rowElements, static_cast<T>(-1));
  placeInput(lib, call, input, output);
  run(lib, call);
  return lib.sumAcrossRanks(countWrongOutput(call.collective, output, call.count, call.op,
                                             lib.rank(), lib.nranks(), call.root));
}

// Times back-to-back calls, as gccl's perf tools do: no barrier between them; each call's time
// is the max over ranks, and the reported time the median call (the upper one for even -n).
template <typename T>
Timing timeMode(SweepBackend<T>& lib, const PerfArgs& args, const Call& call, const T* input,
                T* output) {
  using Clock = std::chrono::steady_clock;
  // Backends' collectives flush (see SweepBackend::barrier), so no peer still reads output here.
  const int64_t wrong = checkOnce(lib, args, call, input, output);
  placeInput(lib, call, input, output);
  for (int i = 0; i < args.warmup; ++i) run(lib, call);
  std::vector<double> timesUs(args.iters);
  for (double& t : timesUs) {
    const auto start = Clock::now();
    run(lib, call);
    t = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  }
  lib.maxAcrossRanks(timesUs);
  const size_t rowBytes = call.count * blocksPerRow(call.collective, lib.nranks()) * sizeof(T);
  return makeTiming(call.collective, rowBytes, lib.nranks(), std::move(timesUs), wrong);
}

}  // namespace detail

// Runs every size of the sweep; rank 0 prints the table. Sizes become counts as in gccl's
// tools: a row of n bytes is blocksPerRow calls' worth of n / blocks / sizeof(T) elements.
template <typename T>
Run runSweep(SweepBackend<T>& lib, const PerfArgs& args, const RunInfo& info) {
  const size_t maxCount = args.maxBytes / sizeof(T);
  std::vector<T> input(maxCount), output(maxCount);
  const Op op = reduces(info.collective) ? args.op : Op::kSum;
  fillInput(input.data(), maxCount, op, lib.rank());
  const size_t blocks = static_cast<size_t>(blocksPerRow(info.collective, lib.nranks()));
  Run run{info, {}};
  if (lib.rank() == 0) printHeader(info);
  for (size_t bytes : sweepSizes(args)) {
    const size_t count = bytes / sizeof(T) / blocks;
    lib.prepare(input.data(), output.data(), count);
    SizeResult r{count * blocks * sizeof(T), count, {}, {}};
    detail::Call call{info.collective, op, info.root, count, false};
    r.oop = detail::timeMode(lib, args, call, input.data(), output.data());
    call.inPlace = true;
    r.ip = detail::timeMode(lib, args, call, input.data(), output.data());
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
