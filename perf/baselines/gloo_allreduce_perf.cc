// Gloo's allreduce algorithms over its TCP transport, swept like gccl's allreduce_perf, for
// side-by-side numbers; --collective broadcast|reduce|allgather|reduce_scatter sweeps Gloo's
// implementation of that collective like gccl's other perf tools instead (gloo_collectives.h).
// The tool forks its own ranks (--np N, on 127.0.0.1); they meet through a FileStore in a
// fresh temporary directory. With GLOO_PERF_RANK, GLOO_PERF_STORE (a directory every rank
// shares) and GLOO_PERF_ADDR (the address to bind) set, it runs that one rank of --np instead:
// how tests/netns/netns_run.sh runs it on several (namespaced) hosts.
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/rendezvous/file_store.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gloo_collectives.h"
#include "gloo_context.h"
#include "gloo_flushing_barrier.h"
#include "local_ranks.h"
#include "perf_args.h"
#include "perf_sweep.h"

namespace baselines {
namespace {

template <typename T>
class GlooBackend : public SweepBackend<T> {
 public:
  GlooBackend(Collective collective, GlooCallArgs args)
      : collective_(collective), args_(std::move(args)), barrier_(*args_.context) {}
  int rank() const override { return args_.context->rank; }
  int nranks() const override { return args_.context->size; }

  void prepare(T* input, T* output, size_t count) override {
    // Gloo keeps counts and byte sizes in int.
    const size_t elements = count * blocksPerRow(collective_, nranks());
    if (elements * sizeof(T) > INT_MAX) {
      throw std::runtime_error("message exceeds Gloo's int sizes");
    }
    barrier();  // the previous size's sends are out: its objects may be destroyed
    args_.count = count;
    calls_ = makeGlooCalls(collective_, args_, input, output);
  }
  void runOutOfPlace() override { calls_.outOfPlace(); }
  void runInPlace() override { calls_.inPlace(); }
  // See glooUsesUnboundBuffers for why the sweep's own collectives follow the one under test.
  void barrier() override {
    if (!unbound_) return barrier_.run();
    gloo::BarrierOptions options(args_.context);
    gloo::barrier(options);
  }
  // Each flushes before its temporary algorithm object is destroyed.
  void maxAcrossRanks(std::vector<double>& values) override {
    if (unbound_) return unboundAllreduce(values.data(), values.size(), Op::kMax);
    gloo::AllreduceRingChunked<double>(args_.context, {values.data()},
                                       static_cast<int>(values.size()),
                                       gloo::ReductionFunction<double>::max)
        .run();
    barrier_.run();
  }
  int64_t sumAcrossRanks(int64_t value) override {
    if (unbound_) {
      unboundAllreduce(&value, 1, Op::kSum);
      return value;
    }
    gloo::AllreduceRingChunked<int64_t>(args_.context, {&value}, 1).run();
    barrier_.run();
    return value;
  }

 private:
  // In place; returns with its sends done.
  template <typename V>
  void unboundAllreduce(V* data, size_t count, Op op) {
    gloo::AllreduceOptions options(args_.context);
    options.setOutput(data, count);
    options.setReduceFunction(glooReduceFunction<V>(op));
    gloo::allreduce(options);
  }

  Collective collective_;
  GlooCallArgs args_;
  bool unbound_ = glooUsesUnboundBuffers(collective_);
  FlushingBarrier barrier_;
  GlooCalls calls_;
};

std::string headerNote(Collective c) {
  return std::string(", transport tcp") +
         (glooCopiesInput(c) ? " (out-of-place time includes the input copy)" : "") +
         (glooCopiesInPlace(c) ? " (in-place time includes copying the input aside)" : "");
}

int runRank(const PerfArgs& args, const std::string& storeDir, int rank,
            const char* address = "127.0.0.1") {
  gloo::rendezvous::FileStore store(storeDir);
  auto context = connectGloo(store, rank, args.np, args.timeoutSec, address);
  const auto algorithms =
      args.algo == "all" ? glooAlgorithms(args.collective) : std::vector<std::string>{args.algo};
  std::vector<Run> runs;
  for (const std::string& algorithm : algorithms) {
    visitDType(args.dtype, [&](auto zero) {
      using T = decltype(zero);
      GlooBackend<T> backend(args.collective, {context, algorithm, args.op, args.root, 0});
      const RunInfo info{.collective = args.collective,
                         .root = args.root,
                         .library = "gloo",
                         .algorithm = algorithm,
                         .transport = "tcp",
                         .note = headerNote(args.collective),
                         .nranks = args.np,
                         .dtype = args.dtype,
                         .op = args.op,
                         .iters = args.iters,
                         .warmup = args.warmup,
                         .check = args.check};
      runs.push_back(runSweep(backend, args, info));
    });
  }
  leaveTogether(store, rank, args.np);
  if (rank == 0 && !args.json.empty() && !writeJson(args.json, runs)) {
    std::fprintf(stderr, "cannot write %s\n", args.json.c_str());
    return 1;
  }
  for (const Run& run : runs) {
    if (totalWrong(run) > 0) return 1;
  }
  return 0;
}

bool knownAlgorithm(Collective c, const std::string& name) {
  if (name == "all") return true;
  for (const std::string& a : glooAlgorithms(c)) {
    if (a == name) return true;
  }
  return false;
}

}  // namespace
}  // namespace baselines

int main(int argc, char** argv) {
  using namespace baselines;
  const auto args = parseArgs(argc, argv, Tool::kGloo);
  if (!args) return 2;
  if (!knownAlgorithm(args->collective, args->algo)) {
    std::string names;
    for (const std::string& a : glooAlgorithms(args->collective)) names += a + "|";
    std::fprintf(stderr, "unknown --algo %s for %s (%sall)\n", args->algo.c_str(),
                 collectiveName(args->collective), names.c_str());
    return 2;
  }
  if (args->root >= args->np) {
    std::fprintf(stderr, "-r %d: not a rank of --np %d\n", args->root, args->np);
    return 2;
  }
  const char* oneRank = std::getenv("GLOO_PERF_RANK");
  if (oneRank != nullptr) {
    const char* store = std::getenv("GLOO_PERF_STORE");
    const char* address = std::getenv("GLOO_PERF_ADDR");
    const int rank = std::atoi(oneRank);
    if (store == nullptr || address == nullptr || rank < 0 || rank >= args->np) {
      std::fprintf(stderr,
                   "GLOO_PERF_RANK needs GLOO_PERF_STORE, GLOO_PERF_ADDR and a rank < --np\n");
      return 2;
    }
    return runRank(*args, store, rank, address);
  }
  char dirTemplate[] = "/tmp/gloo_allreduce_perf.XXXXXX";
  if (!mkdtemp(dirTemplate)) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string storeDir = dirTemplate;
  const cpu_binding::Placement placement = cpu_binding::placementFor(args->binding, args->np);
  std::printf("# %s\n", cpu_binding::describe(placement).c_str());
  const int rc = runLocalRanks(args->np, std::chrono::seconds(args->timeoutSec), placement,
                               [&](int rank) { return runRank(*args, storeDir, rank); });
  std::error_code ignored;
  std::filesystem::remove_all(storeDir, ignored);
  return rc;
}
