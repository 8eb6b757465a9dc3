// Gloo's allreduce algorithms over its TCP transport, swept like gccl's allreduce_perf, for
// side-by-side numbers. The tool forks its own ranks (--np N, on 127.0.0.1); they meet
// through a FileStore in a fresh temporary directory.
//
// Gloo's algorithms reduce in place on the pointers they were built over. Out-of-place
// therefore copies the input into the output buffer and reduces that, and the timed region
// includes the copy, as a caller keeping its input would have to. In-place reduces directly.
#include <gloo/allreduce_bcube.h>
#include <gloo/allreduce_halving_doubling.h>
#include <gloo/allreduce_ring_chunked.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/transport/tcp/device.h>
#include <sys/socket.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gloo_flushing_barrier.h"
#include "local_ranks.h"
#include "perf_args.h"
#include "perf_sweep.h"

namespace baselines {
namespace {

const std::vector<std::string> kAlgorithms = {"ring_chunked", "halving_doubling", "bcube"};
const char* const kHeaderNote = ", transport tcp (out-of-place time includes the input copy)";

template <typename T>
const gloo::ReductionFunction<T>* glooOp(Op op) {
  switch (op) {
    case Op::kProd: return gloo::ReductionFunction<T>::product;
    case Op::kMin: return gloo::ReductionFunction<T>::min;
    case Op::kMax: return gloo::ReductionFunction<T>::max;
    case Op::kSum: break;
  }
  return gloo::ReductionFunction<T>::sum;
}

// Builds the algorithm; construction pairs up buffers, so it stays outside the timed loop.
template <typename T>
std::unique_ptr<gloo::Algorithm> makeAlgorithm(const std::string& name,
                                               const std::shared_ptr<gloo::Context>& context,
                                               T* data, int count, Op op) {
  const std::vector<T*> ptrs = {data};
  if (name == "halving_doubling") {
    return std::make_unique<gloo::AllreduceHalvingDoubling<T>>(context, ptrs, count, glooOp<T>(op));
  }
  if (name == "bcube") {
    return std::make_unique<gloo::AllreduceBcube<T>>(context, ptrs, count, glooOp<T>(op));
  }
  return std::make_unique<gloo::AllreduceRingChunked<T>>(context, ptrs, count, glooOp<T>(op));
}

template <typename T>
class GlooBackend : public SweepBackend<T> {
 public:
  GlooBackend(std::shared_ptr<gloo::Context> context, std::string algorithm, Op op)
      : context_(std::move(context)),
        algorithm_(std::move(algorithm)),
        op_(op),
        barrier_(*context_) {}
  int rank() const override { return context_->rank; }
  int nranks() const override { return context_->size; }

  void prepare(T* input, T* output, size_t count) override {
    // Gloo keeps counts and byte sizes in int.
    if (count * sizeof(T) > INT_MAX) throw std::runtime_error("message exceeds Gloo's int sizes");
    input_ = input;
    output_ = output;
    count_ = count;
    barrier_.run();  // the previous algorithm's sends are out: it may be destroyed
    allreduce_ = makeAlgorithm(algorithm_, context_, output, static_cast<int>(count), op_);
  }
  void allreduceOutOfPlace() override {
    std::memcpy(output_, input_, count_ * sizeof(T));  // timed: see the file comment
    allreduce_->run();
  }
  void allreduceInPlace() override { allreduce_->run(); }
  void barrier() override { barrier_.run(); }
  // Each flushes before its temporary algorithm object is destroyed.
  void maxAcrossRanks(std::vector<double>& values) override {
    gloo::AllreduceRingChunked<double>(context_, {values.data()}, static_cast<int>(values.size()),
                                       gloo::ReductionFunction<double>::max)
        .run();
    barrier_.run();
  }
  int64_t sumAcrossRanks(int64_t value) override {
    gloo::AllreduceRingChunked<int64_t>(context_, {&value}, 1).run();
    barrier_.run();
    return value;
  }

 private:
  std::shared_ptr<gloo::Context> context_;
  std::string algorithm_;
  Op op_;
  FlushingBarrier barrier_;
  std::unique_ptr<gloo::Algorithm> allreduce_;
  T* input_ = nullptr;
  T* output_ = nullptr;
  size_t count_ = 0;
};

std::shared_ptr<gloo::Context> connect(const PerfArgs& args, gloo::rendezvous::Store& store,
                                       int rank) {
  gloo::transport::tcp::attr attr("127.0.0.1");
  attr.ai_family = AF_INET;
  auto device = gloo::transport::tcp::CreateDevice(attr);
  auto context = std::make_shared<gloo::rendezvous::Context>(rank, args.np);
  context->setTimeout(std::chrono::seconds(args.timeoutSec));
  context->connectFullMesh(store, device);
  return context;
}

// Ranks leave together, meeting through the store rather than the sockets. A rank closing its
// sockets while a peer still waits in the final barrier fails that peer with "Connection
// closed by peer" even though the awaited message did arrive: Gloo checks the pair's error
// before the completion.
void leaveTogether(gloo::rendezvous::Store& store, int rank, int nranks) {
  store.set("exit/" + std::to_string(rank), {1});
  std::vector<std::string> keys;
  for (int r = 0; r < nranks; ++r) keys.push_back("exit/" + std::to_string(r));
  store.wait(keys);
}

int runRank(const PerfArgs& args, const std::string& storeDir, int rank) {
  gloo::rendezvous::FileStore store(storeDir);
  auto context = connect(args, store, rank);
  const auto algorithms = args.algo == "all" ? kAlgorithms : std::vector<std::string>{args.algo};
  std::vector<Run> runs;
  for (const std::string& algorithm : algorithms) {
    visitDType(args.dtype, [&](auto zero) {
      using T = decltype(zero);
      GlooBackend<T> backend(context, algorithm, args.op);
      const RunInfo info{.library = "gloo",
                         .algorithm = algorithm,
                         .transport = "tcp",
                         .note = kHeaderNote,
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

bool knownAlgorithm(const std::string& name) {
  if (name == "all") return true;
  for (const std::string& a : kAlgorithms) {
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
  if (!knownAlgorithm(args->algo)) {
    std::fprintf(stderr, "unknown --algo %s (ring_chunked|halving_doubling|bcube|all)\n",
                 args->algo.c_str());
    return 2;
  }
  char dirTemplate[] = "/tmp/gloo_allreduce_perf.XXXXXX";
  if (!mkdtemp(dirTemplate)) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string storeDir = dirTemplate;
  const int rc = runLocalRanks(args->np, std::chrono::seconds(args->timeoutSec),
                               [&](int rank) { return runRank(*args, storeDir, rank); });
  std::error_code ignored;
  std::filesystem::remove_all(storeDir, ignored);
  return rc;
}
