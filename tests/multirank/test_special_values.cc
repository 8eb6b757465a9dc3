// Every rank ends with the same bits, whatever the algorithm: NaNs with different payloads on
// different ranks, signalling NaNs, signed zeros and infinities go through every algorithm,
// rank count, floating type and op, and the outputs are compared byte for byte across ranks.
// (Recursive doubling has both partners reduce the same two partials, so the operand order
// must be canonical; the ring copies each segment from its one owner.)
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bootstrap/tcp_store.h"
#include "core/communicator.h"
#include "multirank/thread_ranks.h"

namespace gccl {
namespace {

// Bit patterns of one floating type, written out by hand (independent of the library).
struct FloatBits {
  DataType type;
  size_t bytes;
  uint64_t signBit;
  uint64_t infinity;  // +inf
  uint64_t quietBit;  // the top mantissa bit
  uint64_t one;       // 1.0
  uint64_t two;       // 2.0
  uint64_t exponent;  // all exponent bits

  uint64_t nan(uint64_t payload, bool negative) const {
    const uint64_t bits = infinity | quietBit | (payload & (quietBit - 1));
    return negative ? bits | signBit : bits;
  }
  uint64_t signallingNan(uint64_t payload) const {
    return infinity | ((payload % (quietBit - 1)) + 1);  // nonzero mantissa, quiet bit clear
  }
  bool isNan(uint64_t bits) const {
    return (bits & exponent) == exponent && (bits & ~(exponent | signBit)) != 0;
  }
};

const FloatBits kFloat32{DataType::kFloat32, 4,           0x80000000u, 0x7f800000u,
                         0x00400000u,        0x3f800000u, 0x40000000u, 0x7f800000u};
const FloatBits kFloat64{DataType::kFloat64,  8,
                         0x8000000000000000u, 0x7ff0000000000000u,
                         0x0008000000000000u, 0x3ff0000000000000u,
                         0x4000000000000000u, 0x7ff0000000000000u};
const FloatBits kFloat16{
    DataType::kFloat16, 2, 0x8000u, 0x7c00u, 0x0200u, 0x3c00u, 0x4000u, 0x7c00u};
const FloatBits kBfloat16{
    DataType::kBfloat16, 2, 0x8000u, 0x7f80u, 0x0040u, 0x3f80u, 0x4000u, 0x7f80u};

enum Pattern : size_t {
  kNanEverywhere,     // a different payload (and sign) on every rank
  kNanOnOneRank,      // the others hold 1.0
  kSignedZeros,       // +0 on even ranks, -0 on odd ones
  kNegativeZeros,     // -0 everywhere
  kInfinityAndOnes,   // +inf on rank 0, 2.0 elsewhere
  kOppositeInfinity,  // +inf on rank 0, -inf on the last rank, 1.0 elsewhere
  kSignallingNan,     // a signalling NaN on the last rank
  kOnes,
  kPatterns
};

uint64_t inputBits(const FloatBits& f, Pattern pattern, int rank, int size, size_t element) {
  const uint64_t payload = static_cast<uint64_t>(rank) * 37 + element % 11 + 1;
  switch (pattern) {
    case kNanEverywhere: return f.nan(payload, rank % 2 == 1);
    case kNanOnOneRank:
      return rank == static_cast<int>(element % size) ? f.nan(payload, false) : f.one;
    case kSignedZeros: return rank % 2 == 0 ? 0 : f.signBit;
    case kNegativeZeros: return f.signBit;
    case kInfinityAndOnes: return rank == 0 ? f.infinity : f.two;
    case kOppositeInfinity:
      if (rank == 0) return f.infinity;
      return rank == size - 1 ? f.infinity | f.signBit : f.one;
    case kSignallingNan: return rank == size - 1 ? f.signallingNan(payload) : f.one;
    default: return f.one;
  }
}

uint64_t load(const std::vector<unsigned char>& buffer, size_t index, size_t bytes) {
  uint64_t bits = 0;
  std::memcpy(&bits, buffer.data() + index * bytes, bytes);  // little-endian
  return bits;
}

void store(std::vector<unsigned char>& buffer, size_t index, size_t bytes, uint64_t bits) {
  std::memcpy(buffer.data() + index * bytes, &bits, bytes);
}

// What the reduced value must be where the rules pin it down (beyond "the same on all ranks").
void expectValue(const FloatBits& f, ReduceOp op, Pattern pattern, int size, uint64_t got,
                 const std::string& where) {
  const bool anyNegativeZero = size > 1;
  switch (pattern) {
    case kNanEverywhere:
    case kNanOnOneRank:
    case kSignallingNan:
      EXPECT_TRUE(f.isNan(got)) << where;
      // A signalling NaN comes out quiet once reduced (min/max quiet it; arithmetic does too);
      // one rank reduces nothing and copies it as it is.
      if (f.isNan(got) && size > 1) {
        EXPECT_NE(got & f.quietBit, 0u) << where;
      }
      break;
    case kSignedZeros:
      if (op == ReduceOp::kMin) {
        EXPECT_EQ(got, anyNegativeZero ? f.signBit : 0) << where;
      }
      if (op == ReduceOp::kMax) {
        EXPECT_EQ(got, 0u) << where;
      }
      break;
    case kNegativeZeros:
      if (op != ReduceOp::kProd || size % 2 == 1) {
        EXPECT_EQ(got, f.signBit) << where;
      }
      break;
    case kInfinityAndOnes:
      if (op == ReduceOp::kMin) {
        EXPECT_EQ(got, size == 1 ? f.infinity : f.two) << where;
      }
      if (op == ReduceOp::kMax || op == ReduceOp::kSum) {
        EXPECT_EQ(got, f.infinity) << where;
      }
      break;
    case kOppositeInfinity:
      if (op == ReduceOp::kSum && size > 1) {
        EXPECT_TRUE(f.isNan(got)) << where;
      }
      if (op == ReduceOp::kMax) {
        EXPECT_EQ(got, f.infinity) << where;
      }
      break;
    default:
      if (op == ReduceOp::kMin || op == ReduceOp::kMax || op == ReduceOp::kProd ||
          op == ReduceOp::kAvg) {
        EXPECT_EQ(got, f.one) << where;
      }
  }
}

void runCase(const std::string& algorithm, int size, const FloatBits& f, ReduceOp op,
             bool inPlace) {
  constexpr size_t kCount = kPatterns * 5 + 3;
  Config config;
  config.algorithm = algorithm;
  config.chunkBytes = 64;  // several slices per segment in the ring
  config.timeoutMs = 20000;
  std::vector<std::unique_ptr<Communicator>> ranks = testing_support::makeThreadRanks(size, config);
  std::vector<std::vector<unsigned char>> in(size), out(size);
  std::vector<std::shared_ptr<Request>> requests;
  for (int r = 0; r < size; ++r) {
    in[r].resize(kCount * f.bytes);
    out[r].assign(kCount * f.bytes, 0xAB);
    for (size_t i = 0; i < kCount; ++i) {
      store(in[r], i, f.bytes, inputBits(f, static_cast<Pattern>(i % kPatterns), r, size, i));
    }
    void* output = inPlace ? in[r].data() : out[r].data();
    requests.push_back(ranks[r]->allreduce(in[r].data(), output, kCount, f.type, op));
  }
  for (auto& request : requests) {
    request->wait();
    ASSERT_EQ(request->status(), Status::kSuccess) << request->message();
  }
  const auto& first = inPlace ? in[0] : out[0];
  for (int r = 1; r < size; ++r) {
    const auto& result = inPlace ? in[r] : out[r];
    for (size_t i = 0; i < kCount; ++i) {
      ASSERT_EQ(load(result, i, f.bytes), load(first, i, f.bytes))
          << algorithm << " " << dataTypeName(f.type) << " " << reduceOpName(op) << " at " << size
          << " ranks: rank " << r << " differs from rank 0 at element " << i << " (pattern "
          << i % kPatterns << ")";
    }
  }
  for (size_t i = 0; i < kCount; ++i) {
    expectValue(f, op, static_cast<Pattern>(i % kPatterns), size, load(first, i, f.bytes),
                algorithm + " " + std::string(dataTypeName(f.type)) + " " +
                    std::string(reduceOpName(op)) + " size " + std::to_string(size) + " element " +
                    std::to_string(i));
  }
}

TEST(SpecialValues, EveryRankEndsWithTheSameBits) {
  for (const char* algorithm :
       {"ring", "recursive_doubling", "tree", "halving_doubling", "direct", "one_shot"}) {
    for (int size : {1, 2, 3, 4, 5, 8}) {
      for (const FloatBits* f : {&kFloat32, &kFloat64, &kFloat16, &kBfloat16}) {
        for (ReduceOp op :
             {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMin, ReduceOp::kMax, ReduceOp::kAvg}) {
          for (bool inPlace : {true, false}) {
            SCOPED_TRACE(testing::Message()
                         << algorithm << " size " << size << " " << dataTypeName(f->type) << " "
                         << reduceOpName(op) << (inPlace ? " in place" : ""));
            runCase(algorithm, size, *f, op, inPlace);
            if (HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace gccl
