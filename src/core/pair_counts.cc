#include "core/pair_counts.h"

#include <numeric>

#include "algorithms/all_to_all.h"
#include "algorithms/schedule_index.h"
#include "base/error.h"

namespace gccl {

std::vector<uint64_t> pairCountRow(std::span<const uint64_t> sendCounts,
                                   std::span<const uint64_t> recvCounts) {
  std::vector<uint64_t> row(sendCounts.begin(), sendCounts.end());
  row.insert(row.end(), recvCounts.begin(), recvCounts.end());
  return row;
}

std::vector<size_t> agreedPairCounts(std::span<const uint64_t> rows, int size) {
  const size_t n = static_cast<size_t>(size);
  if (rows.size() != 2 * n * n) {
    fail(Status::kInternalError, rows.size(), " gathered counts for ", size, " ranks");
  }
  const auto sends = [&](size_t from, size_t to) { return rows[from * 2 * n + to]; };
  const auto expects = [&](size_t at, size_t from) { return rows[at * 2 * n + n + from]; };
  std::vector<size_t> counts(n * n);
  for (size_t s = 0; s < n; ++s) {
    for (size_t d = 0; d < n; ++d) {
      const uint64_t count = sends(s, d);
      if (count != expects(d, s)) {
        fail(Status::kInvalidUsage, "rank ", s, " sends ", count, " elements to rank ", d,
             ", which expects ", expects(d, s));
      }
      // Each count is one its sender's and its receiver's buffers hold: it fits a size_t.
      counts[s * n + d] = static_cast<size_t>(count);
    }
  }
  return counts;
}

namespace {

// A tiny slice on huge blocks would build a schedule of millions of steps. Every rank receives
// what others send, round by round: bounding the most any rank sends by half the slices a
// collective may cut keeps every schedule within kMaxScheduleSteps, for maxSlicesPerCollective
// leaves room for log2(n) steps per slice. Every rank judges every rank's, alike.
std::optional<Error> tooManySlices(const std::vector<size_t>& pairCounts, int size,
                                   size_t sliceElements, size_t elementSize) {
  const size_t slices = maxSlicesPerCollective(size) / 2;
  const size_t most = slices * sliceElements;
  const BusiestRelay busiest = bruckAllToAllVBusiest(pairCounts, size);
  if (busiest.elements <= most) return std::nullopt;
  const size_t leastSlice = busiest.elements / slices + 1;
  return Error(Status::kInvalidArgument,
               strCat("rank ", busiest.rank, " would send ", busiest.elements,
                      " elements in Bruck's rounds, more than the ", most, " that ", slices,
                      " slices allow at ", size, " ranks: raise GCCL_CHUNK_BYTES to at least ",
                      leastSlice > SIZE_MAX / elementSize ? SIZE_MAX : leastSlice * elementSize));
}

}  // namespace

std::function<std::optional<Error>(Operation&)> relayedAllToAllVPlan(
    std::shared_ptr<const PairCountExchange> exchange, const Algorithm& algorithm,
    ScheduleShape shape, BufferLayout layout) {
  return [exchange = std::move(exchange), &algorithm, shape = std::move(shape),
          layout](Operation& operation) mutable -> std::optional<Error> {
    try {
      shape.pairCounts =
          std::make_shared<const std::vector<size_t>>(agreedPairCounts(exchange->rows, shape.size));
    } catch (const Error& disagreement) {
      if (disagreement.status() != Status::kInvalidUsage) throw;
      return disagreement;
    }
    if (auto refused = tooManySlices(*shape.pairCounts, shape.size, shape.sliceElements,
                                     dataTypeSize(operation.type))) {
      return refused;
    }
    // What every message carries as its count: the same on every rank.
    operation.count =
        std::accumulate(shape.pairCounts->begin(), shape.pairCounts->end(), size_t{0});
    Schedule built = buildSchedule(algorithm, shape);
    // As Communicator::schedule checks every schedule: the engine trusts it from here.
    checkSchedule(built, shape.rank, shape.size, layout.inputCount, layout.outputCount);
    operation.index = std::make_shared<const ScheduleIndex>(indexSchedule(built));
    operation.schedule = std::make_shared<const Schedule>(std::move(built));
    return std::nullopt;
  };
}

}  // namespace gccl
