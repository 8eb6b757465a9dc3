#include "algorithm_comms.h"

#include <cstdio>

namespace gccl::perf {

namespace {

bool openOne(gcclComm_t base, int rank, int nranks, const std::string& algorithm,
             gcclComm_t& comm) {
  // The id with whether rank 0 has one: without, every rank gives up together instead of the
  // others waiting in an init that rank 0 never joins.
  struct {
    gcclUniqueId id;
    unsigned char made;
  } shared{};
  if (rank == 0) {
    shared.made = gcclGetUniqueId(&shared.id) == gcclSuccess;
    if (!shared.made) {
      std::fprintf(stderr, "rank 0: no unique id for the %s communicator: %s\n", algorithm.c_str(),
                   gcclGetLastError(nullptr));
    }
  }
  if (gcclBroadcast(&shared, &shared, sizeof(shared), gcclUint8, 0, base) != gcclSuccess) {
    std::fprintf(stderr, "rank %d: broadcasting the %s communicator's id: %s\n", rank,
                 algorithm.c_str(), gcclGetLastError(base));
    return false;
  }
  if (!shared.made) return false;
  gcclConfig_t config = GCCL_CONFIG_INITIALIZER;
  config.algorithm = algorithm.c_str();
  int opened = gcclCommInitRankConfig(&comm, nranks, shared.id, rank, &config) == gcclSuccess;
  if (!opened) {
    std::fprintf(stderr, "rank %d: init of the %s communicator failed: %s\n", rank,
                 algorithm.c_str(), gcclGetLastError(nullptr));
  }
  // Whether every rank opened it: where one failed alone, the others give up with it instead of
  // waiting for it in their next call until gccl's timeout.
  if (gcclAllReduce(&opened, &opened, 1, gcclInt32, gcclMin, base) != gcclSuccess) opened = 0;
  if (!opened && comm != nullptr) {
    gcclCommAbort(comm);
    comm = nullptr;
  }
  return opened != 0;
}

}  // namespace

bool openAlgorithmComms(gcclComm_t base, const std::vector<std::string>& algorithms,
                        std::vector<gcclComm_t>& comms) {
  int rank = 0, nranks = 0;
  gcclCommUserRank(base, &rank);
  gcclCommCount(base, &nranks);
  comms.clear();
  for (const std::string& algorithm : algorithms) {
    gcclComm_t comm = nullptr;
    if (!openOne(base, rank, nranks, algorithm, comm)) {
      for (gcclComm_t opened : comms) gcclCommAbort(opened);
      comms.clear();
      return false;
    }
    comms.push_back(comm);
  }
  return true;
}

}  // namespace gccl::perf
