// All-to-all: rank r's input holds one block of `count` elements per rank, block p for rank p;
// its output gets block r of every rank's input, rank p's in block p. Two schedules:
//
//   pairwise (the direct algorithm): every rank sends block p straight to p, all at once. One
//     round, each byte moved once, but a message to every other rank: it needs a connection
//     between every pair of ranks, which init opens up to kMaxPairwiseAllToAllRanks ranks, on
//     one host or across hosts (the exchange MoE layers run within an expert-parallel group).
//   Bruck: ceil(log2 n) rounds over the ranks r +- 2^k (the connections Bruck's allgather
//     opens), for any rank count and layout. In round k a rank forwards, to r + 2^k, every block
//     whose remaining distance has bit k set, packed into one message; after the last round
//     each block has travelled exactly its distance. log2(n) messages where pairwise sends
//     n - 1, but about half the data moves in each round: it suits small blocks.
//
// In place (input == output) both read the input from a copy in the work buffer.
//
// All-to-allv: blocks of any size, where each rank lays them out (ScheduleShape::blocks in the
// output, ::sendBlocks in the input).
//
//   pairwise: every pair exchanges at least one message, empty for a count of 0, so that the
//     two ends' counts are compared (each message carries its pair's) even where one is 0.
//   Bruck's: a block travels through other ranks, each of which must know its length, so every
//     rank needs every pair's count (ScheduleShape::pairCounts, which the communicator gathers
//     first). It runs over Bruck's connections, for any rank count and layout.
#pragma once

#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

// Bruck's alltoallv at most: every rank then holds 3 x n^2 counts (24 MiB at 1024 ranks: the
// gathered rows and the pair counts).
inline constexpr int kMaxBruckAllToAllVRanks = 1024;

// The pairwise exchange at most: every rank then holds n - 1 connections, opened at init
// whether or not the job calls an all-to-all (the other algorithms need O(log n) of them).
inline constexpr int kMaxPairwiseAllToAllRanks = 16;

// Where the pairwise exchange runs, and the peers it needs (every other rank).
bool pairwiseAllToAllSupports(const ScheduleShape& shape);
std::vector<int> pairwiseAllToAllPeers(const ScheduleShape& shape);

Schedule pairwiseAllToAll(const ScheduleShape& shape);
Schedule bruckAllToAll(const ScheduleShape& shape);
Schedule pairwiseAllToAllV(const ScheduleShape& shape);
Schedule bruckAllToAllV(const ScheduleShape& shape);

// The rank that sends the most elements in all of Bruck's alltoallv rounds for `pairCounts`
// (as ScheduleShape::pairCounts), and how many (saturating): what bounds the length of every
// rank's schedule, for every rank receives what others send.
struct BusiestRelay {
  int rank = 0;
  size_t elements = 0;
};
BusiestRelay bruckAllToAllVBusiest(const std::vector<size_t>& pairCounts, int size);

}  // namespace gccl
