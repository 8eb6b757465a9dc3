// Which ranks share a machine, and how many CPUs they have between them. Busy-polling cuts
// small-message latency only while every rank has a core to itself; when a machine's ranks
// outnumber its cores, a spinning rank takes the core its peer needs to answer. There,
// sleeping at once beat spinning (4 ranks on 2 cores, 4-byte allreduce 260 us spinning, 125 us
// not), and yielding the core before sleeping beats both (8 bytes: 15 us, docs/benchmarks.md).
#pragma once

#include <string>
#include <vector>

#include "base/deadline.h"
#include "base/store.h"

namespace gccl {

struct MachineShare {
  int ranks = 1;                // ranks on this rank's machine, itself included
  int cpus = 1;                 // CPUs those ranks may run on: the union of their affinity masks
  std::vector<int> localRanks;  // those ranks, ascending (transports are chosen from this)
  // The host index of every rank (hosts numbered by their lowest rank), for hierarchical
  // algorithms; empty when every rank is on one host. A host is a machine unless GCCL_HOST_ID
  // says otherwise.
  std::vector<int> hostOf;
};

// Names this machine's kernel and network namespace: processes and containers on one host
// agree, other hosts, virtual machines and other network namespaces (which cannot reach this
// one's abstract Unix sockets) differ.
std::string machineId();

// This process's CPU affinity mask, as hexadecimal digits (CPU 0 is the lowest bit of the last).
std::string cpuMaskHex();

// Every rank calls this once at init. Rank 0 gathers each rank's machine id, host id (`hostId`,
// or the machine's when empty) and CPU mask and answers each rank, so the store serves O(size)
// requests in all (the host map, O(size) for every rank, only when there are several hosts).
// Ranks pinned to one core each still add up to as many cores. `settings` (one token, no
// spaces) must be the same on every rank: rank 0 refuses the job on every rank, naming the odd
// one and both values, when a rank's differ from its own, as it does for nranks.
MachineShare shareOfMachine(Store& store, int rank, int size, const Deadline& deadline,
                            const std::string& hostId = {}, const std::string& settings = {});

// GCCL_SPIN_US=auto: the default spin, or none when the machine is oversubscribed.
int autoSpinUs(const MachineShare& share);

// GCCL_YIELD_US=auto: none, or kOversubscribedYieldUs when the machine is oversubscribed: a
// busy-poll there steals the core a peer needs, but a yield hands it over.
int autoYieldUs(const MachineShare& share);

}  // namespace gccl
