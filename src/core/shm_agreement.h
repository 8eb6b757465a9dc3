// Whether the ranks of one machine talk over shared memory: only if every one of them can map
// it. Each rank probes /dev/shm on its own (a container may lack it, or be out of space); were
// one rank to take TCP while its peers took shared memory, each would wait for the other until
// the timeout. So every rank publishes its answer and takes shared memory only when all of its
// machine's ranks said yes: the same decision on every rank of the machine.
#pragma once

#include <string>
#include <vector>

#include "base/deadline.h"
#include "base/store.h"

namespace gccl {

// Publishes `usableHere` (and `why` not) for `rank`, then reads the answers of `localRanks`
// (this rank's machine, itself included); true when all can. A refusal is logged naming the
// rank and its reason. Throws Error(kTimeout) when a local rank never answers by `deadline`.
bool machineAgreesOnSharedMemory(Store& store, int rank, bool usableHere, const std::string& why,
                                 const std::vector<int>& localRanks, const Deadline& deadline);

}  // namespace gccl
