// All-to-all: rank r's input holds one block of `count` elements per rank, block p for rank p;
// its output gets block r of every rank's input, rank p's in block p. Two schedules:
//
//   pairwise (the direct algorithm): every rank sends block p straight to p, all at once. One
//     round, each byte moved once, but a message to every other rank: it runs where every pair
//     of ranks is connected (directSupports: one host, at most kMaxDirectRanks ranks).
//   Bruck: ceil(log2 n) rounds over the ranks r +- 2^k (the connections Bruck's allgather
//     opens), for any rank count and layout. In round k a rank forwards, to r + 2^k, every block
//     whose remaining distance has bit k set, packed into one message; after the last round
//     each block has travelled exactly its distance. log2(n) messages where pairwise sends
//     n - 1, but about half the data moves in each round: it suits small blocks.
//
// In place (input == output) both read the input from a copy in the work buffer.
//
// All-to-allv: blocks of any size, where each rank lays them out (ScheduleShape::blocks in the
// output, ::sendBlocks in the input). Only the pairwise exchange: a block that travels through
// other ranks, as in Bruck's, would need every pair's count on every rank it passes. Every pair
// exchanges at least one message, empty for a count of 0, so that the two ends' counts are
// compared (each message carries its pair's) even where one of them is 0.
#pragma once

#include "algorithms/schedule.h"

namespace gccl {

Schedule pairwiseAllToAll(const ScheduleShape& shape);
Schedule bruckAllToAll(const ScheduleShape& shape);
Schedule pairwiseAllToAllV(const ScheduleShape& shape);

}  // namespace gccl
