// MPI_Allreduce swept like gccl's allreduce_perf, for side-by-side numbers; --collective
// broadcast|reduce|allgather|reduce_scatter sweeps MPI_Bcast, MPI_Reduce, MPI_Allgather or
// MPI_Reduce_scatter_block like gccl's other perf tools instead. Run it under mpirun; the
// launcher's --mca flags choose the transport and --transport-label names it:
//
//   mpirun --allow-run-as-root --oversubscribe -np 4 --mca pml ob1 --mca btl tcp,self
//       --mca btl_tcp_if_include lo mpi_allreduce_perf --transport-label tcp -b 4 -e 64M
//
// (pml ob1 matters: with UCX installed Open MPI would otherwise pick the UCX pml.)
// Only the C API is used; the deprecated C++ bindings are skipped, their header trips -Wextra.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "perf_args.h"
#include "perf_sweep.h"

namespace baselines {
namespace {

template <typename T>
MPI_Datatype mpiType() {
  if constexpr (std::is_same_v<T, float>) return MPI_FLOAT;
  if constexpr (std::is_same_v<T, double>) return MPI_DOUBLE;
  return MPI_INT32_T;
}

MPI_Op mpiOp(Op op) {
  switch (op) {
    case Op::kProd: return MPI_PROD;
    case Op::kMin: return MPI_MIN;
    case Op::kMax: return MPI_MAX;
    case Op::kSum: break;
  }
  return MPI_SUM;
}

// MPI_Bcast has one buffer: out of place, the root first copies its input into it, inside the
// timed call, as a caller keeping its input would have to.
const char* headerNote(Collective c) {
  return c == Collective::kBroadcast ? " (out-of-place time includes the root's input copy)" : "";
}

template <typename T>
class MpiBackend : public SweepBackend<T> {
 public:
  MpiBackend(Collective collective, Op op, int root)
      : collective_(collective), op_(mpiOp(op)), root_(root) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks_);
  }
  int rank() const override { return rank_; }
  int nranks() const override { return nranks_; }

  void prepare(T* input, T* output, size_t count) override {
    if (count > INT_MAX) throw std::runtime_error("count exceeds MPI's int count");
    input_ = input;
    output_ = output;
    count_ = static_cast<int>(count);
  }
  void runOutOfPlace() override { run(input_); }
  void runInPlace() override { run(MPI_IN_PLACE); }
  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
  void maxAcrossRanks(std::vector<double>& values) override {
    MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_MAX,
                  MPI_COMM_WORLD);
  }
  int64_t sumAcrossRanks(int64_t value) override {
    MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    return value;
  }

 private:
  // `send` is input_ out of place, MPI_IN_PLACE in place.
  void run(const void* send) {
    const MPI_Datatype type = mpiType<T>();
    const bool inPlace = send == MPI_IN_PLACE;
    switch (collective_) {
      case Collective::kBroadcast:
        if (!inPlace && rank_ == root_) std::memcpy(output_, input_, count_ * sizeof(T));
        MPI_Bcast(output_, count_, type, root_, MPI_COMM_WORLD);
        return;
      case Collective::kReduce:
        // Only the root passes MPI_IN_PLACE; the others' input is in output_.
        if (rank_ != root_) {
          MPI_Reduce(inPlace ? output_ : send, nullptr, count_, type, op_, root_, MPI_COMM_WORLD);
        } else {
          MPI_Reduce(send, output_, count_, type, op_, root_, MPI_COMM_WORLD);
        }
        return;
      case Collective::kAllgather:
        MPI_Allgather(send, count_, type, output_, count_, type, MPI_COMM_WORLD);
        return;
      case Collective::kReduceScatter:
        MPI_Reduce_scatter_block(send, output_, count_, type, op_, MPI_COMM_WORLD);
        return;
      case Collective::kAllToAll:
        MPI_Alltoall(send, count_, type, output_, count_, type, MPI_COMM_WORLD);
        return;
      case Collective::kAllreduce: break;
    }
    MPI_Allreduce(send, output_, count_, type, op_, MPI_COMM_WORLD);
  }

  Collective collective_;
  MPI_Op op_;
  int root_;
  int rank_ = 0;
  int nranks_ = 0;
  T* input_ = nullptr;
  T* output_ = nullptr;
  int count_ = 0;
};

int runAll(const PerfArgs& args) {
  return visitDType(args.dtype, [&](auto zero) {
    using T = decltype(zero);
    MpiBackend<T> backend(args.collective, args.op, args.root);
    if (args.root >= backend.nranks()) {
      if (backend.rank() == 0) std::fprintf(stderr, "-r %d: not a rank\n", args.root);
      return 2;
    }
    const RunInfo info{.collective = args.collective,
                       .root = args.root,
                       .library = "openmpi",
                       .algorithm = "default",
                       .transport = args.transportLabel,
                       .note = ", transport " + args.transportLabel + headerNote(args.collective),
                       .nranks = backend.nranks(),
                       .dtype = args.dtype,
                       .op = args.op,
                       .iters = args.iters,
                       .warmup = args.warmup,
                       .check = args.check};
    const Run run = runSweep(backend, args, info);
    if (backend.rank() == 0 && !args.json.empty() && !writeJson(args.json, {run})) {
      std::fprintf(stderr, "cannot write %s\n", args.json.c_str());
      return 1;
    }
    return totalWrong(run) > 0 ? 1 : 0;
  });
}

}  // namespace
}  // namespace baselines

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const auto args = baselines::parseArgs(argc, argv, baselines::Tool::kMpi);
  // Every rank parses the same argv, so all of them take the same branch here.
  const int rc = args ? baselines::runAll(*args) : 2;
  MPI_Finalize();
  return rc;
}
