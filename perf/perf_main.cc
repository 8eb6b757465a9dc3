#include "perf_main.h"

#include <cstdio>
#include <cstdlib>
#include <vector>

#include <gccl/gccl.h>

#include "algorithm_comms.h"
#include "base/config.h"
#include "local_launcher.h"
#include "perf_options.h"
#include "report.h"
#include "sweep.h"
#include "tune.h"

namespace gccl::perf {

namespace {

// The communicators the sweep runs on: `comm`, or one per algorithm of -a A,B,... opened over
// it (it is then closed). Empty when that fails (`comm` aborted).
std::vector<gcclComm_t> sweepComms(const PerfOptions& options, gcclComm_t comm) {
  if (options.algorithmsInTurn.empty()) return {comm};
  std::vector<gcclComm_t> comms;
  if (!openAlgorithmComms(comm, options.algorithmsInTurn, comms)) {
    gcclCommAbort(comm);
    return {};
  }
  gcclCommDestroy(comm);
  return comms;
}

// Runs the sweep; the report carries this rank's own wrong elements, which alone make its exit
// status non-zero (under mpirun/torchrun, that is how a wrong element on any rank fails the job).
RankReport runRank(const CollectiveSpec& spec, const PerfOptions& options, gcclComm_t comm) {
  int rank = 0, nranks = 0;
  gcclCommUserRank(comm, &rank);
  gcclCommCount(comm, &nranks);
  const std::vector<gcclComm_t> comms = sweepComms(options, comm);
  if (comms.empty()) return {};
  std::vector<SizeResult> results;
  if (!runSweep(spec, options, comms, results)) {
    for (gcclComm_t c : comms) gcclCommAbort(c);
    return {};
  }
  for (gcclComm_t c : comms) gcclCommDestroy(c);
  RankReport report;
  for (const auto& r : results) report.wrongElements += r.outOfPlace.wrong + r.inPlace.wrong;
  const bool jsonOk = rank != reportingRank(spec, options) || options.jsonPath.empty() ||
                      writeJson(spec, options, nranks, results);
  report.exitStatus = jsonOk && report.wrongElements == 0 ? 0 : 1;
  return report;
}

// --np: the launcher adds up the ranks' own counts (see local_launcher.h).
int runLocally(const CollectiveSpec& spec, const PerfOptions& options) {
  const int nranks = options.localRanks.value_or(2);
  const cpu_binding::Placement placement = cpu_binding::placementFor(options.binding, nranks);
  std::printf("# %s\n", cpu_binding::describe(placement).c_str());
  const auto rankMain = [&](const gcclUniqueId& id, int rank, int size) {
    gcclComm_t comm = nullptr;
    if (gcclCommInitRank(&comm, size, id, rank) != gcclSuccess) {
      std::fprintf(stderr, "rank %d: init failed: %s\n", rank, gcclGetLastError(nullptr));
      return RankReport{};
    }
    return runRank(spec, options, comm);
  };
  const LocalRun run =
      runLocalRanks(spec.tool, nranks, options.timeoutSeconds, placement, rankMain);
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

// -a becomes GCCL_ALGO before any rank's init reads it (forked ranks inherit it); without -a
// the header still names a GCCL_ALGO found in the environment. -a A,B,... sets each
// communicator's own (algorithm_comms.h), whatever the environment says.
void applyAlgorithm(PerfOptions& options) {
  if (!options.algorithmsInTurn.empty()) return;
  if (!options.algorithm.empty()) {
    setenv("GCCL_ALGO", options.algorithm.c_str(), 1);
  } else {
    options.algorithm = processEnvironment()("GCCL_ALGO").value_or("");
  }
}

}  // namespace

int perfMain(const CollectiveSpec& spec, int argc, char** argv) {
  PerfOptions options = parsePerfOptions(spec, argc, argv);
  applyAlgorithm(options);
  if (options.printConfig) {
    std::fputs(describeSettings(processEnvironment()).c_str(), stdout);
    return 0;
  }
  if (!options.tunePath.empty()) return runTune(options, options.tunePath.c_str());
  if (options.localRanks || !launchedByLauncher()) return runLocally(spec, options);
  gcclComm_t comm = nullptr;
  if (gcclCommInitFromEnv(&comm) != gcclSuccess) {
    std::fprintf(stderr, "%s: init failed: %s\n", spec.tool, gcclGetLastError(nullptr));
    return 1;
  }
  // -a A,B,...: rank 0 makes one more unique id per algorithm (algorithm_comms.h), which would
  // listen on GCCL_ROOT_PORT, the port this communicator's store already holds. Their ids
  // travel over this communicator, so any port serves: an ephemeral one. (Init has read the
  // environment on this thread, and no gccl thread reads it.)
  if (!options.algorithmsInTurn.empty()) unsetenv("GCCL_ROOT_PORT");
  return runRank(spec, options, comm).exitStatus;
}

}  // namespace gccl::perf
