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

// Runs the sweep; the report carries this rank's own wrong elements, which alone make its exit
// status non-zero (under mpirun/torchrun, that is how a wrong element on any rank fails the job).
gccl::perf::RankReport runRank(const PerfOptions& options, gcclComm_t comm) {
  int rank = 0, nranks = 0;
  gcclCommUserRank(comm, &rank);
  gcclCommCount(comm, &nranks);
  std::vector<gccl::perf::SizeResult> results;
  if (!gccl::perf::runSweep(options, comm, results)) {
    gcclCommAbort(comm);
    return {};
  }
  gcclCommDestroy(comm);
  gccl::perf::RankReport report;
  for (const auto& r : results) report.wrongElements += r.outOfPlace.wrong + r.inPlace.wrong;
  const bool jsonOk =
      rank != 0 || options.jsonPath.empty() || gccl::perf::writeJson(options, nranks, results);
  report.exitStatus = jsonOk && report.wrongElements == 0 ? 0 : 1;
  return report;
}

// --np: the launcher adds up the ranks' own counts (see local_launcher.h).
int runLocally(const PerfOptions& options) {
  const int nranks = options.localRanks.value_or(2);
  const gccl::perf::LocalRun run = gccl::perf::runLocalRanks(
      nranks, options.timeoutSeconds, [&](const gcclUniqueId& id, int rank, int size) {
        gcclComm_t comm = nullptr;
        if (gcclCommInitRank(&comm, size, id, rank) != gcclSuccess) {
          std::fprintf(stderr, "rank %d: init failed: %s\n", rank, gcclGetLastError(nullptr));
          return gccl::perf::RankReport{};
        }
        return runRank(options, comm);
      });
  if (options.check) {
    std::printf("# Out of bounds values, all %d ranks : %llu %s (%d of %d ranks reported)\n",
                nranks, static_cast<unsigned long long>(run.wrongElements),
                run.wrongElements == 0 && run.reported == nranks ? "OK" : "FAILED", run.reported,
                nranks);
  }
  return run.allSucceeded && run.wrongElements == 0 ? 0 : 1;
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
  if (options.localRanks || !launchedByLauncher()) return runLocally(options);
  gcclComm_t comm = nullptr;
  if (gcclCommInitFromEnv(&comm) != gcclSuccess) {
    std::fprintf(stderr, "allreduce_perf: init failed: %s\n", gcclGetLastError(nullptr));
    return 1;
  }
  return runRank(options, comm).exitStatus;
}
