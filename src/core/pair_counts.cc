#include "core/pair_counts.h"

#include "base/error.h"

namespace gccl {

std::vector<uint64_t> pairCountRow(std::span<const uint64_t> sendCounts,
                                   std::span<const uint64_t> recvCounts) {
  std::vector<uint64_t> row(sendCounts.begin(), sendCounts.end());
  row.insert(row.end(), recvCounts.begin(), recvCounts.end());
  return row;
}

std::vector<size_t> agreedPairCounts(std::span<const uint64_t> rows, int rank, int size) {
  const size_t n = static_cast<size_t>(size);
  if (rows.size() != 2 * n * n) {
    fail(Status::kInternalError, "alltoallv on rank ", rank, ": ", rows.size(),
         " gathered counts for ", size, " ranks");
  }
  const auto sends = [&](size_t from, size_t to) { return rows[from * 2 * n + to]; };
  const auto expects = [&](size_t at, size_t from) { return rows[at * 2 * n + n + from]; };
  std::vector<size_t> counts(n * n);
  for (size_t s = 0; s < n; ++s) {
    for (size_t d = 0; d < n; ++d) {
      const uint64_t count = sends(s, d);
      if (count != expects(d, s)) {
        fail(Status::kInvalidUsage, "alltoallv on rank ", rank, ": rank ", s, " sends ", count,
             " elements to rank ", d, ", which expects ", expects(d, s));
      }
      // Each count is one its sender's and its receiver's buffers hold: it fits a size_t.
      counts[s * n + d] = static_cast<size_t>(count);
    }
  }
  return counts;
}

}  // namespace gccl
