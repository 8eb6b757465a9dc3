// Ranks as threads: N communicators in this process over the in-process transport, each with
// its own progress thread. Sweeps rank counts x counts x every dtype x every op x in-place /
// out-of-place x algorithms, and checks every element of every rank exactly.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "bootstrap/memory_store.h"
#include "bootstrap/tcp_store.h"
#include "core/communicator.h"
#include "multirank/thread_ranks.h"
#include "transport/inproc/inproc_transport.h"
#include "verifiable.h"

namespace gccl {
namespace {

class ThreadRanks {
 public:
  // hosts > 1: ranks dealt round-robin over that many fake hosts (for hierarchical).
  ThreadRanks(int size, const std::string& algorithm, size_t chunkBytes, int hosts = 1) {
    Config config;
    config.algorithm = algorithm;
    config.chunkBytes = chunkBytes;
    config.timeoutMs = 20000;
    const TransportRouter transport(std::make_shared<transport::inproc::InprocTransport>(
        std::make_shared<transport::inproc::InprocFabric>()));
    std::vector<int> hostOf;
    for (int rank = 0; hosts > 1 && rank < size; ++rank) hostOf.push_back(rank % hosts);
    for (int rank = 0; rank < size; ++rank) {
      ranks_.push_back(std::make_unique<Communicator>(
          rank, size, config, JobToken{}, std::make_unique<MemoryStore>(), nullptr, transport,
          RouteFactory{}, "", JobLayout{hostOf, {}}));
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
      requests[r]->wait();
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
  int hosts = 1;
};

class AllreduceSweep : public testing::TestWithParam<SweepCase> {};

TEST_P(AllreduceSweep, ExactForEveryCountTypeOpAndPlacement) {
  const SweepCase& sweep = GetParam();
  // A small slice size so that the large count runs a deep pipeline.
  ThreadRanks ranks(sweep.size, sweep.algorithm, 64 * 1024, sweep.hosts);
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

INSTANTIATE_TEST_SUITE_P(
    Ranks, AllreduceSweep,
    testing::Values(SweepCase{1, "ring"}, SweepCase{2, "ring"}, SweepCase{3, "ring"},
                    SweepCase{4, "ring"}, SweepCase{5, "ring"}, SweepCase{7, "ring"},
                    SweepCase{8, "ring"}, SweepCase{2, "recursive_doubling"},
                    SweepCase{4, "recursive_doubling"}, SweepCase{8, "recursive_doubling"},
                    SweepCase{2, "tree"}, SweepCase{3, "tree"}, SweepCase{6, "tree"},
                    SweepCase{3, "halving_doubling"}, SweepCase{4, "halving_doubling"},
                    SweepCase{7, "halving_doubling"}, SweepCase{4, "hierarchical", 2},
                    SweepCase{6, "hierarchical", 3}, SweepCase{6, "hierarchical", 2},
                    SweepCase{2, "direct"}, SweepCase{3, "direct"}, SweepCase{5, "direct"},
                    SweepCase{16, "direct"}, SweepCase{2, "one_shot"}, SweepCase{3, "one_shot"},
                    SweepCase{4, "one_shot"}, SweepCase{16, "one_shot"}),
    [](const testing::TestParamInfo<SweepCase>& info) {
      const auto& c = info.param;
      return c.algorithm + std::to_string(c.size) +
             (c.hosts > 1 ? "on" + std::to_string(c.hosts) + "hosts" : "");
    });

// One asynchronous allreduce on one rank: its own exact-result input, and an output poisoned
// with a guard byte past the end.
struct PendingAllreduce {
  PendingAllreduce(size_t count, DataType type, ReduceOp op, bool inPlace)
      : count(count), type(type), op(op), inPlace(inPlace) {}

  size_t count;
  DataType type;
  ReduceOp op;
  bool inPlace;
  std::vector<unsigned char> input, output;
  std::shared_ptr<Request> request;

  void start(Communicator& comm) {
    const size_t bytes = count * dataTypeSize(type);
    input.resize(bytes + 1);
    output.assign(bytes + 1, 0xAB);
    perf::fillInput(input.data(), count, static_cast<gcclDataType_t>(type),
                    static_cast<gcclRedOp_t>(op), comm.rank(), comm.size());
    void* result = inPlace ? input.data() : output.data();
    request = comm.allreduce(input.data(), result, count, type, op, /*blocking=*/false);
  }
  size_t wrongElements(int nranks) const {
    return perf::countWrong(inPlace ? input.data() : output.data(), count,
                            static_cast<gcclDataType_t>(type), static_cast<gcclRedOp_t>(op),
                            nranks);
  }
};

// Polls until every operation is done. Whenever one is seen done, every earlier one must be
// done already (its completion happened before, on the same progress thread). Scanning from
// the last one means a late operation that overtook an earlier one is seen first.
void expectCompletionInOrder(const std::vector<PendingAllreduce>& ops, int rank) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  size_t done = 0;  // ops[0, done) are known to be complete
  while (done < ops.size()) {
    for (size_t i = ops.size(); i-- > done;) {
      if (!ops[i].request->isDone()) continue;
      for (size_t j = done; j < i; ++j) {
        ASSERT_TRUE(ops[j].request->isDone())
            << "rank " << rank << ": operation " << i << " completed before operation " << j;
      }
      done = i + 1;
      break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "rank " << rank << ": operation " << done << " never completed";
    std::this_thread::yield();
  }
}

// Many asynchronous allreduces outstanding at once on every rank, each on its own buffers with
// its own count, type, op and placement: all must give exact results, in submission order.
TEST(AllreduceThreads, ManyOutstandingOperationsCompleteInOrder) {
  constexpr int kSize = 3;
  constexpr int kOperations = 40;
  constexpr std::array<size_t, 4> kCounts = {1, 7, 1000, 70001};
  Config config;
  config.chunkBytes = 4096;  // the large counts run a deep pipeline
  config.timeoutMs = 20000;
  std::vector<std::unique_ptr<Communicator>> comms =
      testing_support::makeThreadRanks(kSize, config);
  std::vector<std::vector<PendingAllreduce>> pending(kSize);
  for (int r = 0; r < kSize; ++r) {
    for (int i = 0; i < kOperations; ++i) {
      pending[r].emplace_back(kCounts[i % kCounts.size()], static_cast<DataType>(i % kNumDataTypes),
                              static_cast<ReduceOp>(i % kNumReduceOps), i % 3 == 1);
    }
  }
  // Every rank but 0 submits everything first. Nothing can complete without rank 0's part, so
  // all kOperations are outstanding on each of them at once.
  for (int r = 1; r < kSize; ++r) {
    for (PendingAllreduce& op : pending[r]) op.start(*comms[r]);
  }
  for (int r = 1; r < kSize; ++r) {
    for (int i = 0; i < kOperations; ++i) {
      EXPECT_FALSE(pending[r][i].request->isDone()) << "rank " << r << " op " << i;
    }
  }
  for (PendingAllreduce& op : pending[0]) op.start(*comms[0]);
  for (int r = 0; r < kSize; ++r) {
    ASSERT_NO_FATAL_FAILURE(expectCompletionInOrder(pending[r], r));
    for (int i = 0; i < kOperations; ++i) {
      const PendingAllreduce& op = pending[r][i];
      SCOPED_TRACE("rank " + std::to_string(r) + " op " + std::to_string(i) + ": " +
                   std::string(dataTypeName(op.type)) + " " + std::string(reduceOpName(op.op)) +
                   " count " + std::to_string(op.count) + (op.inPlace ? " in place" : ""));
      ASSERT_EQ(op.request->status(), Status::kSuccess) << op.request->message();
      EXPECT_EQ(op.wrongElements(kSize), 0u);
      if (!op.inPlace) {
        EXPECT_EQ(op.output.back(), 0xAB) << "wrote past the end";
      }
    }
  }
}

}  // namespace
}  // namespace gccl

namespace gccl {
namespace {

// Blocking calls from each rank's own thread (the caller-driven path of the engine), mixed with
// queued asynchronous ones, several outstanding at once.
TEST(AllreduceThreads, BlockingAndAsyncCallsFromRankThreads) {
  constexpr int kSize = 4;
  constexpr size_t kCount = 70001;
  Config config;
  config.chunkBytes = 16384;
  config.timeoutMs = 20000;
  std::vector<std::unique_ptr<Communicator>> ranks =
      testing_support::makeThreadRanks(kSize, config);
  std::vector<size_t> wrong(kSize, 0);
  std::vector<std::thread> threads;
  for (int r = 0; r < kSize; ++r) {
    threads.emplace_back([&, r] {
      std::vector<std::vector<int32_t>> buffers(5, std::vector<int32_t>(kCount));
      for (int round = 0; round < 20; ++round) {
        std::vector<std::shared_ptr<Request>> pending;
        for (size_t b = 0; b < buffers.size(); ++b) {
          perf::fillInput(buffers[b].data(), kCount, gcclInt32, gcclSum, r, kSize);
          const bool blocking = (round + b) % 2 == 0;
          pending.push_back(ranks[r]->allreduce(buffers[b].data(), buffers[b].data(), kCount,
                                                DataType::kInt32, ReduceOp::kSum, blocking));
        }
        for (size_t b = 0; b < buffers.size(); ++b) {
          pending[b]->wait();
          if (pending[b]->status() != Status::kSuccess) ++wrong[r];
          wrong[r] += perf::countWrong(buffers[b].data(), kCount, gcclInt32, gcclSum, kSize);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int r = 0; r < kSize; ++r) EXPECT_EQ(wrong[r], 0u) << "rank " << r;
}

// gcclCommAbort's path: a blocking call that can never complete (its peer never joins) is
// failed by an abort from another thread, the communicator is then destroyed at once, and
// later calls fail fast with the stored error.
TEST(AllreduceThreads, AbortFromAnotherThreadEndsAHungBlockingCall) {
  Config config;
  config.timeoutMs = 60000;
  const TransportRouter transport(std::make_shared<transport::inproc::InprocTransport>(
      std::make_shared<transport::inproc::InprocFabric>()));
  auto rank0 = std::make_unique<Communicator>(0, 2, config, JobToken{},
                                              std::make_unique<MemoryStore>(), nullptr, transport);
  auto rank1 = std::make_unique<Communicator>(1, 2, config, JobToken{},
                                              std::make_unique<MemoryStore>(), nullptr, transport);
  std::vector<float> data(1000, 1.0f);
  std::shared_ptr<Request> request;
  const auto started = std::chrono::steady_clock::now();
  std::thread caller([&] {
    request = rank0->allreduce(data.data(), data.data(), data.size(), DataType::kFloat32,
                               ReduceOp::kSum, true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  rank0->abort("test abort");
  caller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  ASSERT_TRUE(request->isDone());
  EXPECT_EQ(request->status(), Status::kInvalidUsage);
  EXPECT_NE(request->message().find("test abort"), std::string::npos) << request->message();
  ASSERT_TRUE(rank0->asyncError().has_value());
  auto later = rank0->allreduce(data.data(), data.data(), 10, DataType::kFloat32, ReduceOp::kSum);
  later->wait();
  EXPECT_EQ(later->status(), Status::kInvalidUsage);
  rank0.reset();
  // The survivor's next collective fails because its peer is gone, instead of hanging, and
  // says why: the aborting rank left a notice.
  auto orphan = rank1->allreduce(data.data(), data.data(), data.size(), DataType::kFloat32,
                                 ReduceOp::kSum, true);
  EXPECT_EQ(orphan->status(), Status::kRemoteError) << orphan->message();
  EXPECT_NE(orphan->message().find("rank 0 (in-process) reported: "), std::string::npos)
      << orphan->message();
  EXPECT_NE(orphan->message().find("rank 0 aborted: test abort"), std::string::npos)
      << orphan->message();
}

}  // namespace
}  // namespace gccl
