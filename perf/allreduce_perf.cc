// allreduce_perf: the nccl-tests-shaped benchmark of gccl's allreduce, with result checking.
//   allreduce_perf --np 4 -b 8 -e 64M -f 2        four local ranks
//   mpirun -np 4 allreduce_perf -b 8 -e 64M       one rank per process, from the environment
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <gccl/gccl.h>

#include "base/config.h"
#include "local_launcher.h"
#include "perf_options.h"
#include "sweep.h"

namespace {

using gccl::perf::PerfOptions;

int runRank(const PerfOptions& options, gcclComm_t comm) {
  int rank = 0, nranks = 0;
  gcclCommUserRank(comm, &rank);
  gcclCommCount(comm, &nranks);
  std::vector<gccl::perf::SizeResult> results;
  const bool ok = gccl::perf::runSweep(options, comm, results);
  if (!ok) {
    gcclCommAbort(comm);
    return 1;
  }
  gcclCommDestroy(comm);
  size_t wrong = 0;
  for (const auto& r : results) wrong += r.outOfPlace.wrong + r.inPlace.wrong;
  if (rank == 0 && !options.jsonPath.empty() && !gccl::perf::writeJson(options, nranks, results)) {
    return 1;
  }
  return wrong == 0 ? 0 : 1;
}

bool launchedByLauncher() {
  for (const char* name : {"GCCL_RANK", "RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const PerfOptions options = gccl::perf::parsePerfOptions(argc, argv);
  if (options.printConfig) {
    std::fputs(gccl::describeSettings(gccl::processEnvironment()).c_str(), stdout);
    return 0;
  }
  if (options.localRanks || !launchedByLauncher()) {
    return gccl::perf::runLocalRanks(
        options.localRanks.value_or(2), options.timeoutSeconds,
        [&](const gcclUniqueId& id, int rank, int nranks) {
          gcclComm_t comm = nullptr;
          if (gcclCommInitRank(&comm, nranks, id, rank) != gcclSuccess) {
            std::fprintf(stderr, "rank %d: init failed: %s\n", rank, gcclGetLastError(nullptr));
            return 1;
          }
          return runRank(options, comm);
        });
  }
  gcclComm_t comm = nullptr;
  if (gcclCommInitFromEnv(&comm) != gcclSuccess) {
    std::fprintf(stderr, "allreduce_perf: init failed: %s\n", gcclGetLastError(nullptr));
    return 1;
  }
  return runRank(options, comm);
}
