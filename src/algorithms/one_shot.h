// One-shot allreduce for small buffers between the ranks of one machine: every rank sends its
// whole input to every other rank at once, then reduces all n inputs itself. One round whatever
// the rank count, where recursive doubling takes log2(n) and the direct allreduce two; each
// rank sends (n - 1) B against B log2(n) and 2 (n - 1) B / n: a latency algorithm (DeepSpeed's
// shared-memory allreduce below its size threshold, the "one-shot" allreduce of TensorRT-LLM).
// With two ranks to a core, where every round costs a context switch, it saves switches.
//
//   rank r -> every p:  input
//   rank r:             output = ((x0 op x1) op x2) ... op x(n-1), xr its own input
//
// Every rank reduces in rank order, its own input in its place (StepKind::kReduce), so every
// rank computes the same bits: float sums do not depend on which rank ran the chain.
//
// Every rank talks to every other, so like the direct allreduce it runs on one machine (all
// ranks on one host) and up to kMaxDirectRanks ranks, and up to 1 MiB (registry.cc). The
// buffer goes in slices, like every reduction's.
#pragma once

#include "algorithms/schedule.h"

namespace gccl {

// Its peers are the direct allreduce's (directPeers): every other rank.
Schedule oneShotAllreduce(const ScheduleShape& shape);

}  // namespace gccl
