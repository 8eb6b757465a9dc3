// Ranks as threads: N communicators in this process over the in-process transport, each with
// its own progress thread. Sweeps rank counts x counts x every dtype x every op x in-place /
// out-of-place x algorithms, and checks every element of every rank exactly.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "core/communicator.h"
#include "core/tcp_store.h"
#include "transport/inproc/inproc_transport.h"
#include "verifiable.h"

namespace gccl {
namespace {

class ThreadRanks {
 public:
  ThreadRanks(int size, const std::string& algorithm, size_t chunkBytes) {
    Config config;
    config.algorithm = algorithm;
    config.chunkBytes = chunkBytes;
    config.timeoutMs = 20000;
    transport::inproc::InprocTransport transport(
        std::make_shared<transport::inproc::InprocFabric>());
    for (int rank = 0; rank < size; ++rank) {
      ranks_.push_back(std::make_unique<Communicator>(
          rank, size, config, JobToken{}, std::make_unique<MemoryStore>(), nullptr, transport));
    }
  }

  // Runs one allreduce on every rank; returns the number of wrong elements over all ranks.
  size_t allreduce(size_t count, DataType type, ReduceOp op, bool inPlace) {
    const int size = static_cast<int>(ranks_.size());
    const size_t bytes = count * dataTypeSize(type);
    const auto cType = static_cast<gcclDataType_t>(type);
    const auto cOp = static_cast<gcclRedOp_t>(op);
    std::vector<std::vector<unsigned char>>& in = in_;
    std::vector<std::vector<unsigned char>>& out = out_;
    in.resize(size);
    out.resize(size);
    std::vector<std::shared_ptr<Request>> requests;
    for (int r = 0; r < size; ++r) {
      // Buffers are reused (page faults would dominate the sweep); +1: never a null pointer.
      if (in[r].size() < bytes + 1) in[r].resize(bytes + 1);
      if (out[r].size() < bytes + 1) out[r].resize(bytes + 1);
      std::memset(out[r].data(), 0xAB, bytes + 1);  // stale results must not pass the check
      perf::fillInput(in[r].data(), count, cType, cOp, r, size);
      void* output = inPlace ? in[r].data() : out[r].data();
      requests.push_back(ranks_[r]->allreduce(in[r].data(), output, count, type, op));
    }
    size_t wrong = 0;
    for (int r = 0; r < size; ++r) {
      requests[r]->wait(0);
      EXPECT_EQ(requests[r]->status(), Status::kSuccess) << requests[r]->message();
      const void* output = inPlace ? in[r].data() : out[r].data();
      wrong += perf::countWrong(output, count, cType, cOp, size);
      if (!inPlace) {
        EXPECT_EQ(out[r][bytes], 0xAB) << "wrote past the end on rank " << r;
      }
    }
    return wrong;
  }

 private:
  std::vector<std::unique_ptr<Communicator>> ranks_;
  std::vector<std::vector<unsigned char>> in_, out_;
};

struct SweepCase {
  int size;
  std::string algorithm;
};

class AllreduceSweep : public testing::TestWithParam<SweepCase> {};

TEST_P(AllreduceSweep, ExactForEveryCountTypeOpAndPlacement) {
  const SweepCase& sweep = GetParam();
  // A small slice size so that the large count runs a deep pipeline.
  ThreadRanks ranks(sweep.size, sweep.algorithm, 64 * 1024);
  for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}, (size_t{1} << 20) + 3}) {
    for (int type = 0; type < kNumDataTypes; ++type) {
      for (int op = 0; op < kNumReduceOps; ++op) {
        for (bool inPlace : {false, true}) {
          ASSERT_EQ(ranks.allreduce(count, static_cast<DataType>(type), static_cast<ReduceOp>(op),
                                    inPlace),
                    0u)
              << sweep.size << " ranks, " << sweep.algorithm << ", count " << count << ", "
              << dataTypeName(static_cast<DataType>(type)) << " "
              << reduceOpName(static_cast<ReduceOp>(op)) << (inPlace ? " in place" : "");
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, AllreduceSweep,
                         testing::Values(SweepCase{1, "ring"}, SweepCase{2, "ring"},
                                         SweepCase{3, "ring"}, SweepCase{4, "ring"},
                                         SweepCase{5, "ring"}, SweepCase{7, "ring"},
                                         SweepCase{8, "ring"}, SweepCase{2, "recursive_doubling"},
                                         SweepCase{4, "recursive_doubling"},
                                         SweepCase{8, "recursive_doubling"}),
                         [](const testing::TestParamInfo<SweepCase>& info) {
                           return info.param.algorithm + std::to_string(info.param.size);
                         });

TEST(AllreduceThreads, ManyOutstandingOperationsCompleteInOrder) {
  ThreadRanks ranks(3, "auto", 4096);
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(ranks.allreduce(513, DataType::kInt32, ReduceOp::kSum, i % 2), 0u);
}

}  // namespace
}  // namespace gccl
