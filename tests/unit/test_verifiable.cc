// The checking data of the tests and the perf tools: a result at a wrong offset or from a
// wrong rank must differ from the expected one in most elements, at every rank count and op
// (a regular pattern makes some shifts, and min/max at many ranks, invisible).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "verifiable.h"

namespace gccl::perf {
namespace {

std::vector<double> inputOf(int rank, int nranks, gcclRedOp_t op, size_t count) {
  std::vector<double> input(count);
  fillInput(input.data(), count, gcclFloat64, op, rank, nranks);
  return input;
}

// The reduction computed here, element by element (float64 holds every value exactly).
std::vector<double> reduced(int nranks, gcclRedOp_t op, size_t count) {
  std::vector<double> result = inputOf(0, nranks, op, count);
  for (int r = 1; r < nranks; ++r) {
    const std::vector<double> input = inputOf(r, nranks, op, count);
    for (size_t i = 0; i < count; ++i) {
      if (op == gcclSum) result[i] += input[i];
      if (op == gcclProd) result[i] *= input[i];
      if (op == gcclMin) result[i] = std::min(result[i], input[i]);
      if (op == gcclMax) result[i] = std::max(result[i], input[i]);
    }
  }
  return result;
}

class Verifiable : public ::testing::TestWithParam<int> {};

TEST_P(Verifiable, AResultShiftedByAnyAmountIsMostlyWrong) {
  const int nranks = GetParam();
  for (gcclRedOp_t op : {gcclSum, gcclProd, gcclMin, gcclMax}) {
    for (size_t count : {size_t{240}, size_t{4096}}) {
      const std::vector<double> result = reduced(nranks, op, count);
      ASSERT_EQ(countWrong(result.data(), count, gcclFloat64, op, nranks), 0u);
      for (size_t shift : {1, 2, 3, 8, 16, 32, 64, 128}) {
        std::vector<double> shifted = result;
        std::rotate(shifted.begin(), shifted.begin() + static_cast<ptrdiff_t>(shift),
                    shifted.end());
        // Products are ones and twos mostly, so equal by chance more often.
        const size_t least = op == gcclProd ? count / 4 : count / 2;
        EXPECT_GE(countWrong(shifted.data(), count, gcclFloat64, op, nranks), least)
            << "op " << op << ", count " << count << ", shifted by " << shift;
      }
    }
  }
}

TEST_P(Verifiable, EveryRanksInputDiffersFromEveryOthers) {
  const int nranks = GetParam();
  const size_t count = 1024;
  for (gcclRedOp_t op : {gcclSum, gcclMin, gcclMax}) {
    for (int a = 0; a < nranks; ++a) {
      const std::vector<double> input = inputOf(a, nranks, op, count);
      for (int b = 0; b < nranks; ++b) {
        const size_t wrong = countWrongInput(input.data(), count, gcclFloat64, op, b, nranks);
        if (a == b) {
          EXPECT_EQ(wrong, 0u);
        } else {
          EXPECT_GE(wrong, count / 2) << "op " << op << ": rank " << a << "'s input as " << b;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, Verifiable, ::testing::Values(2, 3, 8, 16, 17, 64));

}  // namespace
}  // namespace gccl::perf
