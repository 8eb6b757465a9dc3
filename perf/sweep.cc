#include "sweep.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "buffer_space.h"
#include "report.h"

namespace gccl::perf {

namespace {

struct RankContext {
  const CollectiveSpec& spec;
  const PerfOptions& options;
  gcclComm_t comm;
  int rank;
  int nranks;
  // --device: the buffers the calls take, beside the host mirrors a and b that are filled and
  // checked. Without a device space the calls take the mirrors themselves.
  BufferSpace* space = nullptr;
  unsigned char* hostA = nullptr;
  unsigned char* hostB = nullptr;
  unsigned char* deviceA = nullptr;
  unsigned char* deviceB = nullptr;
};

// `where` (pointers into the mirrors) as the call takes it.
Placement callPlacement(const RankContext& ctx, Placement where) {
  if (ctx.space == nullptr) return where;
  const auto moved = [&](unsigned char* pointer) -> unsigned char* {
    if (pointer == nullptr) return nullptr;
    const bool inA = pointer >= ctx.hostA && pointer < ctx.hostB;
    return inA ? ctx.deviceA + (pointer - ctx.hostA) : ctx.deviceB + (pointer - ctx.hostB);
  };
  return {moved(where.send), moved(where.recv)};
}

void mirrorsToDevice(const RankContext& ctx, size_t bytes) {
  if (ctx.space == nullptr) return;
  ctx.space->toDevice(ctx.deviceA, ctx.hostA, bytes);
  ctx.space->toDevice(ctx.deviceB, ctx.hostB, bytes);
}

void mirrorsToHost(const RankContext& ctx, size_t bytes) {
  if (ctx.space == nullptr) return;
  ctx.space->toHost(ctx.hostA, ctx.deviceA, bytes);
  ctx.space->toHost(ctx.hostB, ctx.deviceB, bytes);
}

bool check(gcclResult_t result, const RankContext& ctx) {
  if (result == gcclSuccess) return true;
  std::fprintf(stderr, "%s rank %d: %s: %s\n", ctx.spec.tool, ctx.rank, gcclGetErrorString(result),
               gcclGetLastError(ctx.comm));
  return false;
}

// Times `iterations` calls; returns each iteration's time in us, the slowest rank's.
bool timeIterations(const RankContext& ctx, const CallSetup& call, Placement where,
                    std::vector<double>& times) {
  for (int i = 0; i < ctx.options.warmup; ++i) {
    if (!check(ctx.spec.run(call, where), ctx)) return false;
  }
  times.assign(static_cast<size_t>(ctx.options.iterations), 0.0);
  for (double& time : times) {
    const auto start = std::chrono::steady_clock::now();
    if (!check(ctx.spec.run(call, where), ctx)) return false;
    time =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  }
  return check(
      gcclAllReduce(times.data(), times.data(), times.size(), gcclFloat64, gcclMax, ctx.comm), ctx);
}

void reportWrong(const RankContext& ctx, size_t wrong, size_t count, size_t bytes, bool inPlace) {
  std::fprintf(stderr, "%s rank %d: %zu of %zu elements wrong (%zu bytes, %s)\n", ctx.spec.tool,
               ctx.rank, wrong, count, bytes, inPlace ? "in place" : "out of place");
}

// One checked call on freshly filled buffers; returns this rank's own wrong count (see
// Measurement::wrong).
bool checkOnce(const RankContext& ctx, const CallSetup& call, Placement where, size_t bytes,
               unsigned char* a, unsigned char* b, size_t& wrong) {
  // Poison both buffers, then write the input: whatever a collective should write but does
  // not is wrong, never a stale result of an earlier call.
  std::memset(a, 0xA5, bytes);
  std::memset(b, 0xA5, bytes);
  ctx.spec.fill(call, where);
  mirrorsToDevice(ctx, bytes);
  if (!check(ctx.spec.run(call, callPlacement(ctx, where)), ctx)) return false;
  mirrorsToHost(ctx, bytes);
  const std::span<unsigned char> result = ctx.spec.result(call, where);
  if (ctx.rank == ctx.options.corruptRank && !result.empty()) result[0] ^= 1;  // tests the checker
  wrong = ctx.spec.countWrong(call, where);
  if (wrong > 0)
    reportWrong(ctx, wrong, result.size() / gcclTypeSize(call.type), bytes, call.inPlace);
  return true;
}

bool measure(const RankContext& ctx, const SizeResult& row, bool inPlace, unsigned char* a,
             unsigned char* b, Measurement& out) {
  const CallSetup call{.comm = ctx.comm,
                       .rank = ctx.rank,
                       .nranks = ctx.nranks,
                       .root = ctx.options.root,
                       .type = ctx.options.dataType,
                       .op = ctx.spec.reduces ? ctx.options.op : gcclSum,
                       .count = row.count,
                       .inPlace = inPlace};
  const Placement where = ctx.spec.place(call, a, b);
  // In place, the timed iterations work on their own output again: only the first result is
  // checkable, so check a separate, freshly filled run (out of place, the last timed result is
  // checked as well).
  if (ctx.options.check && !checkOnce(ctx, call, where, row.bytes, a, b, out.wrong)) return false;
  ctx.spec.fill(call, where);
  const bool checkLast = ctx.options.check && !inPlace;
  const std::span<unsigned char> result = ctx.spec.result(call, where);
  if (checkLast && !result.empty()) std::memset(result.data(), 0xA5, result.size());
  mirrorsToDevice(ctx, row.bytes);
  std::vector<double> times;
  if (!timeIterations(ctx, call, callPlacement(ctx, where), times)) return false;
  if (checkLast) {
    mirrorsToHost(ctx, row.bytes);
    const size_t wrong = ctx.spec.countWrong(call, where);
    if (wrong > 0)
      reportWrong(ctx, wrong, result.size() / gcclTypeSize(call.type), row.bytes, false);
    out.wrong += wrong;
  }
  std::nth_element(times.begin(), times.begin() + static_cast<long>(times.size() / 2), times.end());
  out.timeUs = times[times.size() / 2];
  out.algbw = out.timeUs > 0 ? static_cast<double>(row.bytes) / out.timeUs / 1e3 : 0;
  out.busbw = ctx.spec.busBw(out.algbw, ctx.nranks);
  return true;
}

}  // namespace

int reportingRank(const CollectiveSpec& spec, const PerfOptions& options) {
  return spec.rooted ? options.root : 0;
}

namespace {

// The sweep over the sizes, once the buffers are in place.
bool sweepSizes(RankContext& ctx, std::vector<SizeResult>& results) {
  const bool reports = ctx.rank == reportingRank(ctx.spec, ctx.options);
  const size_t elementSize = gcclTypeSize(ctx.options.dataType);
  const size_t blocks = static_cast<size_t>(ctx.spec.blocksPerRow(ctx.nranks));
  if (reports) printHeader(ctx.spec, ctx.options, ctx.nranks);
  for (double size = static_cast<double>(ctx.options.minBytes);;) {
    SizeResult row;
    row.count = static_cast<size_t>(size) / elementSize / blocks;
    row.bytes = row.count * blocks * elementSize;
    if (!measure(ctx, row, false, ctx.hostA, ctx.hostB, row.outOfPlace) ||
        !measure(ctx, row, true, ctx.hostA, ctx.hostB, row.inPlace)) {
      return false;
    }
    results.push_back(row);
    if (reports) printRow(ctx.spec, ctx.options, row);
    if (size >= static_cast<double>(ctx.options.maxBytes) || ctx.options.factor <= 1.0) break;
    // A sweep from 0 bytes goes on with the smallest row that is not empty (0 times the factor
    // would stay 0 for ever).
    const auto smallest = static_cast<double>(elementSize * blocks);
    size = std::min(std::max(size * ctx.options.factor, smallest),
                    static_cast<double>(ctx.options.maxBytes));
  }
  if (reports) printFooter(ctx.spec, ctx.options, results);
  return true;
}

}  // namespace

namespace {

// The sweep's host buffers: from the heap, or from gcclMemAlloc (-R 1).
class HostBuffers {
 public:
  HostBuffers(size_t bytes, bool shared) : shared_(shared) {
    if (!shared) {
      heap_ = std::make_unique<unsigned char[]>(bytes);
      data_ = heap_.get();
      return;
    }
    void* memory = nullptr;
    if (gcclMemAlloc(&memory, bytes) != gcclSuccess) {
      std::fprintf(stderr, "-R 1: %s\n", gcclGetLastError(nullptr));
    }
    data_ = static_cast<unsigned char*>(memory);
  }
  ~HostBuffers() {
    if (shared_) gcclMemFree(data_);
  }
  HostBuffers(const HostBuffers&) = delete;
  HostBuffers& operator=(const HostBuffers&) = delete;
  unsigned char* data() const { return data_; }

 private:
  bool shared_;
  std::unique_ptr<unsigned char[]> heap_;
  unsigned char* data_ = nullptr;
};

}  // namespace

bool runSweep(const CollectiveSpec& spec, const PerfOptions& options, gcclComm_t comm,
              std::vector<SizeResult>& results) {
  RankContext ctx{spec, options, comm, 0, 1};
  gcclCommUserRank(comm, &ctx.rank);
  gcclCommCount(comm, &ctx.nranks);
  // Every row's buffers fit in the size column's bytes (collective.h). One allocation holds
  // both mirrors, so that a pointer into either is told apart by address (callPlacement).
  const size_t capacity = std::max(options.maxBytes, gcclTypeSize(options.dataType));
  const HostBuffers mirrors(2 * capacity, options.sharedBuffers);
  if (mirrors.data() == nullptr) return false;
  ctx.hostA = mirrors.data();
  ctx.hostB = mirrors.data() + capacity;
  try {
    const std::unique_ptr<BufferSpace> space = makeBufferSpace(options.device, comm, ctx.rank);
    if (!space) return sweepSizes(ctx, results);
    ctx.space = space.get();
    ctx.deviceA = space->allocate(capacity);
    ctx.deviceB = space->allocate(capacity);
    const bool swept = sweepSizes(ctx, results);
    space->release(ctx.deviceA);
    space->release(ctx.deviceB);
    return swept;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s rank %d: %s\n", spec.tool, ctx.rank, e.what());
    return false;
  }
}

}  // namespace gccl::perf
