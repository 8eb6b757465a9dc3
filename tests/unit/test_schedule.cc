// Schedules without sockets: for every rank count 1..64, (1) the pure patterns match up — the
// i-th send of a to b has the same range as the i-th receive of b from a — and (2) the real
// executor runs all ranks round-robin on this one thread over the in-process transport and
// produces exact sums.
#include <gtest/gtest.h>

#include <map>
#include <numeric>
#include <vector>

#include "algorithms/recursive_doubling.h"
#include "algorithms/registry.h"
#include "algorithms/ring.h"
#include "core/execution.h"
#include "base/poller.h"
#include "bootstrap/memory_store.h"
#include "transport/inproc/inproc_transport.h"

namespace gccl {
namespace {

ScheduleShape shapeOf(int rank, int size, size_t count, size_t slice) {
  ScheduleShape shape;
  shape.rank = rank;
  shape.size = size;
  shape.count = count;
  shape.sliceElements = slice;
  return shape;
}

using Builder = Schedule (*)(const ScheduleShape&);

// (from, to) -> ranges in order.
using Traffic = std::map<std::pair<int, int>, std::vector<std::pair<size_t, size_t>>>;

void collect(const Schedule& schedule, int rank, Traffic& sends, Traffic& recvs) {
  for (const Step& step : schedule.steps) {
    if (step.kind == StepKind::kSend) sends[{rank, step.peer}].push_back({step.offset, step.count});
    if (step.kind == StepKind::kRecv || step.kind == StepKind::kRecvReduce) {
      recvs[{step.peer, rank}].push_back({step.offset, step.count});
    }
  }
}

void expectMatchingTraffic(Builder build, int size, size_t count, size_t slice) {
  Traffic sends, recvs;
  for (int rank = 0; rank < size; ++rank) {
    const Schedule schedule = build(shapeOf(rank, size, count, slice));
    for (const Step& step : schedule.steps) {
      ASSERT_LE(step.offset + step.count, count) << describeSchedule(schedule);
      for (int32_t dependency : step.after)
        ASSERT_LT(dependency, static_cast<int32_t>(schedule.steps.size()));
    }
    collect(schedule, rank, sends, recvs);
  }
  EXPECT_EQ(sends, recvs) << "size " << size << " count " << count;
}

TEST(RingPattern, SendsMatchReceivesForEveryRankCount) {
  for (int size = 1; size <= 64; ++size) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}, size_t(size) * 5 + 3}) {
      expectMatchingTraffic(ringAllreduce, size, count, 3);
    }
  }
}

TEST(RecursiveDoublingPattern, SendsMatchReceivesForPowersOfTwo) {
  for (int size = 1; size <= 64; size *= 2) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{1000}}) {
      expectMatchingTraffic(recursiveDoublingAllreduce, size, count, 3);
    }
  }
}

TEST(RingPattern, PeersAreTheNeighbours) {
  EXPECT_TRUE(ringPeers(0, 1).empty());
  EXPECT_EQ(ringPeers(0, 2), std::vector<int>({1}));
  EXPECT_EQ(ringPeers(0, 5), std::vector<int>({4, 1}));
  EXPECT_EQ(allreducePeers(0, 8), std::vector<int>({1, 2, 4, 7}));
}

// Runs every rank's executor in turn on this thread until all finish.
void runRoundRobin(const AllreduceAlgorithm& algorithm, int size, size_t count, size_t slice,
                   ReduceOp op) {
  auto fabric = std::make_shared<transport::inproc::InprocFabric>();
  transport::inproc::InprocTransport transport(fabric);
  MemoryStore store;
  std::vector<std::unique_ptr<Poller>> pollers;
  std::vector<ConnectionMap> connections(static_cast<size_t>(size));
  std::vector<ScratchPool> scratch(static_cast<size_t>(size));
  std::vector<std::vector<int64_t>> input(size), output(size);
  std::vector<Operation> operations(static_cast<size_t>(size));
  std::vector<std::unique_ptr<Execution>> executions;
  for (int r = 0; r < size; ++r) {
    pollers.push_back(std::make_unique<Poller>());
    ConnectRequest request;
    request.rank = r;
    request.size = size;
    request.peers = algorithm.peers(r, size);
    connections[r] = transport.connect(request, store, *pollers.back());
    input[r].resize(count);
    output[r].assign(count, -1);
    for (size_t i = 0; i < count; ++i) input[r][i] = static_cast<int64_t>((r + 1) * (i % 13 + 1));
    ScheduleShape shape = shapeOf(r, size, count, slice);
    shape.average = op == ReduceOp::kAvg;
    Operation& operation = operations[r];
    operation.input = input[r].data();
    operation.output = output[r].data();
    operation.count = count;
    operation.type = DataType::kInt64;
    operation.op = op;
    operation.algorithm = algorithm.id;
    operation.sequence = 1;
    operation.schedule = std::make_shared<const Schedule>(algorithm.build(shape));
    executions.push_back(std::make_unique<Execution>(operation, connections[r], scratch[r], size));
  }
  for (int round = 0;; ++round) {
    bool allDone = true;
    for (auto& execution : executions) {
      execution->advance();
      allDone &= execution->finished();
    }
    if (allDone) break;
    ASSERT_LT(round, 1000000) << "schedule deadlocked at " << size << " ranks";
  }
  const int64_t rankSum = static_cast<int64_t>(size) * (size + 1) / 2;
  for (int r = 0; r < size; ++r) {
    for (size_t i = 0; i < count; ++i) {
      int64_t expected = rankSum * static_cast<int64_t>(i % 13 + 1);
      if (op == ReduceOp::kAvg) expected /= size;
      ASSERT_EQ(output[r][i], expected) << "rank " << r << " of " << size << " element " << i;
    }
  }
}

TEST(ScheduleExecution, RingIsExactForEveryRankCountUpTo64) {
  for (int size = 1; size <= 64; ++size) {
    runRoundRobin(allreduceAlgorithms()[0], size, size * 3 + 2, 2, ReduceOp::kSum);
  }
}

TEST(ScheduleExecution, RingAverageDividesOnce) {
  for (int size : {2, 3, 7}) runRoundRobin(allreduceAlgorithms()[0], size, 100, 7, ReduceOp::kAvg);
}

TEST(ScheduleExecution, RecursiveDoublingIsExactForPowersOfTwo) {
  for (int size = 1; size <= 64; size *= 2) {
    runRoundRobin(allreduceAlgorithms()[1], size, 37, 8, ReduceOp::kSum);
    runRoundRobin(allreduceAlgorithms()[1], size, 37, 8, ReduceOp::kAvg);
  }
}

TEST(Selection, SmallPowerOfTwoUsesRecursiveDoubling) {
  EXPECT_EQ(selectAllreduce("auto", 4, 64).id, AlgorithmId::kRecursiveDoubling);
  EXPECT_EQ(selectAllreduce("auto", 3, 64).id, AlgorithmId::kRing);
  EXPECT_EQ(selectAllreduce("auto", 4, 64 << 20).id, AlgorithmId::kRing);
  EXPECT_EQ(selectAllreduce("recursive_doubling", 3, 64).id, AlgorithmId::kRing);
  EXPECT_THROW(selectAllreduce("bogus", 4, 64), Error);
}

}  // namespace
}  // namespace gccl
