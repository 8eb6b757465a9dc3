// Alltoallv's pair counts as every rank reads them from the gathered rows: the matrix, or the
// same error on every rank for a pair whose two ends disagree.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "core/pair_counts.h"

namespace gccl {
namespace {

// Every rank's row of a job where rank s sends rank d (s + 1) x 10 + d elements, each rank
// expecting exactly that.
std::vector<uint64_t> agreeingRows(int size) {
  std::vector<uint64_t> rows;
  for (int q = 0; q < size; ++q) {
    std::vector<uint64_t> sends, expects;
    for (int p = 0; p < size; ++p) {
      sends.push_back(static_cast<uint64_t>((q + 1) * 10 + p));
      expects.push_back(static_cast<uint64_t>((p + 1) * 10 + q));
    }
    const std::vector<uint64_t> row = pairCountRow(sends, expects);
    rows.insert(rows.end(), row.begin(), row.end());
  }
  return rows;
}

TEST(PairCounts, AgreeingRowsGiveEveryPairsCount) {
  const std::vector<uint64_t> rows = agreeingRows(3);
  ASSERT_EQ(rows.size(), 18u);
  const std::vector<size_t> counts = agreedPairCounts(rows, 3);
  ASSERT_EQ(counts.size(), 9u);
  for (size_t s = 0; s < 3; ++s) {
    for (size_t d = 0; d < 3; ++d) EXPECT_EQ(counts[s * 3 + d], (s + 1) * 10 + d);
  }
}

// Rank 2 expects 7 elements from rank 0, which sends it 12: the error names that pair.
TEST(PairCounts, ADisagreeingPairIsAUsageErrorNamingIt) {
  std::vector<uint64_t> rows = agreeingRows(3);
  rows[2 * 6 + 3 + 0] = 7;
  try {
    agreedPairCounts(rows, 3);
    FAIL() << "the disagreeing pair was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.status(), Status::kInvalidUsage);
    EXPECT_EQ(std::string(error.what()), "rank 0 sends 12 elements to rank 2, which expects 7");
  }
}

TEST(PairCounts, RowsOfTheWrongLengthAreAnInternalError) {
  const std::vector<uint64_t> rows(7);
  try {
    agreedPairCounts(rows, 2);
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.status(), Status::kInternalError);
  }
}

}  // namespace
}  // namespace gccl
