// An average asked to look for inf and NaN while it divides (CollectiveCall::findNonFinite):
// whichever rank holds the value and wherever it lies, the ranks' flags ORed together find
// it, for every allreduce algorithm and rank count, for the reduce-scatters (whose folded-out
// ranks divide in a step of their own), and for a sum of finite values that overflows; a
// finite result flags nothing, nor does a call that did not ask.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/collective_call.h"
#include "core/communicator.h"
#include "fp16/half.h"
#include "multirank/thread_ranks.h"

namespace gccl {
namespace {

constexpr size_t kCount = 1000;  // per rank's block of a reduce-scatter; the allreduce's count

// An element of `type` holding `value`.
std::vector<unsigned char> encoded(DataType type, float value) {
  std::vector<unsigned char> bytes(dataTypeSize(type));
  if (type == DataType::kFloat32) std::memcpy(bytes.data(), &value, 4);
  if (type == DataType::kFloat64) {
    const double wide = value;
    std::memcpy(bytes.data(), &wide, 8);
  }
  if (type == DataType::kFloat16) {
    const uint16_t half = floatToHalf(value);
    std::memcpy(bytes.data(), &half, 2);
  }
  return bytes;
}

struct Case {
  CollectiveKind kind = CollectiveKind::kAllreduce;
  std::string algorithm;
  int size = 2;
  DataType type = DataType::kFloat32;
  bool ask = true;
};

// Every rank's input is 1.0 but `value` at element `at` of rank `holder` (every rank when
// holder < 0). Returns each rank's flag.
std::vector<int> flagsOf(const Case& c, size_t at, int holder, float value) {
  Config config;
  config.algorithm = c.algorithm;
  config.chunkBytes = 256;  // several slices per block
  config.timeoutMs = 20000;
  auto ranks = testing_support::makeThreadRanks(c.size, config);
  const size_t inputCount = c.kind == CollectiveKind::kReduceScatter ? kCount * c.size : kCount;
  const size_t element = dataTypeSize(c.type);
  std::vector<std::vector<unsigned char>> in(c.size), out(c.size);
  std::vector<std::shared_ptr<Request>> requests;
  for (int r = 0; r < c.size; ++r) {
    const std::vector<unsigned char> one = encoded(c.type, 1.0f);
    for (size_t i = 0; i < inputCount; ++i) in[r].insert(in[r].end(), one.begin(), one.end());
    if (holder < 0 || holder == r) {
      const std::vector<unsigned char> odd = encoded(c.type, value);
      std::memcpy(in[r].data() + at * element, odd.data(), element);
    }
    out[r].resize(kCount * element);
    CollectiveCall call;
    call.kind = c.kind;
    call.input = in[r].data();
    call.output = out[r].data();
    call.count = kCount;
    call.type = c.type;
    call.op = ReduceOp::kAvg;
    call.findNonFinite = c.ask;
    requests.push_back(ranks[r]->start(call, false));
  }
  std::vector<int> flags;
  for (auto& request : requests) {
    request->wait();
    EXPECT_EQ(request->status(), Status::kSuccess) << request->message();
    flags.push_back(request->nonFinite() ? 1 : 0);
  }
  return flags;
}

bool anyOf(const std::vector<int>& flags) {
  for (int flag : flags) {
    if (flag != 0) return true;
  }
  return false;
}

std::string describe(const Case& c) {
  return std::string(collectiveName(c.kind)) + " " + c.algorithm + " at " + std::to_string(c.size) +
         " ranks, " + std::string(dataTypeName(c.type));
}

// At both ends and in the middle of what every rank divides, held by every rank in turn.
void expectFoundEverywhere(const Case& c) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const size_t total = c.kind == CollectiveKind::kReduceScatter ? kCount * c.size : kCount;
  std::vector<size_t> positions = {0, total - 1};
  for (int r = 0; r < c.size; ++r) {  // the edges of the ranks' equal shares
    positions.push_back(total * r / c.size);
    if (r > 0) positions.push_back(total * r / c.size - 1);
  }
  for (size_t p = 0; p < positions.size(); ++p) {
    const int holder = static_cast<int>(p % c.size);
    EXPECT_TRUE(anyOf(flagsOf(c, positions[p], holder, p % 2 == 0 ? nan : -inf)))
        << describe(c) << ": element " << positions[p] << " of rank " << holder;
  }
  EXPECT_EQ(flagsOf(c, 0, -1, 1.0f), std::vector<int>(c.size, 0)) << describe(c) << ": finite";
}

TEST(FindNonFinite, EveryAllreduceAlgorithmFindsItWhereverItIs) {
  for (const char* algorithm :
       {"ring", "recursive_doubling", "tree", "halving_doubling", "direct", "one_shot"}) {
    for (int size : {2, 3, 4, 5, 8}) {
      Case c;
      c.algorithm = algorithm;
      c.size = size;
      expectFoundEverywhere(c);
      if (HasFailure()) return;
    }
  }
}

TEST(FindNonFinite, ReduceScattersFindItToo) {
  for (const char* algorithm : {"ring", "halving_doubling"}) {
    for (int size : {2, 3, 4, 5}) {
      Case c;
      c.kind = CollectiveKind::kReduceScatter;
      c.algorithm = algorithm;
      c.size = size;
      expectFoundEverywhere(c);
      if (HasFailure()) return;
    }
  }
}

TEST(FindNonFinite, EveryFloatTypeAndAnOverflowingSum) {
  for (DataType type : {DataType::kFloat64, DataType::kFloat16, DataType::kFloat32}) {
    Case c;
    c.algorithm = "ring";
    c.size = 3;
    c.type = type;
    expectFoundEverywhere(c);
  }
  Case c;
  c.algorithm = "ring";
  c.size = 3;
  // Finite on every rank, inf once summed: what the result holds is what counts.
  EXPECT_TRUE(anyOf(flagsOf(c, 500, -1, 3e38f)));
  c.type = DataType::kFloat16;
  EXPECT_TRUE(anyOf(flagsOf(c, 500, -1, 60000.0f)));  // fp16's largest is 65504
}

TEST(FindNonFinite, OnlyWhenAsked) {
  Case c;
  c.algorithm = "ring";
  c.size = 3;
  c.ask = false;
  EXPECT_EQ(flagsOf(c, 7, 1, std::numeric_limits<float>::quiet_NaN()), std::vector<int>(3, 0));
}

}  // namespace
}  // namespace gccl
