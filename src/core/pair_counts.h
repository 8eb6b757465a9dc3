// Alltoallv through relays (Bruck's) needs every pair's count on every rank. Each rank
// contributes its row, the counts it sends to every rank and then those it expects from
// every rank, to an allgather queued just before the alltoallv; when the engine reaches the
// alltoallv, its plan turns the gathered rows into the pair counts and the schedule, or into
// the same error on every rank.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "algorithms/registry.h"
#include "core/collective_call.h"
#include "core/operation.h"

namespace gccl {

// One alltoallv's count exchange. The allgather writes `rows` from `row`; the alltoallv's plan
// reads them. Both operations hold it (Operation::keepAlive, the plan's capture).
struct PairCountExchange {
  std::vector<uint64_t> row;
  std::vector<uint64_t> rows;
};

// Rank `rank`'s row: sendCounts[p] then recvCounts[p] for every rank p.
std::vector<uint64_t> pairCountRow(std::span<const uint64_t> sendCounts,
                                   std::span<const uint64_t> recvCounts);

// `rows` holds every rank's row, rank q's at [q x 2 x size]. Returns the elements rank s sends
// rank d at [s x size + d]. Throws Error(kInvalidUsage) naming the first pair, in rank order,
// whose sender sends other than its receiver expects: every rank reads the same rows and
// throws alike (the engine names the operation and the rank).
std::vector<size_t> agreedPairCounts(std::span<const uint64_t> rows, int size);

// The alltoallv's Operation::plan once `exchange` has run: the agreed pair counts and
// `algorithm`'s schedule for `shape` with them, checked against `layout`; or the refusal every
// rank returns alike, before any message: a pair that disagrees (kInvalidUsage), or more
// elements to relay than slices of shape.sliceElements allow (kInvalidArgument).
std::function<std::optional<Error>(Operation&)> relayedAllToAllVPlan(
    std::shared_ptr<const PairCountExchange> exchange, const Algorithm& algorithm,
    ScheduleShape shape, BufferLayout layout);

}  // namespace gccl
