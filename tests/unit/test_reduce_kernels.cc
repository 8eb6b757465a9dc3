// Every SIMD level (scalar included) against the test's own reference (reduce_reference.h), for
// every DataType x ReduceOp, over short and long lengths, misaligned buffers and both in-place
// aliasings. The rules of reduce.h on literal values are in test_reduce_rules.cc.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

#include "kernel_test_util.h"
#include "reduce/reduce.h"
#include "reduce_reference.h"
#include "reduce_test_data.h"

namespace gccl::testing {
namespace {

constexpr std::array kTypes = {DataType::kInt8,    DataType::kUint8,    DataType::kInt32,
                               DataType::kUint32,  DataType::kInt64,    DataType::kUint64,
                               DataType::kFloat16, DataType::kBfloat16, DataType::kFloat32,
                               DataType::kFloat64};
constexpr std::array kOps = {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMin, ReduceOp::kMax,
                             ReduceOp::kAvg};

enum class Alias { kNone, kDstIsA, kDstIsB };
constexpr size_t kGuard = 64;  // canary bytes around dst: masked stores must not touch them
constexpr unsigned char kCanary = 0xa5;

struct Case {
  DataType type;
  ReduceOp op;
  size_t count;
  size_t misalign;  // bytes added to every pointer
  Alias alias;
};

std::string describe(const Case& c) {
  return std::string(dataTypeName(c.type)) + " " + std::string(reduceOpName(c.op)) +
         " count=" + std::to_string(c.count) + " misalign=" + std::to_string(c.misalign) +
         " alias=" + std::to_string(static_cast<int>(c.alias));
}

// Buffers reused across cases: allocating (and page-faulting) them per case dominated the run.
struct Workspace {
  explicit Workspace(size_t bytes)
      : x(bytes + kMaxMisalign), y(bytes + kMaxMisalign), storage(2 * kGuard + x.size()) {}
  static constexpr size_t kMaxMisalign = 8;
  Buffer x, y, storage;
};

// Runs reduce() on the active level on copies of a and b placed at c.misalign, with canaries
// around dst, and compares with want.
void checkCase(const Case& c, const Buffer& a, const Buffer& b, const Buffer& want, Workspace& w) {
  const size_t bytes = c.count * dataTypeSize(c.type);
  const auto shift = static_cast<ptrdiff_t>(c.misalign);
  std::copy(a.begin(), a.end(), w.x.begin() + shift);
  std::copy(b.begin(), b.end(), w.y.begin() + shift);
  std::fill(w.storage.begin(), w.storage.end(), kCanary);
  unsigned char* dst = w.storage.data() + kGuard + c.misalign;
  const unsigned char* xp = w.x.data() + c.misalign;
  const unsigned char* yp = w.y.data() + c.misalign;
  switch (c.alias) {
    case Alias::kNone: reduce(c.type, c.op, dst, xp, yp, c.count); break;
    case Alias::kDstIsA:
      std::copy(a.begin(), a.end(), dst);
      reduce(c.type, c.op, dst, dst, yp, c.count);
      break;
    case Alias::kDstIsB:
      std::copy(b.begin(), b.end(), dst);
      reduce(c.type, c.op, dst, xp, dst, c.count);
      break;
  }
  ASSERT_TRUE(sameElements(c.type, c.op, dst, want.data(), c.count))
      << levelLabel(activeSimdLevel()) << " " << describe(c);
  for (size_t i = 0; i < w.storage.size(); ++i) {
    if (i == kGuard + c.misalign) i += bytes;  // skip dst itself
    if (i < w.storage.size()) {
      ASSERT_EQ(w.storage[i], kCanary) << "byte " << i << " " << describe(c);
    }
  }
}

std::array<size_t, 3> misalignments(DataType type) {
  return {0, dataTypeSize(type), 1};
}

class ReduceKernels : public EachSimdLevel {};

// Inputs are drawn once per (type, count) and shared by every op and layout.
void checkAllOps(DataType type, size_t count, std::mt19937_64& rng, bool allLayouts) {
  const Buffer a = randomBuffer(type, count, rng);
  const Buffer b = randomBuffer(type, count, rng);
  Workspace workspace(a.size());
  for (ReduceOp op : kOps) {
    Buffer want(a.size());
    reference::reduce(type, op, want.data(), a.data(), b.data(), count);
    for (size_t misalign : misalignments(type)) {
      for (Alias alias : {Alias::kNone, Alias::kDstIsA, Alias::kDstIsB}) {
        if (!allLayouts && misalign > 1 && alias != Alias::kNone) continue;
        const Case c{type, op, count, misalign, alias};
        ASSERT_NO_FATAL_FAILURE(checkCase(c, a, b, want, workspace));
      }
    }
  }
}

TEST_P(ReduceKernels, MatchReferenceOnShortLengths) {
  std::mt19937_64 rng(1);
  for (DataType type : kTypes) {
    for (size_t count = 0; count <= 129; ++count) {
      ASSERT_NO_FATAL_FAILURE(checkAllOps(type, count, rng, true));
    }
  }
}

TEST_P(ReduceKernels, MatchReferenceOnLongOddLengths) {
  std::mt19937_64 rng(2);
  for (DataType type : kTypes) {
    for (size_t count : {size_t{100003}, size_t{65537}}) {
      ASSERT_NO_FATAL_FAILURE(checkAllOps(type, count, rng, false));
    }
  }
}

// Every x in xs against every y in ys, for every op.
void checkEveryPair(DataType type, const Buffer& xs, const Buffer& ys) {
  const Pairs pairs = everyPair(type, xs, ys);
  for (ReduceOp op : kOps) {
    Buffer want(pairs.a.size()), got(pairs.a.size());
    reference::reduce(type, op, want.data(), pairs.a.data(), pairs.b.data(), pairs.count);
    reduce(type, op, got.data(), pairs.a.data(), pairs.b.data(), pairs.count);
    ASSERT_TRUE(sameElements(type, op, got.data(), want.data(), pairs.count))
        << levelLabel(activeSimdLevel()) << " " << dataTypeName(type) << " " << reduceOpName(op);
  }
}

Buffer allBytePatterns() {
  Buffer all(256);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<unsigned char>(i);
  return all;
}

Buffer all16BitPatterns() {
  Buffer all(2 * 65536);
  for (size_t i = 0; i < 65536; ++i) put(all, i, static_cast<uint16_t>(i));
  return all;
}

// 8-bit integers exhaustively: every pair of values.
TEST_P(ReduceKernels, EveryInt8PairMatchesReference) {
  ASSERT_NO_FATAL_FAILURE(checkEveryPair(DataType::kInt8, allBytePatterns(), allBytePatterns()));
  ASSERT_NO_FATAL_FAILURE(checkEveryPair(DataType::kUint8, allBytePatterns(), allBytePatterns()));
}

// Every 16-bit pattern (subnormals, NaN payloads, both zeros) against each special value.
TEST_P(ReduceKernels, EveryHalfPatternAgainstSpecialsMatchesReference) {
  for (DataType type : {DataType::kFloat16, DataType::kBfloat16}) {
    ASSERT_NO_FATAL_FAILURE(checkEveryPair(type, all16BitPatterns(), specialValues(type)));
    ASSERT_NO_FATAL_FAILURE(checkEveryPair(type, specialValues(type), all16BitPatterns()));
  }
}

INSTANTIATE_TEST_SUITE_P(Simd, ReduceKernels, ::testing::ValuesIn(kAllSimdLevels), levelName);

}  // namespace
}  // namespace gccl::testing
