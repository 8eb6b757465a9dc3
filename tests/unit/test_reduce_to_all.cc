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
    const size_t size = dataTypeSize(type);
    for (ReduceOp op : ops) {
      const int divisor = op == ReduceOp::kAvg ? 3 : 1;
      for (size_t links : {1, 3}) {
        for (size_t count : {0, 1, 67, 20011}) {
          const size_t bytes = count * size;
          const Buffer first = randomBuffer(type, count, rng);
          std::vector<Buffer> received;
          for (size_t k = 0; k < links; ++k) received.push_back(randomBuffer(type, count, rng));
          const bool receivedFirst[] = {true, false, true};
          Buffer want(bytes);
          std::vector<ChainOperands> wantChain;
          for (size_t k = 0; k < links; ++k) {
            wantChain.push_back(
                {k == 0 ? first.data() : want.data(), received[k].data(), receivedFirst[k]});
          }
          reduceChain(type, op, want.data(), wantChain, count, divisor, nullptr);

          for (const Layout& layout : kLayouts) {
            for (Stores stores : {Stores::kStreaming, Stores::kCached}) {
              for (bool inPlace : {false, true}) {
                std::vector<Arena> arenas;
                for (size_t o = 0; o < 3; ++o) arenas.emplace_back(bytes, layout.offsets[o]);
                std::vector<void*> outputs;
                for (Arena& arena : arenas) outputs.push_back(arena.data());
                // In place: output 0 is the first local operand, output 2 the last received.
                std::vector<ChainOperands> chain;
                for (size_t k = 0; k < links; ++k) {
                  const void* local = k == 0 && !inPlace ? first.data() : outputs[0];
                  const void* theirs = inPlace && k + 1 == links ? outputs[2] : received[k].data();
                  chain.push_back({local, theirs, receivedFirst[k]});
                }
                if (inPlace && count > 0) {
                  std::memcpy(outputs[0], first.data(), bytes);
                  std::memcpy(outputs[2], received[links - 1].data(), bytes);
                }
                reduceChainToAll(type, op, outputs, chain, count, divisor, nullptr, stores);
                const std::string where =
                    levelLabel(level()) + " " + std::string(dataTypeName(type)) + " " +
                    std::string(reduceOpName(op)) + ", " + std::to_string(links) +
                    " link(s), count " + std::to_string(count) + ", " + layout.name +
                    (stores == Stores::kStreaming ? ", streaming" : ", cached") +
                    (inPlace ? ", in place" : "");
                for (size_t o = 0; o < 3; ++o) {
                  ASSERT_EQ(std::memcmp(arenas[o].data(), want.data(), bytes), 0)
                      << where << ": output " << o << " "
                      << sameElements(type, op, arenas[o].data(), want.data(), count).message();
                  ASSERT_TRUE(arenas[o].guardsIntact()) << where << ": output " << o;
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
