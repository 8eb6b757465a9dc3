// Binomial trees rooted at any rank: broadcast and reduce in ceil(log2 n) hops instead of the
// ring chain's n - 1, pipelined in slices (slice j moves down or up the tree while j + 1
// follows), for any rank count.
#pragma once

#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

// Every rank that the tree of some root makes this rank's parent or child: r +- 2^k.
std::vector<int> binomialPeers(int rank, int size);

// The root's input reaches every rank's output down the tree.
Schedule binomialBroadcast(const ScheduleShape& shape);
// Every input reduced up the tree into the root's output; other ranks reduce their subtree's
// partial in the work buffer.
Schedule binomialReduce(const ScheduleShape& shape);

}  // namespace gccl
