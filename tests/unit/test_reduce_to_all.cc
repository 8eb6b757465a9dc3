// reduceChainToAll: the result of reduceChain, bit for bit, in every output, on every SIMD level,
// for every type and op, whether the stores stream (outputs aligned alike) or not (outputs
// aligned apart, or ordinary stores asked for), across the head before the first line boundary,
// the 16 KiB blocks and the tail; in place as the write-back runs it (the first output is the
// first local operand, another output is the last received one); nothing written outside the
// outputs.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "reduce/reduce.h"
#include "reduce_test_data.h"

namespace gccl::testing {
namespace {

constexpr size_t kGuard = 128;  // bytes either side of an output that stay as they were
constexpr unsigned char kGuardByte = 0xa5;

// Room for `bytes` at `offset` past a 64-byte boundary, guarded on both sides.
class Arena {
 public:
  Arena(size_t bytes, size_t offset) : storage_(bytes + 2 * kGuard + 128, kGuardByte) {
    const auto base = reinterpret_cast<uintptr_t>(storage_.data()) + kGuard;
    const uintptr_t aligned = (base + 63) / 64 * 64;
    at_ = storage_.data() + (aligned - reinterpret_cast<uintptr_t>(storage_.data())) + offset;
    bytes_ = bytes;
  }
  unsigned char* data() { return at_; }
  bool guardsIntact() const {
    for (const unsigned char* p = storage_.data(); p < at_; ++p) {
      if (*p != kGuardByte) return false;
    }
    for (const unsigned char* p = at_ + bytes_; p < storage_.data() + storage_.size(); ++p) {
      if (*p != kGuardByte) return false;
    }
    return true;
  }

 private:
  std::vector<unsigned char> storage_;
  unsigned char* at_ = nullptr;
  size_t bytes_ = 0;
};

struct Layout {
  const char* name;
  size_t offsets[3];  // of each output past a 64-byte boundary
};

// Alike at a line boundary and alike past one (a head first): the stores can stream. Apart:
// they cannot, and the result is written the ordinary way.
constexpr Layout kLayouts[] = {
    {"aligned", {0, 0, 0}}, {"alike past a boundary", {8, 8, 8}}, {"apart", {0, 8, 16}}};

// A chain's operands, and reduceChain's result over them: what every output must hold.
struct ChainCase {
  DataType type;
  ReduceOp op;
  int divisor;
  size_t count;
  Buffer first;
  std::vector<Buffer> received;
  std::vector<bool> receivedFirst;
  Buffer want;

  size_t bytes() const { return count * dataTypeSize(type); }
  std::string name() const {
    return std::string(dataTypeName(type)) + " " + std::string(reduceOpName(op)) + " / " +
           std::to_string(divisor) + ", " + std::to_string(received.size()) + " link(s), count " +
           std::to_string(count) +
           (receivedFirst.back() ? ", last received first" : ", last local first");
  }
};

ChainCase makeCase(DataType type, ReduceOp op, int divisor, size_t links, size_t count,
                   bool lastReceivedFirst, std::mt19937_64& rng) {
  ChainCase c{type, op, divisor, count, randomBuffer(type, count, rng), {}, {}, {}};
  for (size_t k = 0; k < links; ++k) {
    c.received.push_back(randomBuffer(type, count, rng));
    c.receivedFirst.push_back((links - 1 - k) % 2 == 0 ? lastReceivedFirst : !lastReceivedFirst);
  }
  c.want.resize(c.bytes());
  std::vector<ChainOperands> chain;
  for (size_t k = 0; k < links; ++k) {
    chain.push_back(
        {k == 0 ? c.first.data() : c.want.data(), c.received[k].data(), c.receivedFirst[k]});
  }
  reduceChain(type, op, c.want.data(), chain, count, divisor, nullptr);
  return c;
}

// Whether reduceChainToAll has to stream some of the case: asked to, on a level with streaming
// stores, outputs aligned alike and none an operand, anything but an integer average, and a
// whole line past the head.
bool mustStream(const ChainCase& c, const Layout& layout, Stores stores, bool inPlace,
                SimdLevel level) {
  const size_t offset = layout.offsets[0];
  const bool alike = layout.offsets[1] == offset && layout.offsets[2] == offset;
  const size_t head = (64 - offset) % 64;
  const bool integerAverage = !isFloatingPoint(c.type) && c.divisor > 1;
  return stores == Stores::kStreaming && level != SimdLevel::kScalar && alike && !inPlace &&
         !integerAverage && c.bytes() >= head + 64;
}

// Runs the case into three guarded outputs; in place, output 0 is the first local operand and
// output 2 the last received one, as the write-back runs it.
void expectEveryOutputHoldsIt(const ChainCase& c, const Layout& layout, Stores stores, bool inPlace,
                              SimdLevel level) {
  std::vector<Arena> arenas;
  for (size_t o = 0; o < 3; ++o) arenas.emplace_back(c.bytes(), layout.offsets[o]);
  std::vector<void*> outputs;
  for (Arena& arena : arenas) outputs.push_back(arena.data());
  const size_t links = c.received.size();
  std::vector<ChainOperands> chain;
  for (size_t k = 0; k < links; ++k) {
    const void* local = k == 0 && !inPlace ? c.first.data() : outputs[0];
    const void* theirs = inPlace && k + 1 == links ? outputs[2] : c.received[k].data();
    chain.push_back({local, theirs, c.receivedFirst[k]});
  }
  if (inPlace && c.count > 0) {
    std::memcpy(outputs[0], c.first.data(), c.bytes());
    std::memcpy(outputs[2], c.received[links - 1].data(), c.bytes());
  }
  const size_t streamed =
      reduceChainToAll(c.type, c.op, outputs, chain, c.count, c.divisor, nullptr, stores);
  const std::string where = levelLabel(level) + " " + c.name() + ", " + layout.name +
                            (stores == Stores::kStreaming ? ", streaming" : ", cached") +
                            (inPlace ? ", in place" : "");
  for (size_t o = 0; o < 3; ++o) {
    if (c.count > 0) {  // an empty `want` has a null data(), which memcmp may not get
      ASSERT_EQ(std::memcmp(arenas[o].data(), c.want.data(), c.bytes()), 0)
          << where << ": output " << o << " "
          << sameElements(c.type, c.op, arenas[o].data(), c.want.data(), c.count).message();
    }
    ASSERT_TRUE(arenas[o].guardsIntact()) << where << ": output " << o;
  }
  if (mustStream(c, layout, stores, inPlace, level)) {
    EXPECT_GT(streamed, 0u) << where << ": nothing streamed";
    EXPECT_LE(streamed, c.count) << where;
  } else {
    EXPECT_EQ(streamed, 0u) << where << ": streamed where it must not";
  }
}

class ReduceToAll : public EachSimdLevel {};

TEST_P(ReduceToAll, EveryOutputHoldsTheChainsResultBitForBit) {
  std::mt19937_64 rng(11);
  const DataType types[] = {DataType::kInt8,    DataType::kUint8,    DataType::kInt32,
                            DataType::kUint32,  DataType::kInt64,    DataType::kUint64,
                            DataType::kFloat16, DataType::kBfloat16, DataType::kFloat32,
                            DataType::kFloat64};
  const ReduceOp ops[] = {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMin, ReduceOp::kMax,
                          ReduceOp::kAvg};
  for (DataType type : types) {
    for (ReduceOp op : ops) {
      // An average by a power of two multiplies by its reciprocal, by 3 it divides.
      const std::vector<int> divisors =
          op == ReduceOp::kAvg ? std::vector<int>{2, 3} : std::vector<int>{1};
      for (int divisor : divisors) {
        for (size_t links : {1, 3}) {
          for (size_t count : {0, 1, 67, 20011}) {
            for (bool lastReceivedFirst : {false, true}) {
              const ChainCase c = makeCase(type, op, divisor, links, count, lastReceivedFirst, rng);
              for (const Layout& layout : kLayouts) {
                for (Stores stores : {Stores::kStreaming, Stores::kCached}) {
                  for (bool inPlace : {false, true}) {
                    expectEveryOutputHoldsIt(c, layout, stores, inPlace, level());
                    if (HasFatalFailure()) return;
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Simd, ReduceToAll, ::testing::ValuesIn(kAllSimdLevels), levelName);

}  // namespace
}  // namespace gccl::testing
