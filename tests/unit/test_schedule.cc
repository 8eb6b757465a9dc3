// Schedules without sockets: for every rank count 1..64, (1) the pure patterns match up — the
// i-th send of a to b has the same range as the i-th receive of b from a — and (2) the real
// executor runs all ranks round-robin on this one thread over the in-process transport and
// produces exact sums.
#include <gtest/gtest.h>

#include <map>
#include <numeric>
#include <vector>

#include "algorithms/double_tree.h"
#include "algorithms/recursive_doubling.h"
#include "algorithms/registry.h"
#include "algorithms/ring.h"
#include "base/poller.h"
#include "bootstrap/memory_store.h"
#include "bootstrap/tcp_store.h"
#include "core/communicator.h"
#include "core/execution.h"
#include "transport/inproc/inproc_transport.h"

namespace gccl {
namespace {

using HostMap = std::shared_ptr<const std::vector<int>>;

ScheduleShape shapeOf(int rank, int size, size_t count, size_t slice, HostMap hostOf = nullptr) {
  ScheduleShape shape;
  shape.hostOf = std::move(hostOf);
  shape.rank = rank;
  shape.size = size;
  shape.count = count;
  shape.sliceElements = slice;
  return shape;
}

using Builder = Schedule (*)(const ScheduleShape&);

// (from, to) -> ranges in order.
using Traffic = std::map<std::pair<int, int>, std::vector<std::pair<size_t, size_t>>>;

// The contract is "the i-th send of a to b matches the i-th receive of b from a" in count; an
// allreduce moreover places every block where it came from, so offsets match too.
void collect(const Schedule& schedule, int rank, Traffic& sends, Traffic& recvs) {
  for (const Step& step : schedule.steps) {
    if (step.kind == StepKind::kSend) {
      sends[{rank, step.peer}].push_back({step.input.offset, step.input.count});
    }
    if (step.kind == StepKind::kRecv || step.kind == StepKind::kRecvReduce) {
      recvs[{step.peer, rank}].push_back({step.output.offset, step.output.count});
    }
  }
}

void expectMatchingTraffic(Builder build, int size, size_t count, size_t slice,
                           HostMap hostOf = nullptr) {
  Traffic sends, recvs;
  for (int rank = 0; rank < size; ++rank) {
    const Schedule schedule = build(shapeOf(rank, size, count, slice, hostOf));
    ASSERT_NO_THROW(checkSchedule(schedule, rank, size, count, count))
        << describeSchedule(schedule);
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

// Every collective's ring schedule, 1..64 ranks: sends and receives pair up in count (offsets
// differ: a block lands elsewhere than it came from), every step is well formed for the
// buffer extents of that collective, and roots anywhere.
struct Extents {
  size_t input;
  size_t output;
};

void expectMatchingCounts(Schedule (*build)(const ScheduleShape&), int size, size_t count, int root,
                          Extents (*extentsOf)(int rank, int size, size_t count, int root)) {
  std::map<std::pair<int, int>, std::vector<size_t>> sends, recvs;
  for (int rank = 0; rank < size; ++rank) {
    ScheduleShape shape = shapeOf(rank, size, count, 3);
    shape.root = root;
    for (int b = 0; b < size; ++b) {
      shape.blocks.push_back({static_cast<size_t>(size - 1 - b) * (count + 1), count});
    }
    const Schedule schedule = build(shape);
    const Extents extents = extentsOf(rank, size, count, root);
    ASSERT_NO_THROW(checkSchedule(schedule, rank, size, extents.input, extents.output))
        << describeSchedule(schedule);
    for (const Step& step : schedule.steps) {
      if (step.kind == StepKind::kSend) sends[{rank, step.peer}].push_back(step.count());
      if (step.kind == StepKind::kRecv || step.kind == StepKind::kRecvReduce) {
        recvs[{step.peer, rank}].push_back(step.count());
      }
    }
  }
  EXPECT_EQ(sends, recvs) << "size " << size << " count " << count << " root " << root;
}

TEST(CollectivePatterns, SendsMatchReceivesForEveryCollectiveAndRankCount) {
  using Shape = Extents (*)(int, int, size_t, int);
  const Shape rooted = [](int rank, int, size_t count, int root) {
    return Extents{count, rank == root ? count : size_t{0}};
  };
  const Shape broadcast = [](int rank, int, size_t count, int root) {
    return Extents{rank == root ? count : size_t{0}, count};
  };
  const Shape gather = [](int, int size, size_t count, int) {
    return Extents{count, static_cast<size_t>(size) * (count + 1)};
  };
  const Shape scatter = [](int, int size, size_t count, int) {
    return Extents{static_cast<size_t>(size) * count, count};
  };
  for (int size = 1; size <= 64; ++size) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{100}}) {
      for (int root : {0, size / 2, size - 1}) {
        expectMatchingCounts(ringBroadcast, size, count, root, broadcast);
        expectMatchingCounts(ringReduce, size, count, root, rooted);
      }
      expectMatchingCounts(ringAllgather, size, count, 0, gather);
      expectMatchingCounts(ringAllgatherV, size, count, 0, gather);
      expectMatchingCounts(ringReduceScatter, size, count, 0, scatter);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(RingPattern, PeersAreTheNeighbours) {
  EXPECT_TRUE(ringPeers(0, 1).empty());
  EXPECT_EQ(ringPeers(0, 2), std::vector<int>({1}));
  EXPECT_EQ(ringPeers(0, 5), std::vector<int>({4, 1}));
  EXPECT_EQ(connectionPeers(shapeOf(0, 8, 0, 1)), std::vector<int>({1, 2, 4, 7}));
}

// Runs every rank's executor in turn on this thread until all finish.
void runRoundRobin(const Algorithm& algorithm, int size, size_t count, size_t slice, ReduceOp op,
                   HostMap hostOf = nullptr) {
  auto fabric = std::make_shared<transport::inproc::InprocFabric>();
  transport::inproc::InprocTransport transport(fabric);
  MemoryStore store;
  std::vector<std::unique_ptr<Poller>> pollers;
  std::vector<ConnectionMap> connections(static_cast<size_t>(size));
  std::vector<ReusableBuffer> scratch(static_cast<size_t>(size));
  std::vector<ReusableBuffer> work(static_cast<size_t>(size));
  std::vector<std::vector<int64_t>> input(size), output(size);
  std::vector<Operation> operations(static_cast<size_t>(size));
  std::vector<std::unique_ptr<Execution>> executions;
  for (int r = 0; r < size; ++r) {
    pollers.push_back(std::make_unique<Poller>());
    ConnectRequest request;
    request.rank = r;
    request.size = size;
    request.peers = algorithm.peers(shapeOf(r, size, count, slice, hostOf));
    connections[r] = transport.connect(request, store, *pollers.back());
    input[r].resize(count);
    output[r].assign(count, -1);
    for (size_t i = 0; i < count; ++i) input[r][i] = static_cast<int64_t>((r + 1) * (i % 13 + 1));
    ScheduleShape shape = shapeOf(r, size, count, slice, hostOf);
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
    executions.push_back(
        std::make_unique<Execution>(operation, connections[r], scratch[r], work[r], size));
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
    runRoundRobin(algorithms()[0], size, size * 3 + 2, 2, ReduceOp::kSum);
  }
}

TEST(ScheduleExecution, RingAverageDividesOnce) {
  for (int size : {2, 3, 7}) runRoundRobin(algorithms()[0], size, 100, 7, ReduceOp::kAvg);
}

TEST(ScheduleExecution, RecursiveDoublingIsExactForPowersOfTwo) {
  for (int size = 1; size <= 64; size *= 2) {
    runRoundRobin(algorithms()[1], size, 37, 8, ReduceOp::kSum);
    runRoundRobin(algorithms()[1], size, 37, 8, ReduceOp::kAvg);
  }
}

const Algorithm& allreduceNamed(std::string_view name) {
  for (const Algorithm& algorithm : algorithms()) {
    if (algorithm.collective == CollectiveKind::kAllreduce && algorithm.name == name) {
      return algorithm;
    }
  }
  throw std::runtime_error("no allreduce algorithm " + std::string(name));
}

// Counts below, at and above the rank count and the slice: empty blocks, one slice, many.
TEST(ScheduleExecution, TreeAndHalvingDoublingAreExactForEveryRankCountUpTo64) {
  for (const char* name : {"tree", "halving_doubling"}) {
    const Algorithm& algorithm = allreduceNamed(name);
    for (int size = 1; size <= 64; ++size) {
      for (size_t count : {size_t{0}, size_t{1}, size_t(size) * 3 + 2}) {
        expectMatchingTraffic(algorithm.build, size, count, 2);
        runRoundRobin(algorithm, size, count, 2, ReduceOp::kSum);
      }
      runRoundRobin(algorithm, size, 100, 7, ReduceOp::kAvg);
      if (HasFatalFailure()) return;
    }
  }
}

// Hosts of equal size, as blocks of consecutive ranks and dealt round-robin; segments that fit
// one slice (halving-doubling between hosts) and segments of several (a ring between hosts).
TEST(ScheduleExecution, HierarchicalIsExactForEveryUniformHostLayout) {
  const Algorithm& algorithm = allreduceNamed("hierarchical");
  for (int hosts = 2; hosts <= 5; ++hosts) {
    for (int perHost = 1; perHost <= 4; ++perHost) {
      const int size = hosts * perHost;
      for (bool dealt : {false, true}) {
        auto hostOf = std::make_shared<std::vector<int>>();
        for (int r = 0; r < size; ++r) hostOf->push_back(dealt ? r % hosts : r / perHost);
        ASSERT_TRUE(algorithm.supports(shapeOf(0, size, 0, 1, hostOf)));
        for (size_t count : {size_t{0}, size_t{1}, size_t(size) * 3 + 2, size_t(size) * 40}) {
          expectMatchingTraffic(algorithm.build, size, count, 16, hostOf);
          runRoundRobin(algorithm, size, count, 16, ReduceOp::kSum, hostOf);
        }
        runRoundRobin(algorithm, size, 100, 7, ReduceOp::kAvg, hostOf);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(Hierarchical, NeedsTwoHostsOfEqualSize) {
  const Algorithm& algorithm = allreduceNamed("hierarchical");
  const auto layout = [](std::vector<int> hosts) {
    return std::make_shared<const std::vector<int>>(std::move(hosts));
  };
  EXPECT_FALSE(algorithm.supports(shapeOf(0, 4, 0, 1)));
  EXPECT_FALSE(algorithm.supports(shapeOf(0, 4, 0, 1, layout({0, 0, 0, 0}))));
  EXPECT_FALSE(algorithm.supports(shapeOf(0, 3, 0, 1, layout({0, 0, 1}))));
  EXPECT_TRUE(algorithm.supports(shapeOf(0, 4, 0, 1, layout({1, 0, 1, 0}))));
  // Automatic choice never picks what cannot run: one host falls back to another algorithm.
  const CostInputs costs = costInputsOf(shapeOf(0, 4, 0, 1), 1 << 20, CostFigures{});
  EXPECT_NE(
      selectAlgorithm(CollectiveKind::kAllreduce, "hierarchical", shapeOf(0, 4, 0, 1), costs).id,
      AlgorithmId::kHierarchical);
}

// Each tree spans every rank once (parents and children agree, one root), and the two trees
// have different roots, and no rank (one for odd sizes) is an inner node of both: the load is
// shared.
TEST(DoubleTree, TwoComplementarySpanningTrees) {
  for (int size = 2; size <= 64; ++size) {
    int roots[2] = {-1, -1};
    for (int tree = 0; tree < 2; ++tree) {
      for (int rank = 0; rank < size; ++rank) {
        const TreeNode node = treeNode(tree, rank, size);
        if (node.parent < 0) {
          ASSERT_EQ(roots[tree], -1) << "two roots, size " << size;
          roots[tree] = rank;
        } else {
          const TreeNode parent = treeNode(tree, node.parent, size);
          ASSERT_TRUE(parent.left == rank || parent.right == rank) << size << " " << rank;
        }
        for (const int child : {node.left, node.right}) {
          if (child >= 0) {
            ASSERT_EQ(treeNode(tree, child, size).parent, rank);
          }
        }
      }
      ASSERT_NE(roots[tree], -1);
    }
    EXPECT_NE(roots[0], roots[1]) << "size " << size;
    int innerInBoth = 0;
    for (int rank = 0; rank < size; ++rank) {
      const TreeNode a = treeNode(0, rank, size), b = treeNode(1, rank, size);
      innerInBoth += (a.left >= 0 || a.right >= 0) && (b.left >= 0 || b.right >= 0);
    }
    EXPECT_LE(innerInBoth, size % 2) << "size " << size;
  }
}

// GCCL_ALGO: a name forces the algorithm where it can run; elsewhere the automatic choice.
TEST(Selection, ANamedAlgorithmIsTakenWhereItCanRun) {
  constexpr auto kAllreduce = CollectiveKind::kAllreduce;
  const auto select = [](std::string_view name, int size, size_t bytes) {
    const ScheduleShape shape = shapeOf(0, size, 0, 1);
    CostInputs costs = costInputsOf(shape, 1 << 20, CostFigures{});
    costs.bytes = bytes;
    return selectAlgorithm(kAllreduce, name, shape, costs).id;
  };
  EXPECT_EQ(select("auto", 4, 64), AlgorithmId::kRecursiveDoubling);
  EXPECT_NE(select("recursive_doubling", 3, 64), AlgorithmId::kRecursiveDoubling);
  EXPECT_NE(select("recursive_doubling", 4, 64 << 20), AlgorithmId::kRecursiveDoubling);
  EXPECT_EQ(select("ring", 4, 64), AlgorithmId::kRing);
  EXPECT_EQ(select("tree", 5, 64 << 20), AlgorithmId::kTree);
  EXPECT_EQ(select("halving_doubling", 6, 64), AlgorithmId::kHalvingDoubling);
  EXPECT_THROW(select("bogus", 4, 64), Error);
  EXPECT_EQ(algorithmName(AlgorithmId::kRecursiveDoubling), "recursive_doubling");
}

// Recursive doubling partners combine the same two partials; the lower block's goes left on
// both sides, so both compute the same bits.
TEST(RecursiveDoublingPattern, LowerBlockIsTheLeftOperandOnBothPartners) {
  for (int rank = 0; rank < 8; ++rank) {
    const Schedule schedule = recursiveDoublingAllreduce(shapeOf(rank, 8, 10, 10));
    for (const Step& step : schedule.steps) {
      if (step.kind != StepKind::kRecvReduce) continue;
      EXPECT_EQ(step.receivedFirst, step.peer < rank) << "rank " << rank << " peer " << step.peer;
    }
  }
}

// checkSchedule is what lets the engine index without checking: each defect is refused.
TEST(ScheduleCheck, RefusesEveryKindOfDefect) {
  auto refused = [](Step step, const std::string& what) {
    Schedule schedule;
    Step first;  // a harmless local copy, so that step 1 may depend on step 0
    first.input = {0, 1};
    first.output = {0, 1};
    schedule.add(first);
    schedule.add(step);
    try {
      checkSchedule(schedule, 1, 4, 10, 10);
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::kInternalError);
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("step 1"), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "accepted a step that " << what;
  };
  Step send;
  send.kind = StepKind::kSend;
  send.peer = 2;
  send.input = {0, 10};
  Schedule good;
  good.add(send);
  EXPECT_NO_THROW(checkSchedule(good, 1, 4, 10, 10));

  Step later = send;
  later.after = {1, kNoStep};  // itself
  refused(later, "not an earlier step");
  later.after = {kNoStep, 7};
  refused(later, "not an earlier step");
  Step self = send;
  self.peer = 1;
  refused(self, "not another rank");
  Step outside = send;
  outside.peer = 4;
  refused(outside, "not another rank");
  Step localWithPeer;
  localWithPeer.peer = 2;
  refused(localWithPeer, "local step names peer");
  Step overRead = send;
  overRead.input = {5, 6};
  refused(overRead, "reads past");
  Step wrapping = send;
  wrapping.input = {SIZE_MAX - 1, 4};
  refused(wrapping, "reads past");
  Step overWrite;
  overWrite.kind = StepKind::kRecv;
  overWrite.peer = 0;
  overWrite.output = {9, 2};
  refused(overWrite, "writes past");
  Step uneven;
  uneven.kind = StepKind::kRecvReduce;
  uneven.peer = 0;
  uneven.input = {0, 3};
  uneven.output = {0, 4};
  refused(uneven, "different element counts");
}

TEST(Scratch, GrowsOnDemandAndShrinksBackAfterALargeExchange) {
  ReusableBuffer scratch;
  scratch.reserve(4096);
  EXPECT_EQ(scratch.bytes(), 4096u);
  scratch.trim(1 << 20);  // within what the communicator keeps: stays for the next operation
  EXPECT_EQ(scratch.bytes(), 4096u);
  scratch.reserve(16 << 20);  // a whole-buffer exchange
  EXPECT_EQ(scratch.bytes(), size_t{16} << 20);
  scratch.trim(1 << 20);
  EXPECT_EQ(scratch.bytes(), 0u);
}

// A tiny slice on a huge buffer is refused before anything is built or touched, with the
// setting to change in the message. One rank: the buffer is never read (validation comes
// first, and a one-rank in-place allreduce has no steps), so a fake address is safe.
TEST(ScheduleCheck, TooManySlicesAreRefusedNamingTheSetting) {
  Config config;
  config.chunkBytes = 64;
  const TransportRouter router(std::make_shared<transport::inproc::InprocTransport>(
      std::make_shared<transport::inproc::InprocFabric>()));
  Communicator communicator(0, 1, config, JobToken{}, std::make_unique<MemoryStore>(), nullptr,
                            router);
  void* huge = reinterpret_cast<void*>(uintptr_t{1} << 40);
  const size_t count = size_t{1} << 28;  // 1 GiB of float32 in 64-byte slices: 16M slices
  try {
    communicator.allreduce(huge, huge, count, DataType::kFloat32, ReduceOp::kSum, true);
    ADD_FAILURE() << "16M slices were accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("GCCL_CHUNK_BYTES=64"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("at least 16384"), std::string::npos) << e.what();
  }
  // At the limit it runs (one rank: nothing to move).
  const size_t atLimit = kMaxSlicesPerCollective * 64 / 4;
  EXPECT_EQ(communicator.allreduce(huge, huge, atLimit, DataType::kFloat32, ReduceOp::kSum, true)
                ->status(),
            Status::kSuccess);
}

TEST(ScheduleCheck, LengthIsBounded) {
  Schedule schedule;
  schedule.steps.resize(kMaxScheduleSteps);
  EXPECT_THROW(schedule.add(Step{}), Error);
  EXPECT_EQ(schedule.steps.size(), kMaxScheduleSteps);
}

}  // namespace
}  // namespace gccl
