// Direct allreduce for the ranks of one machine (DeepSpeed's CPU shared-memory allreduce, as a
// schedule): every rank owns one piece of the buffer, reduces it straight from what every other
// rank sends of it, then sends the reduced piece to every other rank. Two rounds whatever the
// rank count, where a ring takes 2(n-1); each rank moves as many bytes as in a ring. Over the
// shared-memory transport a large send exposes the sender's buffer and the owner reads it
// with one copy (cross-memory attach), so each piece is reduced from the others' buffers.
//
//   round 1 (reduce-scatter)           round 2 (allgather)
//   rank r -> p: input[piece p]        rank r -> p: output[piece r], once reduced
//   rank r:  output[piece r] = input[piece r] + what the n-1 others sent, in a fixed order
//
// Over shared memory (Step::writeBack), the owner also writes the reduced piece straight into
// each peer's output (in place, where it read that peer's part), and round 2 carries only a
// notice that it is there, where round 2's copies would read every owner's piece once more.
//
// Every rank talks to every other, so it runs on one machine (all ranks on one host) and up to
// kMaxDirectRanks ranks; a job across hosts runs it within each host by the hierarchy.
#pragma once

#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

inline constexpr int kMaxDirectRanks = 16;

bool directSupports(const ScheduleShape& shape);
std::vector<int> directPeers(const ScheduleShape& shape);
Schedule directAllreduce(const ScheduleShape& shape);

}  // namespace gccl
