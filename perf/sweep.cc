#include "sweep.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "table_header.h"
#include "verifiable.h"

namespace gccl::perf {

namespace {

struct RankContext {
  gcclComm_t comm;
  int rank;
  int nranks;
};

bool check(gcclResult_t result, const RankContext& ctx) {
  if (result == gcclSuccess) return true;
  std::fprintf(stderr, "allreduce_perf rank %d: %s: %s\n", ctx.rank, gcclGetErrorString(result),
               gcclGetLastError(ctx.comm));
  return false;
}

// Times `iterations` allreduces; returns each iteration's time in us, the slowest rank's.
bool timeIterations(const PerfOptions& options, const RankContext& ctx, const void* send,
                    void* recv, size_t count, std::vector<double>& times) {
  for (int i = 0; i < options.warmup; ++i) {
    if (!check(gcclAllReduce(send, recv, count, options.dataType, options.op, ctx.comm), ctx)) {
      return false;
    }
  }
  times.assign(static_cast<size_t>(options.iterations), 0.0);
  for (double& time : times) {
    const auto start = std::chrono::steady_clock::now();
    if (!check(gcclAllReduce(send, recv, count, options.dataType, options.op, ctx.comm), ctx)) {
      return false;
    }
    time =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  }
  return check(
      gcclAllReduce(times.data(), times.data(), times.size(), gcclFloat64, gcclMax, ctx.comm), ctx);
}

void reportWrong(const RankContext& ctx, size_t wrong, size_t count, size_t bytes, bool inPlace) {
  std::fprintf(stderr, "allreduce_perf rank %d: %zu of %zu elements wrong (%zu bytes, %s)\n",
               ctx.rank, wrong, count, bytes, inPlace ? "in place" : "out of place");
}

bool measure(const PerfOptions& options, const RankContext& ctx, size_t bytes, bool inPlace,
             unsigned char* send, unsigned char* recv, Measurement& out) {
  const size_t count = bytes / gcclTypeSize(options.dataType);
  unsigned char* target = inPlace ? send : recv;
  fillInput(send, count, options.dataType, options.op, ctx.rank, ctx.nranks);
  std::vector<double> times;
  // The timed iterations reduce their own output again: only the first result is checkable,
  // so check a separate, freshly filled run.
  if (options.check) {
    // Poison the output: a collective that writes nothing must not pass on stale results.
    if (!inPlace) std::memset(recv, 0xA5, bytes);
    if (!check(gcclAllReduce(send, target, count, options.dataType, options.op, ctx.comm), ctx)) {
      return false;
    }
    if (ctx.rank == options.corruptRank && bytes > 0) target[0] ^= 1;  // tests the checker
    // This rank's own count only (see Measurement::wrong).
    out.wrong = countWrong(target, count, options.dataType, options.op, ctx.nranks);
    if (out.wrong > 0) reportWrong(ctx, out.wrong, count, bytes, inPlace);
    fillInput(send, count, options.dataType, options.op, ctx.rank, ctx.nranks);
  }
  if (!timeIterations(options, ctx, send, target, count, times)) return false;
  std::nth_element(times.begin(), times.begin() + static_cast<long>(times.size() / 2), times.end());
  out.timeUs = times[times.size() / 2];
  const size_t usedBytes = count * gcclTypeSize(options.dataType);
  out.algbw = out.timeUs > 0 ? static_cast<double>(usedBytes) / out.timeUs / 1e3 : 0;
  out.busbw = out.algbw * 2.0 * (ctx.nranks - 1) / ctx.nranks;
  return true;
}

}  // namespace

bool runSweep(const PerfOptions& options, gcclComm_t comm, std::vector<SizeResult>& results) {
  RankContext ctx{comm, 0, 1};
  gcclCommUserRank(comm, &ctx.rank);
  gcclCommCount(comm, &ctx.nranks);
  const size_t elementSize = gcclTypeSize(options.dataType);
  const size_t capacity = std::max(options.maxBytes, elementSize);
  auto send = std::make_unique<unsigned char[]>(capacity);
  auto recv = std::make_unique<unsigned char[]>(capacity);
  if (ctx.rank == 0) printHeader(options, ctx.nranks);
  for (double size = static_cast<double>(options.minBytes);;) {
    SizeResult result;
    result.count = static_cast<size_t>(size) / elementSize;
    result.bytes = result.count * elementSize;
    if (!measure(options, ctx, result.bytes, false, send.get(), recv.get(), result.outOfPlace) ||
        !measure(options, ctx, result.bytes, true, send.get(), recv.get(), result.inPlace)) {
      return false;
    }
    results.push_back(result);
    if (ctx.rank == 0) printRow(options, result);
    if (size >= static_cast<double>(options.maxBytes) || options.factor <= 1.0) break;
    size = std::min(size * options.factor, static_cast<double>(options.maxBytes));
  }
  if (ctx.rank == 0) printFooter(results);
  return true;
}

void printHeader(const PerfOptions& options, int nranks) {
  std::printf("# gccl allreduce_perf: nranks %d, dtype %s, op %s, iters %d, warmup %d, check %d\n",
              nranks, dataTypeName(options.dataType), opName(options.op), options.iterations,
              options.warmup, options.check ? 1 : 0);
  std::printf(
      "# #wrong: wrong elements in rank 0's output. Every rank checks its own, names any wrong\n"
      "# size on stderr and exits non-zero; --np sums all ranks' counts at the end.\n");
  printColumnHeaders();
}

void printRow(const PerfOptions& options, const SizeResult& r) {
  std::printf(" %11zu %12zu %8s %6s %8.2f %8.3f %8.3f %7zu %8.2f %8.3f %8.3f %7zu\n", r.bytes,
              r.count, dataTypeName(options.dataType), opName(options.op), r.outOfPlace.timeUs,
              r.outOfPlace.algbw, r.outOfPlace.busbw, r.outOfPlace.wrong, r.inPlace.timeUs,
              r.inPlace.algbw, r.inPlace.busbw, r.inPlace.wrong);
  std::fflush(stdout);
}

void printFooter(const std::vector<SizeResult>& results) {
  double sum = 0;
  size_t wrong = 0;
  for (const SizeResult& r : results) {
    sum += (r.outOfPlace.busbw + r.inPlace.busbw) / 2;
    wrong += r.outOfPlace.wrong + r.inPlace.wrong;
  }
  std::printf("# Out of bounds values : %zu %s (rank 0)\n", wrong, wrong == 0 ? "OK" : "FAILED");
  std::printf("# Avg bus bandwidth    : %.4f\n", results.empty() ? 0.0 : sum / results.size());
  std::fflush(stdout);
}

bool writeJson(const PerfOptions& options, int nranks, const std::vector<SizeResult>& results) {
  FILE* file = std::fopen(options.jsonPath.c_str(), "w");
  if (file == nullptr) {
    std::perror(options.jsonPath.c_str());
    return false;
  }
  auto measurement = [&](const Measurement& m) {
    std::fprintf(file, "{\"time_us\":%.3f,\"algbw\":%.6f,\"busbw\":%.6f,\"wrong\":%zu}", m.timeUs,
                 m.algbw, m.busbw, m.wrong);
  };
  std::fprintf(file,
               "{\"library\":\"gccl\",\"nranks\":%d,\"dtype\":\"%s\",\"op\":\"%s\",\"results\":[",
               nranks, dataTypeName(options.dataType), opName(options.op));
  for (size_t i = 0; i < results.size(); ++i) {
    std::fprintf(file, "%s{\"bytes\":%zu,\"count\":%zu,\"oop\":", i == 0 ? "" : ",",
                 results[i].bytes, results[i].count);
    measurement(results[i].outOfPlace);
    std::fprintf(file, ",\"ip\":");
    measurement(results[i].inPlace);
    std::fprintf(file, "}");
  }
  std::fprintf(file, "]}\n");
  return std::fclose(file) == 0;
}

}  // namespace gccl::perf
