// Which ranks share a machine. Busy-polling cuts small-message latency only while every rank
// has a core to itself; when a machine's ranks outnumber its cores, a spinning rank takes the
// core its peer needs to answer, and sleeping at once is faster (measured: 4 ranks on 2 cores,
// 4-byte allreduce 260 us spinning, 125 us not).
#pragma once

#include <string>

#include "core/deadline.h"
#include "core/store.h"

namespace gccl {

// Names this machine's kernel: processes and containers on one host agree, other hosts and
// virtual machines differ.
std::string machineId();

// How many of the `size` ranks run on this rank's machine. Rank 0 gathers every rank's
// machine id and answers each rank, so the store serves O(size) requests in all.
int ranksOnThisMachine(Store& store, int rank, int size, const Deadline& deadline);

// CPUs this process may run on (its affinity mask).
int usableCpus();

// GCCL_SPIN_US=auto: the default spin, or none when the machine is oversubscribed.
int autoSpinUs(int ranksOnMachine, int cpus);

}  // namespace gccl
