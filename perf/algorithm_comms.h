// -a A,B,...: one communicator per algorithm over the same ranks, so that a sweep can take
// their calls in turn (sweep.cc) and time every algorithm in the same launch: same CPUs, same
// pages, same minute. Launches of one schedule differ by 10-30% at 1-64 MiB on a 2-vCPU VM,
// more than the algorithms differ where the choice is close; calls taken in turn share that
// state instead of each drawing their own.
#pragma once

#include <string>
#include <vector>

#include <gccl/gccl.h>

namespace gccl::perf {

// Opens, collectively on every rank of `base`, one communicator per name of `algorithms`, in
// that order, each forced to its algorithm through gcclConfig_t (whatever GCCL_ALGO says):
// rank 0 makes each new unique id and broadcasts it over `base`. Every rank returns alike: a
// communicator that some rank failed to open is given up on all (they agree over `base`), and
// then each prints its gccl error, if any, aborts what it opened and returns false (`comms`
// then empty).
bool openAlgorithmComms(gcclComm_t base, const std::vector<std::string>& algorithms,
                        std::vector<gcclComm_t>& comms);

}  // namespace gccl::perf
