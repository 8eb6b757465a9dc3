// Alltoallv through relays (Bruck's) needs every pair's count on every rank. Each rank
// contributes its row, the counts it sends to every rank and then those it expects from
// every rank, to an allgather; this turns the gathered rows into the pair counts, or into the
// same error on every rank, before the alltoallv takes a sequence number.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace gccl {

// Rank `rank`'s row: sendCounts[p] then recvCounts[p] for every rank p.
std::vector<uint64_t> pairCountRow(std::span<const uint64_t> sendCounts,
                                   std::span<const uint64_t> recvCounts);

// `rows` holds every rank's row, rank q's at [q x 2 x size]. Returns the elements rank s sends
// rank d at [s x size + d]. Throws Error(kInvalidUsage) naming the first pair, in rank order,
// whose sender sends other than its receiver expects: every rank reads the same rows and
// throws alike.
std::vector<size_t> agreedPairCounts(std::span<const uint64_t> rows, int rank, int size);

}  // namespace gccl
