#include "sweep.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "buffer_space.h"
#include "report.h"
#include "turns.h"

namespace gccl::perf {

namespace {

struct RankContext {
  const CollectiveSpec& spec;
  const PerfOptions& options;
  // One communicator, or one per algorithm of -a A,B,... (algorithm_comms.h), their calls
  // taken in turn.
  std::span<const gcclComm_t> comms;
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

// ", ring": the algorithm of `comm` in messages, when several take turns.
std::string algorithmOf(const RankContext& ctx, gcclComm_t comm) {
  const auto& names = ctx.options.algorithmsInTurn;
  for (size_t k = 0; k < names.size() && k < ctx.comms.size(); ++k) {
    if (ctx.comms[k] == comm) return ", " + names[k];
  }
  return "";
}

bool check(gcclResult_t result, const RankContext& ctx, gcclComm_t comm) {
  if (result == gcclSuccess) return true;
  std::fprintf(stderr, "%s rank %d%s: %s: %s\n", ctx.spec.tool, ctx.rank,
               algorithmOf(ctx, comm).c_str(), gcclGetErrorString(result), gcclGetLastError(comm));
  return false;
}

// Times `iterations` calls of each of `calls` (one per communicator; several take turns,
// turns.h); returns per call setup each iteration's time in us, the slowest rank's.
bool timeIterations(const RankContext& ctx, std::span<const CallSetup> calls, Placement where,
                    std::vector<std::vector<double>>& times) {
  const auto call = [&](size_t k) {
    return check(ctx.spec.run(calls[k], where), ctx, calls[k].comm);
  };
  if (!timeInTurns(calls.size(), ctx.options.warmup, ctx.options.iterations, call, times)) {
    return false;
  }
  for (size_t k = 0; k < calls.size(); ++k) {
    const gcclComm_t comm = calls[k].comm;
    if (!check(gcclAllReduce(times[k].data(), times[k].data(), times[k].size(), gcclFloat64,
                             gcclMax, comm),
               ctx, comm)) {
      return false;
    }
  }
  return true;
}

void reportWrong(const RankContext& ctx, const CallSetup& call, size_t wrong, size_t count,
                 size_t bytes) {
  std::fprintf(stderr, "%s rank %d: %zu of %zu elements wrong (%zu bytes, %s%s)\n", ctx.spec.tool,
               ctx.rank, wrong, count, bytes, call.inPlace ? "in place" : "out of place",
               algorithmOf(ctx, call.comm).c_str());
}

// Whether --corrupt-rank may flip a bit of a checked call's output: the test of the checker,
// once per row, placement and algorithm.
enum class Corrupt { kAllowed, kNever };

// One checked call on freshly filled buffers; returns this rank's own wrong count (see
// Measurement::wrong).
bool checkOnce(const RankContext& ctx, const CallSetup& call, Placement where, size_t bytes,
               unsigned char* a, unsigned char* b, Corrupt corrupt, size_t& wrong) {
  // Poison both buffers, then write the input: whatever a collective should write but does
  // not is wrong, never a stale result of an earlier call.
  std::memset(a, 0xA5, bytes);
  std::memset(b, 0xA5, bytes);
  ctx.spec.fill(call, where);
  mirrorsToDevice(ctx, bytes);
  if (!check(ctx.spec.run(call, callPlacement(ctx, where)), ctx, call.comm)) return false;
  mirrorsToHost(ctx, bytes);
  const std::span<unsigned char> result = ctx.spec.result(call, where);
  if (corrupt == Corrupt::kAllowed && ctx.rank == ctx.options.corruptRank && !result.empty()) {
    result[0] ^= 1;
  }
  wrong = ctx.spec.countWrong(call, where);
  if (wrong > 0) reportWrong(ctx, call, wrong, result.size() / gcclTypeSize(call.type), bytes);
  return true;
}

// One row's measurements, out of place or in place: `out` holds one per communicator.
bool measure(const RankContext& ctx, const SizeResult& row, bool inPlace, unsigned char* a,
             unsigned char* b, std::span<Measurement> out) {
  const CallSetup first{.comm = ctx.comms.front(),
                        .rank = ctx.rank,
                        .nranks = ctx.nranks,
                        .root = ctx.options.root,
                        .type = ctx.options.dataType,
                        .op = ctx.spec.reduces ? ctx.options.op : gcclSum,
                        .count = row.count,
                        .inPlace = inPlace};
  std::vector<CallSetup> calls(ctx.comms.size(), first);
  for (size_t k = 0; k < calls.size(); ++k) calls[k].comm = ctx.comms[k];
  const Placement where = ctx.spec.place(first, a, b);
  // In place, the timed iterations work on their own output again: only the first result is
  // checkable, so check a separate, freshly filled run of each algorithm. Out of place, the
  // last timed result is checked as well; in turns, that output is every algorithm's in turn
  // (and one that left elements unwritten would pass on another's), so each algorithm makes
  // one more call after its timed ones instead, checked on freshly poisoned buffers.
  for (size_t k = 0; k < calls.size() && ctx.options.check; ++k) {
    if (!checkOnce(ctx, calls[k], where, row.bytes, a, b, Corrupt::kAllowed, out[k].wrong)) {
      return false;
    }
  }
  ctx.spec.fill(first, where);
  const bool checkLast = ctx.options.check && !inPlace && calls.size() == 1;
  const std::span<unsigned char> result = ctx.spec.result(first, where);
  if (checkLast && !result.empty()) std::memset(result.data(), 0xA5, result.size());
  mirrorsToDevice(ctx, row.bytes);
  std::vector<std::vector<double>> times;
  if (!timeIterations(ctx, calls, callPlacement(ctx, where), times)) return false;
  if (checkLast) {
    mirrorsToHost(ctx, row.bytes);
    const size_t wrong = ctx.spec.countWrong(first, where);
    if (wrong > 0)
      reportWrong(ctx, first, wrong, result.size() / gcclTypeSize(first.type), row.bytes);
    out.front().wrong += wrong;
  }
  for (size_t k = 0; k < calls.size() && ctx.options.check && !inPlace && !checkLast; ++k) {
    size_t wrong = 0;
    if (!checkOnce(ctx, calls[k], where, row.bytes, a, b, Corrupt::kNever, wrong)) return false;
    out[k].wrong += wrong;
  }
  for (size_t k = 0; k < calls.size(); ++k) {
    std::vector<double>& own = times[k];
    std::nth_element(own.begin(), own.begin() + static_cast<long>(own.size() / 2), own.end());
    out[k].timeUs = own[own.size() / 2];
    out[k].algbw = out[k].timeUs > 0 ? static_cast<double>(row.bytes) / out[k].timeUs / 1e3 : 0;
    out[k].busbw = ctx.spec.busBw(out[k].algbw, ctx.nranks);
  }
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
    std::vector<Measurement> outOfPlace(ctx.comms.size()), inPlace(ctx.comms.size());
    if (!measure(ctx, row, false, ctx.hostA, ctx.hostB, outOfPlace) ||
        !measure(ctx, row, true, ctx.hostA, ctx.hostB, inPlace)) {
      return false;
    }
    for (size_t k = 0; k < ctx.comms.size(); ++k) {
      row.outOfPlace = outOfPlace[k];
      row.inPlace = inPlace[k];
      if (!ctx.options.algorithmsInTurn.empty()) row.algorithm = ctx.options.algorithmsInTurn[k];
      results.push_back(row);
      if (reports) printRow(ctx.spec, ctx.options, row);
    }
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

bool runSweep(const CollectiveSpec& spec, const PerfOptions& options,
              std::span<const gcclComm_t> comms, std::vector<SizeResult>& results) {
  RankContext ctx{spec, options, comms, 0, 1};
  gcclCommUserRank(comms.front(), &ctx.rank);
  gcclCommCount(comms.front(), &ctx.nranks);
  // Every row's buffers fit in the size column's bytes (collective.h). One allocation holds
  // both mirrors, so that a pointer into either is told apart by address (callPlacement).
  const size_t capacity = std::max(options.maxBytes, gcclTypeSize(options.dataType));
  const HostBuffers mirrors(2 * capacity, options.sharedBuffers);
  if (mirrors.data() == nullptr) return false;
  ctx.hostA = mirrors.data();
  ctx.hostB = mirrors.data() + capacity;
  try {
    const std::unique_ptr<BufferSpace> space = makeBufferSpace(options.device, comms, ctx.rank);
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
