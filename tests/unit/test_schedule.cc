// Schedules without sockets: for every rank count 1..64, (1) the pure patterns match up — the
// i-th send of a to b has the same range as the i-th receive of b from a — and (2) the real
// executor runs all ranks round-robin on this one thread over the in-process transport and
// produces exact sums.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <utility>
#include <vector>

#include "algorithms/all_to_all.h"
#include "algorithms/binomial.h"
#include "algorithms/bruck.h"
#include "algorithms/direct.h"
#include "algorithms/double_tree.h"
#include "algorithms/partition.h"
#include "algorithms/recursive_doubling.h"
#include "algorithms/recursive_halving.h"
#include "algorithms/registry.h"
#include "algorithms/ring.h"
#include "algorithms/schedule_index.h"
#include "algorithms/steps.h"
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

// Allgatherv blocks of `count` elements in reverse rank order, a one-element gap before each.
std::vector<Range> reversedBlocks(int size, size_t count) {
  std::vector<Range> blocks;
  for (int b = 0; b < size; ++b) {
    blocks.push_back({static_cast<size_t>(size - 1 - b) * (count + 1), count});
  }
  return blocks;
}

// Uneven allgatherv blocks, some empty: in rank order and touching (so that runs of them
// travel as one message), or in reverse order with gaps.
std::vector<Range> unevenBlocks(int size, size_t count, bool touching) {
  std::vector<Range> blocks(static_cast<size_t>(size));
  size_t end = 0;
  for (int i = 0; i < size; ++i) {
    const int b = touching ? i : size - 1 - i;
    blocks[static_cast<size_t>(b)] = {end + (touching ? 0 : 1), (count * (b + 1)) % (count + 3)};
    end = blocks[static_cast<size_t>(b)].end();
  }
  return blocks;
}

// `peers`, when given, is the algorithm's peers function: a schedule must talk to no other rank.
void expectMatchingCounts(Schedule (*build)(const ScheduleShape&), int size, size_t count, int root,
                          Extents (*extentsOf)(int rank, int size, size_t count, int root),
                          const std::vector<Range>& blocks = {},
                          std::vector<int> (*peers)(int rank, int size) = nullptr) {
  std::map<std::pair<int, int>, std::vector<size_t>> sends, recvs;
  for (int rank = 0; rank < size; ++rank) {
    ScheduleShape shape = shapeOf(rank, size, count, 3);
    shape.root = root;
    shape.blocks = blocks.empty() ? reversedBlocks(size, count) : blocks;
    const Schedule schedule = build(shape);
    Extents extents = extentsOf(rank, size, count, root);
    if (!blocks.empty()) {  // allgatherv with blocks of its own
      extents = {blocks[static_cast<size_t>(rank)].count, 0};
      for (const Range& block : blocks) extents.output = std::max(extents.output, block.end());
    }
    ASSERT_NO_THROW(checkSchedule(schedule, rank, size, extents.input, extents.output))
        << describeSchedule(schedule);
    const std::vector<int> allowed = peers ? peers(rank, size) : std::vector<int>{};
    for (const Step& step : schedule.steps) {
      if (step.kind == StepKind::kSend) sends[{rank, step.peer}].push_back(step.count());
      if (step.kind == StepKind::kRecv || step.kind == StepKind::kRecvReduce) {
        recvs[{step.peer, rank}].push_back(step.count());
      }
      if (peers && step.peer >= 0) {
        ASSERT_TRUE(std::count(allowed.begin(), allowed.end(), step.peer) == 1)
            << "rank " << rank << " of " << size << " talks to " << step.peer
            << ", not in its peers";
      }
    }
  }
  EXPECT_EQ(sends, recvs) << "size " << size << " count " << count << " root " << root;
}

Extents rootedExtents(int rank, int, size_t count, int root) {
  return {count, rank == root ? count : size_t{0}};
}
Extents broadcastExtents(int rank, int, size_t count, int root) {
  return {rank == root ? count : size_t{0}, count};
}
Extents gatherExtents(int, int size, size_t count, int) {
  return {count, static_cast<size_t>(size) * (count + 1)};
}
Extents scatterExtents(int, int size, size_t count, int) {
  return {static_cast<size_t>(size) * count, count};
}
Extents allToAllExtents(int, int size, size_t count, int) {
  return {static_cast<size_t>(size) * count, static_cast<size_t>(size) * count};
}
std::vector<int> everyOtherRank(int rank, int size) {
  std::vector<int> peers;
  for (int p = 0; p < size; ++p) {
    if (p != rank) peers.push_back(p);
  }
  return peers;
}

TEST(CollectivePatterns, SendsMatchReceivesForEveryCollectiveAndRankCount) {
  for (int size = 1; size <= 64; ++size) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{100}}) {
      for (int root : {0, size / 2, size - 1}) {
        expectMatchingCounts(ringBroadcast, size, count, root, broadcastExtents);
        expectMatchingCounts(ringReduce, size, count, root, rootedExtents);
      }
      expectMatchingCounts(ringAllgather, size, count, 0, gatherExtents);
      expectMatchingCounts(ringAllgatherV, size, count, 0, gatherExtents);
      for (bool touching : {false, true}) {
        expectMatchingCounts(ringAllgatherV, size, count, 0, gatherExtents,
                             unevenBlocks(size, count, touching));
      }
      expectMatchingCounts(ringReduceScatter, size, count, 0, scatterExtents);
      expectMatchingCounts(pairwiseAllToAll, size, count, 0, allToAllExtents, {}, everyOtherRank);
      if (HasFatalFailure()) return;
    }
  }
}

// One huge allgatherv block beside empty ones: the ring cuts each block by its own size, so
// its steps follow the slices that exist (cut by the largest block, every empty block became
// as many empty messages, and the schedule outgrew its limit).
TEST(CollectivePatterns, RingAllgatherVCutsEachBlockByItsOwnSize) {
  const int size = 64;
  const size_t sliceElements = 262144, huge = size_t{5} << 28;  // 5120 slices
  std::vector<Range> blocks(size, Range{huge, 0});
  blocks[0] = {0, huge};
  for (int rank = 0; rank < size; ++rank) {
    ScheduleShape shape = shapeOf(rank, size, rank == 0 ? huge : 0, sliceElements);
    shape.blocks = blocks;
    Schedule schedule;
    ASSERT_NO_THROW(schedule = ringAllgatherV(shape)) << "rank " << rank;
    // At most: copy in, receive and pass on each of the 5120 slices, one message per empty
    // block and step.
    EXPECT_LE(schedule.steps.size(), 3 * 5120 + 4 * size) << "rank " << rank;
  }
}

// The log(n) algorithms of every collective but allreduce, 1..64 ranks, as above; and every
// step talks to a rank that the algorithm's peers function lists (the connections opened).
TEST(CollectivePatterns, LogarithmicAlgorithmsMatchForEveryCollectiveAndRankCount) {
  for (int size = 1; size <= 64; ++size) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{100}}) {
      for (int root : {0, size / 2, size - 1}) {
        expectMatchingCounts(binomialBroadcast, size, count, root, broadcastExtents, {},
                             binomialPeers);
        expectMatchingCounts(binomialReduce, size, count, root, rootedExtents, {}, binomialPeers);
      }
      expectMatchingCounts(bruckAllgather, size, count, 0, gatherExtents, {}, bruckPeers);
      expectMatchingCounts(bruckAllgatherV, size, count, 0, gatherExtents, {}, bruckPeers);
      for (bool touching : {false, true}) {
        expectMatchingCounts(bruckAllgatherV, size, count, 0, gatherExtents,
                             unevenBlocks(size, count, touching), bruckPeers);
      }
      expectMatchingCounts(recursiveHalvingReduceScatter, size, count, 0, scatterExtents, {},
                           recursiveHalvingPeers);
      expectMatchingCounts(bruckAllToAll, size, count, 0, allToAllExtents, {}, bruckPeers);
      if (HasFatalFailure()) return;
    }
  }
}

// The peers functions list no rank that no schedule talks to: every connection is used (a tree
// by the trees of some root).
TEST(CollectivePatterns, EveryListedPeerIsTalkedTo) {
  using Peers = std::vector<int> (*)(int, int);
  auto talked = [](Schedule (*build)(const ScheduleShape&), int rank, int size, int roots) {
    std::set<int> peers;
    for (int root = 0; root < roots; ++root) {
      ScheduleShape shape = shapeOf(rank, size, 1, 1);
      shape.root = root;
      shape.blocks = reversedBlocks(size, 1);
      for (const Step& step : build(shape).steps) {
        if (step.peer >= 0) peers.insert(step.peer);
      }
    }
    return std::vector<int>(peers.begin(), peers.end());
  };
  const struct {
    Schedule (*build)(const ScheduleShape&);
    Peers peers;
    bool rooted;
  } cases[] = {{binomialBroadcast, binomialPeers, true},
               {binomialReduce, binomialPeers, true},
               {bruckAllgather, bruckPeers, false},
               {recursiveHalvingReduceScatter, recursiveHalvingPeers, false},
               {bruckAllToAll, bruckPeers, false},
               {pairwiseAllToAll, everyOtherRank, false}};
  for (int size = 1; size <= 24; ++size) {
    for (int rank = 0; rank < size; ++rank) {
      for (const auto& c : cases) {
        EXPECT_EQ(talked(c.build, rank, size, c.rooted ? size : 1), c.peers(rank, size))
            << "rank " << rank << " of " << size;
      }
    }
  }
}

// The engine runs a schedule through its index: local steps apart, and per peer its sends and
// receives in schedule order, whatever the steps to other peers between them.
TEST(ScheduleIndex, SortsStepsByPeerInScheduleOrder) {
  Schedule schedule;
  auto add = [&](StepKind kind, int peer, size_t count) {
    Step step;
    step.kind = kind;
    step.peer = peer;
    step.input = {0, count};
    step.output = {0, count};
    return schedule.add(step);
  };
  const int32_t copy = add(StepKind::kCopy, -1, 8);
  const int32_t sendTo3 = add(StepKind::kSend, 3, 8);
  const int32_t reduceFrom1 = add(StepKind::kRecvReduce, 1, 8);
  const int32_t recvFrom3 = add(StepKind::kRecv, 3, 8);
  const int32_t wait = add(StepKind::kWait, -1, 0);
  const int32_t reduceFrom3 = add(StepKind::kRecvReduce, 3, 2);
  const int32_t sendTo1 = add(StepKind::kSend, 1, 8);
  const int32_t largestFrom3 = add(StepKind::kRecvReduce, 3, 5);
  const int32_t divide = add(StepKind::kDivide, -1, 8);
  const int32_t smallerFrom3 = add(StepKind::kRecvReduce, 3, 4);

  const ScheduleIndex index = indexSchedule(schedule);
  EXPECT_EQ(index.local, (std::vector<int32_t>{copy, wait, divide}));
  ASSERT_EQ(index.peers.size(), 2U);
  const PeerSteps& first = index.peers[0];  // rank 3 has the earliest step
  EXPECT_EQ(first.peer, 3);
  EXPECT_EQ(first.sends, (std::vector<int32_t>{sendTo3}));
  EXPECT_EQ(first.recvs,
            (std::vector<int32_t>{recvFrom3, reduceFrom3, largestFrom3, smallerFrom3}));
  EXPECT_EQ(first.recvReduces, 3U);
  EXPECT_EQ(first.largestRecvReduce, 5U);
  const PeerSteps& second = index.peers[1];
  EXPECT_EQ(second.peer, 1);
  EXPECT_EQ(second.sends, (std::vector<int32_t>{sendTo1}));
  EXPECT_EQ(second.recvs, (std::vector<int32_t>{reduceFrom1}));
  EXPECT_EQ(second.recvReduces, 1U);
  EXPECT_EQ(second.largestRecvReduce, 8U);
}

TEST(RingPattern, PeersAreTheNeighbours) {
  EXPECT_TRUE(ringPeers(0, 1).empty());
  EXPECT_EQ(ringPeers(0, 2), std::vector<int>({1}));
  EXPECT_EQ(ringPeers(0, 5), std::vector<int>({4, 1}));
  // Up to kMaxDirectRanks on one host, the direct allreduce talks to every other rank.
  EXPECT_EQ(connectionPeers(shapeOf(0, 8, 0, 1)), std::vector<int>({1, 2, 3, 4, 5, 6, 7}));
  // Beyond, the ring's, recursive doubling's (1, 2, 4, 8, 16) and the trees' and Bruck's
  // (+-1, +-2, +-4, ...): log(n) peers, not n - 1.
  EXPECT_EQ(connectionPeers(shapeOf(0, 32, 0, 1)),
            std::vector<int>({1, 2, 4, 8, 16, 24, 28, 30, 31}));
  // Across hosts the direct allreduce does not run, but the pairwise all-to-all does, up to
  // kMaxPairwiseAllToAllRanks: every other rank too; beyond, log(n) peers again (and 7,
  // the hierarchy's ring within rank 0's host).
  const auto hostsOf = [](int size, int perHost) {
    auto hostOf = std::make_shared<std::vector<int>>();
    for (int r = 0; r < size; ++r) hostOf->push_back(r / perHost);
    return hostOf;
  };
  EXPECT_FALSE(directSupports(shapeOf(0, 16, 0, 1, hostsOf(16, 8))));
  std::vector<int> everyOther(15);
  std::iota(everyOther.begin(), everyOther.end(), 1);
  EXPECT_EQ(connectionPeers(shapeOf(0, 16, 0, 1, hostsOf(16, 8))), everyOther);
  EXPECT_EQ(connectionPeers(shapeOf(0, 32, 0, 1, hostsOf(32, 8))),
            std::vector<int>({1, 2, 4, 7, 8, 16, 24, 28, 30, 31}));
}

// One rank's buffers, and what its output must hold afterwards.
struct RankData {
  std::vector<int64_t> input;
  std::vector<int64_t> output;
  std::vector<int64_t> expected;
};

// One rank left out of the first `rounds` rounds, and what to check once they are over.
struct Hold {
  int rank;
  int rounds;
  std::function<void()> check;
};

// Runs every rank's executor in turn on this thread until all finish (a deadlock shows as no
// end), then compares every output with what it must hold. With `hold`, one rank starts late.
void driveRoundRobin(const Algorithm& algorithm, const std::vector<ScheduleShape>& shapes,
                     std::vector<RankData>& data, ReduceOp op, const Hold* hold = nullptr) {
  const int size = static_cast<int>(shapes.size());
  auto fabric = std::make_shared<transport::inproc::InprocFabric>();
  transport::inproc::InprocTransport transport(fabric);
  MemoryStore store;
  std::vector<std::unique_ptr<Poller>> pollers;
  std::vector<ConnectionMap> connections(static_cast<size_t>(size));
  std::vector<ReusableBuffer> scratch(static_cast<size_t>(size));
  std::vector<ReusableBuffer> work(static_cast<size_t>(size));
  std::vector<Operation> operations(static_cast<size_t>(size));
  std::vector<std::unique_ptr<Execution>> executions;
  for (int r = 0; r < size; ++r) {
    pollers.push_back(std::make_unique<Poller>());
    ConnectRequest request;
    request.rank = r;
    request.size = size;
    request.peers = algorithm.peers(shapes[r]);
    connections[r] = transport.connect(request, store, *pollers.back());
    Operation& operation = operations[r];
    operation.kind = algorithm.collective;
    // In place (allreduce, broadcast, reduce): one buffer, which the caller filled with the
    // input.
    operation.input = shapes[r].inPlace ? data[r].output.data() : data[r].input.data();
    operation.output = data[r].output.data();
    operation.count = shapes[r].count;
    operation.type = DataType::kInt64;
    operation.op = op;
    operation.root = shapes[r].root;
    operation.algorithm = algorithm.id;
    operation.sequence = 1;
    if (algorithm.collective == CollectiveKind::kAllToAllV && !needsPairCounts(algorithm)) {
      // Each message carries its pair's count, as the communicator sets it.
      const std::vector<Range>& sent = shapes[r].inPlace ? shapes[r].blocks : shapes[r].sendBlocks;
      for (int p = 0; p < size; ++p) {
        operation.sendCounts.push_back(sent[p].count);
        operation.recvCounts.push_back(shapes[r].blocks[p].count);
      }
    }
    // What the engine runs: with each average's division fused where it can be.
    operation.schedule = std::make_shared<const Schedule>(buildSchedule(algorithm, shapes[r]));
    // As the communicator hands it over (an execution without one makes its own: EngineTcp).
    operation.index = std::make_shared<const ScheduleIndex>(indexSchedule(*operation.schedule));
    executions.push_back(
        std::make_unique<Execution>(operation, connections[r], scratch[r], work[r], size));
  }
  // The engine does not zero its scratch and work buffers: poisoned, a schedule that read a
  // range before writing it would end with wrong results.
  for (std::vector<ReusableBuffer>* buffers : {&scratch, &work}) {
    for (ReusableBuffer& buffer : *buffers) {
      if (buffer.bytes() > 0) std::memset(buffer.reserve(buffer.bytes()), 0xA5, buffer.bytes());
    }
  }
  for (int round = 0;; ++round) {
    if (hold != nullptr && round == hold->rounds) hold->check();
    bool allDone = true;
    for (int r = 0; r < size; ++r) {
      if (hold != nullptr && r == hold->rank && round < hold->rounds) {
        allDone = false;
        continue;
      }
      executions[r]->advance();
      allDone &= executions[r]->finished();
    }
    if (allDone) break;
    ASSERT_LT(round, 1000000) << "schedule deadlocked at " << size << " ranks";
  }
  for (int r = 0; r < size; ++r) {
    ASSERT_EQ(data[r].output, data[r].expected) << "rank " << r << " of " << size;
  }
}

// Rank r's input element i; their sum over all ranks is rankSum x (i % 13 + 1).
int64_t valueOf(int r, size_t i) {
  return static_cast<int64_t>(r + 1) * static_cast<int64_t>(i % 13 + 1);
}

// An allreduce, out of place and then in place (where a step that wrote a range before a send
// read it, or reduced into what it still had to send, ends with wrong results).
void runRoundRobin(const Algorithm& algorithm, int size, size_t count, size_t slice, ReduceOp op,
                   HostMap hostOf = nullptr) {
  const int64_t rankSum = static_cast<int64_t>(size) * (size + 1) / 2;
  for (bool inPlace : {false, true}) {
    std::vector<ScheduleShape> shapes;
    std::vector<RankData> data(static_cast<size_t>(size));
    for (int r = 0; r < size; ++r) {
      shapes.push_back(shapeOf(r, size, count, slice, hostOf));
      shapes.back().average = op == ReduceOp::kAvg;
      shapes.back().inPlace = inPlace;
      for (size_t i = 0; i < count; ++i) {
        data[r].input.push_back(valueOf(r, i));
        data[r].expected.push_back(rankSum * static_cast<int64_t>(i % 13 + 1) /
                                   (op == ReduceOp::kAvg ? size : 1));
      }
      data[r].output = inPlace ? data[r].input : std::vector<int64_t>(count, -1);
    }
    SCOPED_TRACE(inPlace ? "in place" : "out of place");
    driveRoundRobin(algorithm, shapes, data, op);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// Any collective but allreduce, out of place: each rank's buffers as NCCL sizes them, filled
// with valueOf, the output with -1 (what stays in the gaps between allgatherv blocks). In place
// only for all-to-all, whose buffers are alike.
void runCollectiveRoundRobin(const Algorithm& algorithm, int size, size_t count, size_t slice,
                             int root, ReduceOp op, bool inPlace = false) {
  using K = CollectiveKind;
  const int64_t divisor = op == ReduceOp::kAvg ? size : 1;
  const int64_t rankSum = static_cast<int64_t>(size) * (size + 1) / 2;
  const std::vector<Range> blocks = unevenBlocks(size, count, false);
  size_t blocksEnd = 0;
  for (const Range& block : blocks) blocksEnd = std::max(blocksEnd, block.end());
  const size_t n = static_cast<size_t>(size);
  std::vector<ScheduleShape> shapes;
  std::vector<RankData> data(n);
  for (int r = 0; r < size; ++r) {
    ScheduleShape shape = shapeOf(r, size, count, slice);
    shape.root = root;
    shape.average = op == ReduceOp::kAvg;
    shape.blocks = blocks;
    shape.inPlace = inPlace;
    shapes.push_back(shape);
    RankData& d = data[static_cast<size_t>(r)];
    auto fill = [&](size_t elements, size_t first) {
      for (size_t i = 0; i < elements; ++i) d.input.push_back(valueOf(r, first + i));
    };
    switch (algorithm.collective) {
      case K::kBroadcast:
        if (r == root) fill(count, 0);
        for (size_t i = 0; i < count; ++i) d.expected.push_back(valueOf(root, i));
        break;
      case K::kReduce:
        fill(count, 0);
        for (size_t i = 0; i < count && r == root; ++i) {
          d.expected.push_back(rankSum * static_cast<int64_t>(i % 13 + 1) / divisor);
        }
        break;
      case K::kAllgather:
        fill(count, 0);
        for (size_t i = 0; i < n * count; ++i) d.expected.push_back(valueOf(i / count, i % count));
        break;
      case K::kAllgatherV:
        fill(blocks[r].count, 0);
        d.expected.assign(blocksEnd, -1);
        for (int b = 0; b < size; ++b) {
          for (size_t i = 0; i < blocks[b].count; ++i)
            d.expected[blocks[b].offset + i] = valueOf(b, i);
        }
        break;
      case K::kReduceScatter:
        fill(n * count, 0);
        for (size_t i = 0; i < count; ++i) {
          const size_t at = static_cast<size_t>(r) * count + i;
          d.expected.push_back(rankSum * static_cast<int64_t>(at % 13 + 1) / divisor);
        }
        break;
      case K::kAllToAll:
        // Element j of rank r's input goes to rank j / count: rank s's block for r is
        // valueOf(s, r x count ...).
        fill(n * count, 0);
        for (size_t i = 0; i < n * count; ++i) {
          d.expected.push_back(valueOf(static_cast<int>(i / count), r * count + i % count));
        }
        break;
      default: FAIL() << "not a collective of this test";
    }
    if (inPlace) {
      ASSERT_EQ(algorithm.collective, K::kAllToAll) << "in place: all-to-all only here";
      d.output = d.input;
    } else {
      d.output.assign(d.expected.size(), -1);
    }
  }
  driveRoundRobin(algorithm, shapes, data, op);
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

// Counts below, at and above the rank count and the slice: empty blocks, one slice, many. The
// one-shot allreduce runs on one machine, up to kMaxDirectRanks ranks.
TEST(ScheduleExecution, TreeHalvingDoublingAndOneShotAreExactForEveryRankCount) {
  for (const auto& [name, largest] :
       {std::pair{"tree", 64}, std::pair{"halving_doubling", 64}, std::pair{"one_shot", 16}}) {
    const Algorithm& algorithm = allreduceNamed(name);
    for (int size = 1; size <= largest; ++size) {
      for (size_t count : {size_t{0}, size_t{1}, size_t(size) * 3 + 2}) {
        expectMatchingTraffic(algorithm.build, size, count, 2);
        runRoundRobin(algorithm, size, count, 2, ReduceOp::kSum);
      }
      runRoundRobin(algorithm, size, 100, 7, ReduceOp::kAvg);
      if (HasFatalFailure()) return;
    }
  }
}

// The operands of a one-shot allreduce's slice in the order its steps combine them, -1 for
// the rank's own input: a receive starts the partial result, a reduction appends its operand
// (or, reducing the input with a received one, both, in the step's order).
std::vector<int> operandOrder(const Schedule& schedule) {
  std::vector<int> order;
  for (const Step& step : schedule.steps) {
    if (step.kind == StepKind::kRecv) order.push_back(step.peer);
    if (step.kind == StepKind::kReduce) {
      EXPECT_EQ(step.source, BufferRole::kInput);
      order.push_back(-1);
    }
    if (step.kind != StepKind::kRecvReduce) continue;
    if (step.source == BufferRole::kInput) {
      order.push_back(step.receivedFirst ? step.peer : -1);
      order.push_back(step.receivedFirst ? -1 : step.peer);
    } else {
      EXPECT_FALSE(step.receivedFirst);
      order.push_back(step.peer);
    }
  }
  return order;
}

// Every rank combines the n inputs in rank order, its own in its place: the same bits on every
// rank whatever the values (float sums are not associative).
TEST(OneShot, EveryRankCombinesTheInputsInRankOrder) {
  for (int size = 2; size <= 16; ++size) {
    for (bool inPlace : {false, true}) {
      for (int rank = 0; rank < size; ++rank) {
        ScheduleShape shape = shapeOf(rank, size, 10, 10);
        shape.inPlace = inPlace;
        std::vector<int> expected;
        for (int r = 0; r < size; ++r) expected.push_back(r == rank ? -1 : r);
        const Schedule schedule = buildSchedule(allreduceNamed("one_shot"), shape);
        ASSERT_NO_THROW(checkSchedule(schedule, rank, size, 10, 10)) << describeSchedule(schedule);
        EXPECT_EQ(operandOrder(schedule), expected)
            << "rank " << rank << " of " << size << (inPlace ? " in place" : "");
      }
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

// Every algorithm of every collective but allreduce, 1..64 ranks, several slices per message,
// roots at either end: runs to the end on one thread (no deadlock) with exact results.
TEST(ScheduleExecution, EveryCollectiveIsExactForEveryRankCountUpTo64) {
  for (const Algorithm& algorithm : algorithms()) {
    const CollectiveKind kind = algorithm.collective;
    if (kind == CollectiveKind::kAllreduce || kind == CollectiveKind::kBarrier) continue;
    if (kind == CollectiveKind::kAllToAllV) continue;  // its blocks: AllToAllV.* below
    const bool reduces = kind == CollectiveKind::kReduce || kind == CollectiveKind::kReduceScatter;
    for (int size = 1; size <= 64; ++size) {
      const size_t count = static_cast<size_t>(size % 5) * 3 + 2;
      for (int root : {0, size - 1}) {
        if (root > 0 && !isRooted(kind)) break;
        for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg}) {
          if (op == ReduceOp::kAvg && !reduces) continue;
          runCollectiveRoundRobin(algorithm, size, count, 2, root, op);
          if (HasFatalFailure()) {
            FAIL() << algorithm.name << " " << collectiveName(kind) << " at " << size
                   << " ranks, root " << root;
          }
        }
      }
    }
  }
}

// All-to-all in place: a receive lands where a block still to be sent lies, unless the schedule
// sends from a copy (a schedule that did not ends with wrong blocks).
TEST(ScheduleExecution, AllToAllIsExactInPlace) {
  for (const Algorithm& algorithm : algorithms()) {
    if (algorithm.collective != CollectiveKind::kAllToAll) continue;
    for (int size = 1; size <= 20; ++size) {
      for (size_t count : {size_t{1}, size_t{5}}) {
        runCollectiveRoundRobin(algorithm, size, count, 2, 0, ReduceOp::kSum, true);
        if (HasFatalFailure()) {
          FAIL() << algorithm.name << " at " << size << " ranks, count " << count;
        }
      }
    }
  }
}

// The buffer ranges a step reads and writes. (A reduction also reads what it writes: as a
// write it conflicts with every other access anyway.)
struct Access {
  BufferRole buffer;
  Range range;
  bool writes;
};

std::vector<Access> accessesOf(const Step& step, bool inputIsOutput) {
  const auto role = [&](BufferRole buffer) {
    return inputIsOutput && buffer == BufferRole::kInput ? BufferRole::kOutput : buffer;
  };
  std::vector<Access> accesses;
  switch (step.kind) {
    case StepKind::kSend: accesses.push_back({role(step.source), step.input, false}); break;
    case StepKind::kRecv:
    case StepKind::kDivide: accesses.push_back({role(step.target), step.output, true}); break;
    case StepKind::kRecvReduce:
    case StepKind::kCopy:
    case StepKind::kReduce:
      accesses.push_back({role(step.source), step.input, false});
      accesses.push_back({role(step.target), step.output, true});
      break;
    case StepKind::kWait: break;
  }
  return accesses;
}

// Two steps that touch overlapping elements of one buffer, one of them writing, must be
// ordered: the later (dependencies point backwards) starts only once the earlier has
// completed, through its dependencies. A peer's sends complete in order, as do its receives,
// so one completed covers the peer's earlier ones in that direction. The executor of
// driveRoundRobin runs steps in one fixed order, which can hide a missing dependency; this
// cannot. `inputIsOutput`: in place, the input is the output at the same offsets.
void expectNoRaces(const Schedule& schedule, bool inputIsOutput, const std::string& what) {
  const size_t count = schedule.steps.size();
  // done[x][k]: step k has completed whenever step x has.
  std::vector<std::vector<bool>> done(count, std::vector<bool>(count));
  std::map<std::pair<int, bool>, int32_t> lastOfPeer;  // (peer, sends?) -> latest step
  const auto include = [&](std::vector<bool>& into, int32_t x) {
    if (x == kNoStep) return;
    for (size_t k = 0; k < count; ++k) into[k] = into[k] || done[x][k];
  };
  std::vector<std::vector<bool>> startsAfter(count, std::vector<bool>(count));
  for (size_t y = 0; y < count; ++y) {
    const Step& step = schedule.steps[y];
    for (int32_t x : step.after) include(startsAfter[y], x);
    done[y] = startsAfter[y];
    done[y][y] = true;
    if (step.peer >= 0) {
      int32_t& last = lastOfPeer[{step.peer, step.kind == StepKind::kSend}];
      if (last != kNoStep) include(done[y], last);
      last = static_cast<int32_t>(y);
    }
  }
  std::vector<std::vector<Access>> accesses;
  for (const Step& step : schedule.steps) accesses.push_back(accessesOf(step, inputIsOutput));
  for (size_t y = 0; y < count; ++y) {
    for (size_t x = 0; x < y; ++x) {
      if (startsAfter[y][x]) continue;
      for (const Access& a : accesses[x]) {
        for (const Access& b : accesses[y]) {
          const bool overlap = a.buffer == b.buffer && a.range.count > 0 && b.range.count > 0 &&
                               a.range.offset < b.range.end() && b.range.offset < a.range.end();
          ASSERT_FALSE(overlap && (a.writes || b.writes))
              << what << ": step " << y << " may run before step " << x
              << " completes, and they touch the same elements\n"
              << describeSchedule(schedule);
        }
      }
    }
  }
}

// Every all-to-all schedule, in place and out, orders every two steps that touch the same
// elements.
TEST(AllToAll, NoTwoStepsRaceOnAnyBuffer) {
  for (const Algorithm& algorithm : algorithms()) {
    if (algorithm.collective != CollectiveKind::kAllToAll) continue;
    for (int size = 1; size <= 20; ++size) {
      for (bool inPlace : {false, true}) {
        for (int rank = 0; rank < size; ++rank) {
          ScheduleShape shape = shapeOf(rank, size, 3, 2);
          shape.inPlace = inPlace;
          if (!algorithm.supports(shape)) continue;
          expectNoRaces(buildSchedule(algorithm, shape), inPlace,
                        std::string(algorithm.name) + " rank " + std::to_string(rank) + " of " +
                            std::to_string(size));
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

// Rank s's block for r of an alltoallv: empty for some pairs. In place symmetric (each rank
// receives as much from a rank as it sends it), out of place not.
size_t pairCount(size_t count, int s, int r, bool inPlace) {
  const int weight = inPlace ? s + r + 1 : 2 * s + r + 1;
  return count * static_cast<size_t>(weight) % (count + 3);
}

std::vector<const Algorithm*> allToAllVAlgorithms() {
  std::vector<const Algorithm*> found;
  for (const Algorithm& algorithm : algorithms()) {
    if (algorithm.collective == CollectiveKind::kAllToAllV) found.push_back(&algorithm);
  }
  return found;
}

// Alltoallv: rank s's block for r is valueOf(s, r x 1000 + i). The receive blocks lie in
// reverse rank order with a gap of 2 before each (filled with -1, which must stay), an empty
// one's displacement past the buffer; out of place the send blocks lie in rank order, touching.
void runAllToAllVRoundRobin(const Algorithm& algorithm, int size, size_t count, size_t slice,
                            bool inPlace) {
  const auto pairCounts = std::make_shared<std::vector<size_t>>();
  for (int s = 0; s < size; ++s) {
    for (int d = 0; d < size; ++d) pairCounts->push_back(pairCount(count, s, d, inPlace));
  }
  std::vector<ScheduleShape> shapes;
  std::vector<RankData> data(static_cast<size_t>(size));
  for (int r = 0; r < size; ++r) {
    ScheduleShape shape = shapeOf(r, size, 0, slice);
    shape.inPlace = inPlace;
    shape.pairCounts = pairCounts;
    shape.blocks.resize(static_cast<size_t>(size));
    size_t end = 0;
    for (int p = size - 1; p >= 0; --p) {
      const size_t length = pairCount(count, p, r, inPlace);
      shape.blocks[p] = {length == 0 ? end + 1000 : end + 2, length};
      if (length > 0) end = shape.blocks[p].end();
    }
    RankData& d = data[static_cast<size_t>(r)];
    d.expected.assign(end, -1);
    for (int p = 0; p < size; ++p) {
      for (size_t i = 0; i < shape.blocks[p].count; ++i) {
        d.expected[shape.blocks[p].offset + i] = valueOf(p, static_cast<size_t>(r) * 1000 + i);
      }
    }
    if (inPlace) {
      d.output.assign(end, -1);
      for (int p = 0; p < size; ++p) {
        for (size_t i = 0; i < shape.blocks[p].count; ++i) {
          d.output[shape.blocks[p].offset + i] = valueOf(r, static_cast<size_t>(p) * 1000 + i);
        }
      }
    } else {
      for (int p = 0; p < size; ++p) {
        const size_t length = pairCount(count, r, p, inPlace);
        shape.sendBlocks.push_back({d.input.size(), length});
        for (size_t i = 0; i < length; ++i) {
          d.input.push_back(valueOf(r, static_cast<size_t>(p) * 1000 + i));
        }
      }
      d.output.assign(end, -1);
    }
    // As the communicator checks it: in place the input is no buffer of its own.
    const Schedule schedule = buildSchedule(algorithm, shape);
    ASSERT_NO_THROW(checkSchedule(schedule, r, size, d.input.size(), end))
        << algorithm.name << " rank " << r << " of " << size;
    if (size <= 20) {
      expectNoRaces(schedule, false, strCat(algorithm.name, " rank ", r, " of ", size));
      if (testing::Test::HasFatalFailure()) return;
    }
    shapes.push_back(shape);
  }
  driveRoundRobin(algorithm, shapes, data, ReduceOp::kSum);
}

// Every alltoallv algorithm; Bruck's, which also runs across hosts, up to 64 ranks.
TEST(AllToAllV, ExactForEveryRankCountInAndOutOfPlace) {
  ASSERT_EQ(allToAllVAlgorithms().size(), 2u);
  for (const Algorithm* algorithm : allToAllVAlgorithms()) {
    const int most = needsPairCounts(*algorithm) ? 64 : 20;
    for (int size = 1; size <= most; ++size) {
      for (size_t count : {size_t{0}, size_t{1}, size_t{5}}) {
        for (bool inPlace : {false, true}) {
          runAllToAllVRoundRobin(*algorithm, size, count, 2, inPlace);
          if (HasFatalFailure()) {
            FAIL() << algorithm->name << " at " << size << " ranks, count " << count
                   << (inPlace ? ", in place" : "");
          }
        }
      }
    }
  }
}

// Bruck's alltoallv sends one message per round, like Bruck's all-to-all, whatever the blocks
// (an empty message where a round carries nothing, for the receiver expects one); the most any
// rank sends is what the communicator bounds before building it.
TEST(AllToAllV, BruckSendsOneMessagePerRound) {
  for (int size : {2, 3, 7, 8, 13}) {
    const auto counts = std::make_shared<std::vector<size_t>>();
    for (int s = 0; s < size; ++s) {
      for (int d = 0; d < size; ++d) counts->push_back(pairCount(4, s, d, false));
    }
    std::vector<size_t> sentBy;
    for (int rank = 0; rank < size; ++rank) {
      ScheduleShape shape = shapeOf(rank, size, 0, 1000);
      shape.pairCounts = counts;
      size_t out = 0, in = 0;
      for (int p = 0; p < size; ++p) {
        shape.blocks.push_back({out, (*counts)[p * size + rank]});
        shape.sendBlocks.push_back({in, (*counts)[rank * size + p]});
        out += shape.blocks.back().count;
        in += shape.sendBlocks.back().count;
      }
      const Schedule schedule = bruckAllToAllV(shape);
      std::map<int, int> sendsTo;
      size_t sent = 0;
      for (const Step& step : schedule.steps) {
        if (step.kind != StepKind::kSend) continue;
        ++sendsTo[step.peer];
        sent += step.count();
      }
      sentBy.push_back(sent);
      const int rounds = std::bit_width(static_cast<unsigned>(size - 1));
      EXPECT_EQ(static_cast<int>(sendsTo.size()), rounds) << "rank " << rank << " of " << size;
      for (const auto& [peer, sends] : sendsTo) EXPECT_EQ(sends, 1) << "to " << peer;
    }
    const BusiestRelay busiest = bruckAllToAllVBusiest(*counts, size);
    EXPECT_EQ(busiest.elements, *std::max_element(sentBy.begin(), sentBy.end())) << size;
    EXPECT_EQ(sentBy[static_cast<size_t>(busiest.rank)], busiest.elements) << size << " ranks";
  }
  // Counts another rank sent may be anything its buffers hold: the sum saturates.
  const size_t half = SIZE_MAX / 2 + 1;  // rank 0 sends two of these, in two rounds
  const std::vector<size_t> huge = {0, half, half, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(bruckAllToAllVBusiest(huge, 3).elements, SIZE_MAX);
}

// One pair's block and nothing else: most of Bruck's rounds then move nothing on most ranks,
// and a round that packs and unpacks nothing must still keep the rounds around it in order
// (the block unpacked into a slot before it is packed again after it).
TEST(AllToAllV, BruckOrdersItsRoundsWhereMostAreEmpty) {
  for (int size = 2; size <= 12; ++size) {
    for (int from = 0; from < size; ++from) {
      for (int to = 0; to < size; ++to) {
        const auto counts = std::make_shared<std::vector<size_t>>(size * size);
        (*counts)[static_cast<size_t>(from * size + to)] = 3;
        for (int rank = 0; rank < size; ++rank) {
          ScheduleShape shape = shapeOf(rank, size, 0, 2);
          shape.pairCounts = counts;
          for (int p = 0; p < size; ++p) {
            shape.blocks.push_back({0, (*counts)[static_cast<size_t>(p * size + rank)]});
            shape.sendBlocks.push_back({0, (*counts)[static_cast<size_t>(rank * size + p)]});
          }
          expectNoRaces(bruckAllToAllV(shape), false,
                        strCat("rank ", rank, " of ", size, ", ", from, " sends ", to));
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

// The communicator's bound (half the slices a collective may cut, for the busiest rank's
// sends) keeps every rank's schedule within kMaxScheduleSteps, also where all blocks converge
// on one rank, which receives log2(n) rounds' worth: 1024 ranks sending rank 0 as much as the
// bound lets through, one element per slice.
TEST(AllToAllV, BruckAtTheSliceBoundStaysWithinTheScheduleLimit) {
  constexpr int kSize = kMaxBruckAllToAllVRanks;
  std::vector<size_t> counts(static_cast<size_t>(kSize) * kSize);
  for (int s = 1; s < kSize; ++s) counts[static_cast<size_t>(s) * kSize] = 1;
  const size_t bound = maxSlicesPerCollective(kSize) / 2;
  const size_t each = bound / bruckAllToAllVBusiest(counts, kSize).elements;
  for (int s = 1; s < kSize; ++s) counts[static_cast<size_t>(s) * kSize] = each;
  ASSERT_LE(bruckAllToAllVBusiest(counts, kSize).elements, bound);
  const auto shared = std::make_shared<const std::vector<size_t>>(counts);
  for (int rank : {0, 1, kSize / 2, kSize - 1}) {
    ScheduleShape shape = shapeOf(rank, kSize, 0, 1);
    shape.pairCounts = shared;
    size_t received = 0;
    for (int p = 0; p < kSize; ++p) {
      shape.blocks.push_back({received, counts[static_cast<size_t>(p) * kSize + rank]});
      received += shape.blocks.back().count;
      shape.sendBlocks.push_back({0, counts[static_cast<size_t>(rank) * kSize + p]});
    }
    Schedule schedule;
    ASSERT_NO_THROW(schedule = bruckAllToAllV(shape)) << "rank " << rank;
    EXPECT_LE(schedule.steps.size(), kMaxScheduleSteps) << "rank " << rank;
  }
}

// Without every pair's count, or with counts that contradict the rank's own blocks, Bruck's
// alltoallv is not built (the communicator always gathers them first: an internal error).
TEST(AllToAllV, BruckRefusesMissingOrContradictingPairCounts) {
  ScheduleShape shape = shapeOf(0, 2, 0, 4);
  shape.blocks = {{0, 1}, {1, 2}};
  shape.sendBlocks = {{0, 1}, {1, 3}};
  EXPECT_THROW(bruckAllToAllV(shape), Error);
  shape.pairCounts = std::make_shared<std::vector<size_t>>(std::vector<size_t>{1, 3, 2, 5});
  EXPECT_NO_THROW(bruckAllToAllV(shape));
  shape.pairCounts = std::make_shared<std::vector<size_t>>(std::vector<size_t>{1, 3, 4, 5});
  EXPECT_THROW(bruckAllToAllV(shape), Error);
}

// Every pair exchanges a message, an empty one where nothing moves, which carries the pair's
// count (zero) for the receiver to compare with its own; every slice is matched in order.
TEST(AllToAllV, EveryPairExchangesAtLeastOneMessage) {
  for (int size = 1; size <= 16; ++size) {
    std::vector<Range> none(static_cast<size_t>(size));
    for (int rank = 0; rank < size; ++rank) {
      ScheduleShape shape = shapeOf(rank, size, 0, 4);
      shape.blocks = none;
      shape.sendBlocks = none;
      const Schedule schedule = pairwiseAllToAllV(shape);
      std::map<int, int> sends, recvs;
      for (const Step& step : schedule.steps) {
        if (step.kind == StepKind::kSend) ++sends[step.peer];
        if (step.kind == StepKind::kRecv) ++recvs[step.peer];
        EXPECT_EQ(step.count(), 0u);
      }
      EXPECT_EQ(static_cast<int>(sends.size()), size - 1);
      EXPECT_EQ(static_cast<int>(recvs.size()), size - 1);
      for (const auto& [peer, messages] : sends) EXPECT_EQ(messages, 1) << "to " << peer;
      for (const auto& [peer, messages] : recvs) EXPECT_EQ(messages, 1) << "from " << peer;
    }
  }
}

// Bruck's all-to-all sends one message per round to one peer (its point: log2(n) messages
// where the pairwise exchange sends n - 1), however many runs of slots the round moves.
TEST(AllToAll, BruckSendsOneMessagePerRound) {
  for (int size = 1; size <= 64; ++size) {
    for (int rank : {0, size - 1}) {
      const Schedule schedule = bruckAllToAll(shapeOf(rank, size, 3, 1000));
      std::map<int, int> sendsTo;
      for (const Step& step : schedule.steps) {
        if (step.kind == StepKind::kSend) ++sendsTo[step.peer];
      }
      const int rounds = size > 1 ? std::bit_width(static_cast<unsigned>(size - 1)) : 0;
      EXPECT_EQ(static_cast<int>(sendsTo.size()), rounds) << "rank " << rank << " of " << size;
      for (const auto& [peer, sends] : sendsTo) {
        EXPECT_EQ(sends, 1) << "rank " << rank << " of " << size << " to " << peer;
      }
    }
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
  EXPECT_EQ(select("auto", 4, 64), AlgorithmId::kOneShot);
  EXPECT_EQ(select("auto", 32, 64), AlgorithmId::kRecursiveDoubling);
  EXPECT_EQ(select("one_shot", 16, 1 << 20), AlgorithmId::kOneShot);
  EXPECT_NE(select("one_shot", 16, (1 << 20) + 1), AlgorithmId::kOneShot);
  EXPECT_NE(select("one_shot", 17, 64), AlgorithmId::kOneShot);
  EXPECT_NE(select("recursive_doubling", 3, 64), AlgorithmId::kRecursiveDoubling);
  EXPECT_NE(select("recursive_doubling", 4, 64 << 20), AlgorithmId::kRecursiveDoubling);
  EXPECT_EQ(select("ring", 4, 64), AlgorithmId::kRing);
  EXPECT_EQ(select("tree", 5, 64 << 20), AlgorithmId::kTree);
  EXPECT_EQ(select("halving_doubling", 6, 64), AlgorithmId::kHalvingDoubling);
  EXPECT_THROW(select("bogus", 4, 64), Error);
  EXPECT_EQ(algorithmName(AlgorithmId::kRecursiveDoubling), "recursive_doubling");
}

// GCCL_ALGO names an algorithm of any collective: each log(n) one is taken where it exists,
// at any rank count and size (they slice); the other collectives take their automatic choice.
TEST(Selection, LogarithmicAlgorithmsAreTakenWhereTheyExist) {
  using K = CollectiveKind;
  for (int size : {3, 4}) {
    const ScheduleShape shape = shapeOf(0, size, 0, 1);
    for (size_t bytes : {size_t{64}, size_t{64} << 20}) {
      CostInputs costs = costInputsOf(shape, 1 << 20, CostFigures{});
      costs.bytes = bytes;
      EXPECT_EQ(selectAlgorithm(K::kBroadcast, "tree", shape, costs).id, AlgorithmId::kTree);
      EXPECT_EQ(selectAlgorithm(K::kReduce, "tree", shape, costs).id, AlgorithmId::kTree);
      EXPECT_EQ(selectAlgorithm(K::kAllgather, "recursive_doubling", shape, costs).id,
                AlgorithmId::kRecursiveDoubling);
      EXPECT_EQ(selectAlgorithm(K::kAllgatherV, "recursive_doubling", shape, costs).id,
                AlgorithmId::kRecursiveDoubling);
      EXPECT_EQ(selectAlgorithm(K::kReduceScatter, "halving_doubling", shape, costs).id,
                AlgorithmId::kHalvingDoubling);
      EXPECT_EQ(selectAlgorithm(K::kAllToAll, "recursive_doubling", shape, costs).id,
                AlgorithmId::kRecursiveDoubling);
      EXPECT_EQ(selectAlgorithm(K::kAllToAll, "direct", shape, costs).id, AlgorithmId::kDirect);
      EXPECT_EQ(selectAlgorithm(K::kAllgather, "tree", shape, costs).id,
                selectAlgorithm(K::kAllgather, "auto", shape, costs).id);
      EXPECT_EQ(selectAlgorithm(K::kBroadcast, "halving_doubling", shape, costs).id,
                selectAlgorithm(K::kBroadcast, "auto", shape, costs).id);
    }
  }
  EXPECT_EQ(algorithmName(AlgorithmId::kTree), "tree");
  EXPECT_EQ(algorithmName(AlgorithmId::kHalvingDoubling), "halving_doubling");
}

// All-to-all has no ring: every name but its own two, and "auto", takes its automatic choice;
// the pairwise exchange needs a connection to every rank, which init opens up to
// kMaxPairwiseAllToAllRanks ranks on any hosts: beyond, Bruck's runs, forced or not.
TEST(Selection, AllToAllRunsBruckWhereNotEveryPairIsConnected) {
  using K = CollectiveKind;
  const auto select = [](std::string_view name, int size, size_t bytes, HostMap hostOf) {
    const ScheduleShape shape = shapeOf(0, size, 0, 1, std::move(hostOf));
    CostInputs costs = costInputsOf(shape, 1 << 20, CostFigures{});
    costs.bytes = bytes;
    return selectAlgorithm(K::kAllToAll, name, shape, costs).id;
  };
  auto twoHosts = std::make_shared<const std::vector<int>>(std::vector<int>{0, 0, 1, 1});
  for (size_t bytes : {size_t{64}, size_t{64} << 20}) {
    EXPECT_EQ(select("ring", 4, bytes, nullptr), select("auto", 4, bytes, nullptr));
    EXPECT_EQ(select("direct", 32, bytes, nullptr), AlgorithmId::kRecursiveDoubling);
    EXPECT_EQ(select("auto", 32, bytes, nullptr), AlgorithmId::kRecursiveDoubling);
    EXPECT_EQ(select("direct", 4, bytes, twoHosts), AlgorithmId::kDirect);
    EXPECT_EQ(select("recursive_doubling", 4, bytes, twoHosts), AlgorithmId::kRecursiveDoubling);
  }
  // Large blocks go straight to their rank, on one host and across hosts.
  EXPECT_EQ(select("auto", 8, size_t{64} << 20, nullptr), AlgorithmId::kDirect);
  EXPECT_EQ(select("auto", 4, size_t{64} << 20, twoHosts), AlgorithmId::kDirect);
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
  Step shiftedReduce;
  shiftedReduce.kind = StepKind::kReduce;
  shiftedReduce.source = BufferRole::kOutput;
  shiftedReduce.input = {0, 6};
  shiftedReduce.output = {3, 6};
  refused(shiftedReduce, "partly overlaps");
  Step unevenReduce = shiftedReduce;
  unevenReduce.source = BufferRole::kInput;
  unevenReduce.input = {0, 5};
  refused(unevenReduce, "different element counts");
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
  Step dividingCopy;  // a local copy
  dividingCopy.input = {0, 1};
  dividingCopy.output = {0, 1};
  dividingCopy.divides = true;
  refused(dividingCopy, "reduces nothing");
  Step writingCopy = dividingCopy;
  writingCopy.divides = false;
  writingCopy.writeBack = true;
  refused(writingCopy, "neither sends nor reduces");
  // A message that a write-back stands in for names one of its own range with its own peer,
  // in the other direction (step 0 here is a local copy: none).
  Step delivered;
  delivered.kind = StepKind::kRecv;
  delivered.peer = 0;
  delivered.output = {0, 1};
  delivered.deliveredBy = 0;
  refused(delivered, "no write-back of its range with its peer");
  delivered.deliveredBy = 1;
  refused(delivered, "not an earlier step");
  // A send offering write-back names its own range of the output for the result: in place
  // another range would be overwritten before the peer reads it.
  Step offering = send;
  offering.input = {0, 1};
  offering.writeBack = true;
  offering.target = BufferRole::kOutput;
  offering.output = {9, 1};
  refused(offering, "offers another range than its own");
  offering.output = {0, 2};
  refused(offering, "offers another range than its own");
  offering.target = BufferRole::kInput;
  offering.output = {0, 1};
  refused(offering, "offers another buffer than the output");
  offering.target = BufferRole::kWork;
  refused(offering, "offers another buffer than the output");
  Step pastTheOutput = send;
  pastTheOutput.input = {0, 10};
  pastTheOutput.writeBack = true;
  pastTheOutput.output = {0, 10};
  {
    Schedule schedule;
    schedule.add(pastTheOutput);
    EXPECT_NO_THROW(checkSchedule(schedule, 1, 4, 10, 10));
    EXPECT_THROW(checkSchedule(schedule, 1, 4, 10, 9), Error);
  }
  {
    // A receive must wait for the send it stands on: only a done send says what it offered.
    Schedule schedule;
    Step offer = send;
    offer.peer = 0;
    offer.input = {0, 1};
    offer.writeBack = true;
    offer.target = BufferRole::kOutput;
    offer.output = {0, 1};
    schedule.add(offer);
    Step landing = delivered;
    landing.deliveredBy = 0;
    schedule.add(landing);
    EXPECT_THROW(checkSchedule(schedule, 1, 4, 10, 10), Error);
    schedule.steps[1].after = {0, kNoStep};
    EXPECT_NO_THROW(checkSchedule(schedule, 1, 4, 10, 10));
    // It lands where the send offered the result to go.
    schedule.steps[1].output = {5, 1};
    EXPECT_THROW(checkSchedule(schedule, 1, 4, 10, 10), Error);
  }
  Step deliveredCopy = dividingCopy;
  deliveredCopy.divides = false;
  deliveredCopy.deliveredBy = 0;
  refused(deliveredCopy, "neither sends nor receives");
}

// In and out of place, the direct allreduce offers every part it sends for write-back, with
// the same range of the output for the result, and writes back every reduction; each message
// of round 2 names the write-back that makes it a notice: the same peer, the same range, the
// other direction.
TEST(WriteBack, TheDirectAllreducePairsEachResultWithItsWriteBack) {
  for (int size : {2, 3, 4, 7}) {
    for (bool inPlace : {false, true}) {
      for (int rank = 0; rank < size; ++rank) {
        ScheduleShape shape = shapeOf(rank, size, 1000, 64);
        shape.average = true;
        shape.inPlace = inPlace;
        const Schedule schedule = buildSchedule(allreduceNamed("direct"), shape);
        ASSERT_NO_THROW(checkSchedule(schedule, rank, size, 1000, 1000));
        size_t writeBacks = 0, delivered = 0;
        for (size_t i = 0; i < schedule.steps.size(); ++i) {
          const Step& step = schedule.steps[i];
          writeBacks += step.writeBack ? 1 : 0;
          if (step.kind == StepKind::kRecvReduce ||
              (step.kind == StepKind::kSend && step.source == BufferRole::kInput)) {
            EXPECT_TRUE(step.writeBack) << describeSchedule(schedule);
          }
          if (step.kind == StepKind::kSend && step.writeBack) {
            // The result of a part goes where the sender wants that range of the result.
            EXPECT_EQ(step.target, BufferRole::kOutput);
            EXPECT_EQ(step.output.offset, step.input.offset);
            EXPECT_EQ(step.output.count, step.input.count);
          }
          if (step.kind == StepKind::kRecv ||
              (step.kind == StepKind::kSend && step.source == BufferRole::kOutput)) {
            EXPECT_NE(step.deliveredBy, kNoStep) << i << "\n" << describeSchedule(schedule);
          }
          if (step.deliveredBy == kNoStep) continue;
          ++delivered;
          const Step& by = schedule.steps[static_cast<size_t>(step.deliveredBy)];
          EXPECT_EQ(by.peer, step.peer);
          EXPECT_TRUE(by.writeBack);
          if (step.kind == StepKind::kSend) {
            // The result goes to the rank it was written back to, once the reduction is done.
            EXPECT_EQ(by.kind, StepKind::kRecvReduce);
            EXPECT_EQ(by.output.offset, step.input.offset);
            EXPECT_EQ(by.output.count, step.input.count);
          } else {
            // What this rank receives lands where its own part offered the result to go.
            EXPECT_EQ(by.kind, StepKind::kSend);
            EXPECT_EQ(by.target, step.target);
            EXPECT_EQ(by.output.offset, step.output.offset);
            EXPECT_EQ(by.output.count, step.output.count);
            EXPECT_EQ(step.after[0], step.deliveredBy);
          }
        }
        // Every round-2 message pairs with one write-back of round 1.
        EXPECT_EQ(delivered, writeBacks) << size << " ranks, rank " << rank;
      }
    }
  }
}

TEST(Scratch, GrowsOnDemandAndShrinksBackOnceLargeExchangesStop) {
  constexpr size_t kKeep = 1 << 20, kLarge = size_t{16} << 20;
  ReusableBuffer scratch;
  scratch.reserve(4096);
  EXPECT_EQ(scratch.bytes(), 4096u);
  scratch.trim(kKeep);  // within what the communicator keeps: stays for the next operation
  EXPECT_EQ(scratch.bytes(), 4096u);
  // Whole-buffer exchanges in a row reuse one buffer: the same memory, never freed between.
  std::byte* const first = scratch.reserve(kLarge);
  EXPECT_EQ(scratch.bytes(), kLarge);
  for (int operation = 0; operation < 3 * ReusableBuffer::kIdleOperationsBeforeFree; ++operation) {
    scratch.trim(kKeep);
    ASSERT_EQ(scratch.bytes(), kLarge) << "freed while in use, after operation " << operation;
    ASSERT_EQ(scratch.reserve(kLarge), first);
  }
  // Small operations after them: freed after the kIdleOperationsBeforeFree-th in a row.
  for (int operation = 1; operation <= ReusableBuffer::kIdleOperationsBeforeFree; ++operation) {
    scratch.reserve(4096);
    scratch.trim(kKeep);
    EXPECT_EQ(scratch.bytes(), operation < ReusableBuffer::kIdleOperationsBeforeFree ? kLarge : 0)
        << "after " << operation << " small operations";
  }
  // A large operation among small ones starts the count again.
  scratch.reserve(kLarge);
  scratch.trim(kKeep);
  for (int operation = 1; operation < ReusableBuffer::kIdleOperationsBeforeFree; ++operation) {
    scratch.reserve(4096);
    scratch.trim(kKeep);
  }
  scratch.reserve(kLarge);
  scratch.trim(kKeep);
  scratch.reserve(4096);
  scratch.trim(kKeep);
  EXPECT_EQ(scratch.bytes(), kLarge) << "the count of idle operations was not reset";
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

// Alltoallv's send blocks may overlap: the slice limit counts what goes out, not what the input
// spans (15 blocks over the same half-limit range would build 7.5x the steps the limit allows,
// and only this rank would fail, after taking a sequence number). An empty block's
// displacement is not read.
TEST(ScheduleCheck, AllToAllVCountsEveryBlockSentAgainstTheSliceLimit) {
  const int size = 16;
  const size_t chunkBytes = 64;  // 16 float32 per slice
  const size_t perBlock = maxSlicesPerCollective(size) * 16 / 2;
  CollectiveCall call;
  call.kind = CollectiveKind::kAllToAllV;
  call.input = reinterpret_cast<void*>(uintptr_t{1} << 40);
  call.output = reinterpret_cast<void*>(uintptr_t{1} << 41);
  for (int p = 0; p < size; ++p) {
    call.sendBlocks.push_back({0, p == 0 ? 1 : perBlock});  // its own block: as it receives
    call.blocks.push_back({static_cast<size_t>(p), 1});
  }
  try {
    checkCall(call, 0, size, chunkBytes);
    ADD_FAILURE() << "15 overlapping blocks of half the limit each were accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("GCCL_CHUNK_BYTES=64"), std::string::npos) << e.what();
  }
  call.sendBlocks.assign(static_cast<size_t>(size), {SIZE_MAX, 0});  // empty, displacement unset
  call.sendBlocks[0] = {0, 1};
  call.blocks[1] = {SIZE_MAX, 0};
  EXPECT_EQ(checkCall(call, 0, size, chunkBytes).movedCount, 1u);
}

// At the slice limit of the call check, every rank's schedule stays within kMaxScheduleSteps,
// the busiest ones included (a binomial root sends every slice to log2(n) children, Bruck
// forwards a large block in every round): a limit some ranks met and others did not would
// fail those at once and leave the rest to time out.
TEST(ScheduleCheck, EveryRanksScheduleFitsAtTheSliceLimit) {
  const size_t sliceElements = 16;
  for (int size : {129, 512}) {
    const size_t count = maxSlicesPerCollective(size) * sliceElements;
    std::vector<Range> oneBigBlock(static_cast<size_t>(size), Range{count, 0});
    oneBigBlock[0] = {0, count};
    // Every rank of the smaller job; at 512, the root and the ranks with most children.
    std::vector<int> ranks = {0, size / 2, size - 1};
    if (size == 129) {
      ranks.resize(static_cast<size_t>(size));
      std::iota(ranks.begin(), ranks.end(), 0);
    }
    for (int rank : ranks) {
      ScheduleShape shape = shapeOf(rank, size, count, sliceElements);
      shape.average = true;
      EXPECT_NO_THROW(binomialBroadcast(shape)) << size << " ranks, rank " << rank;
      EXPECT_NO_THROW(binomialReduce(shape)) << size << " ranks, rank " << rank;
      shape.count = rank == 0 ? count : 0;
      shape.blocks = oneBigBlock;
      EXPECT_NO_THROW(bruckAllgatherV(shape)) << size << " ranks, rank " << rank;
      EXPECT_NO_THROW(ringAllgatherV(shape)) << size << " ranks, rank " << rank;
      shape.count = count / static_cast<size_t>(size);  // all-to-all: the whole buffer
      EXPECT_NO_THROW(bruckAllToAll(shape)) << size << " ranks, rank " << rank;
    }
    // Every allreduce algorithm that runs at this size, on the first, middle and last rank
    // (recursive doubling's log2(n) full exchanges per slice come closest to the bound).
    for (const Algorithm& algorithm : algorithms()) {
      if (algorithm.collective != CollectiveKind::kAllreduce) continue;
      for (int rank : {0, size / 2, size - 1}) {
        ScheduleShape shape = shapeOf(rank, size, count, sliceElements);
        shape.average = true;
        if (!algorithm.supports(shape)) continue;
        EXPECT_NO_THROW(algorithm.build(shape))
            << algorithm.name << ", " << size << " ranks, rank " << rank;
      }
    }
  }
}

TEST(ScheduleCheck, LengthIsBounded) {
  Schedule schedule;
  schedule.steps.resize(kMaxScheduleSteps);
  EXPECT_THROW(schedule.add(Step{}), Error);
  EXPECT_EQ(schedule.steps.size(), kMaxScheduleSteps);
}

// Divide steps left and reductions that divide, over every rank of `size`.
struct DivideCount {
  size_t left = 0;
  size_t fused = 0;
};

DivideCount countDivides(const Algorithm& algorithm, int size, size_t count, size_t slice) {
  DivideCount counted;
  for (int rank = 0; rank < size; ++rank) {
    for (bool inPlace : {false, true}) {
      ScheduleShape shape = shapeOf(rank, size, count, slice);
      shape.average = true;
      shape.inPlace = inPlace;
      if (!algorithm.supports(shape)) return {};
      for (const Step& step : buildSchedule(algorithm, shape).steps) {
        counted.left += step.kind == StepKind::kDivide;
        counted.fused += step.divides;
      }
    }
  }
  return counted;
}

// Every allreduce algorithm, and the reduce-scatters and reduces, divide in their last
// reduction: no pass of its own over the result (averages are exact: ScheduleExecution.*).
TEST(FuseDivides, EveryAverageDividesInItsLastReduction) {
  for (const Algorithm& algorithm : algorithms()) {
    const CollectiveKind kind = algorithm.collective;
    if (kind != CollectiveKind::kAllreduce && kind != CollectiveKind::kReduce &&
        kind != CollectiveKind::kReduceScatter) {
      continue;
    }
    for (int size : {2, 3, 4, 5, 8, 16}) {
      const DivideCount counted = countDivides(algorithm, size, 1000, 10);
      // Unsupported here: recursive doubling off powers of two, hierarchical on one host.
      if (counted.fused == 0 && counted.left == 0) continue;
      EXPECT_GT(counted.fused, 0u) << algorithm.name << " at " << size << " ranks";
      // The one exception: halving-doubling's reduce-scatter hands a folded-out rank its block
      // whole, received rather than reduced, and that rank divides it after.
      const bool foldedOut = kind == CollectiveKind::kReduceScatter &&
                             algorithm.name == "halving_doubling" && (size & (size - 1)) != 0;
      if (!foldedOut) {
        EXPECT_EQ(counted.left, 0u)
            << algorithm.name << " " << collectiveName(kind) << " at " << size << " ranks";
      }
    }
  }
}

// A reduction and the division after it, on one rank of two (peer 1).
struct ReduceThenDivide {
  Schedule schedule;
  int32_t reduce;
  int32_t divide;
  ReduceThenDivide() {
    reduce = addRecvReduce(schedule, 1, BufferRole::kInput, {0, 8}, BufferRole::kOutput, {0, 8},
                           false, kNoStep);
    divide = addDivide(schedule, {0, 8}, reduce);
  }
  void expectUnfused() {
    fuseDivides(schedule);
    EXPECT_FALSE(schedule.steps[reduce].divides);
    EXPECT_EQ(schedule.steps[divide].kind, StepKind::kDivide);
  }
};

TEST(FuseDivides, FoldsTheDivisionIntoTheReductionItWaitsFor) {
  ReduceThenDivide plan;
  const int32_t later = addSend(plan.schedule, 1, BufferRole::kOutput, {0, 8}, plan.divide);
  fuseDivides(plan.schedule);
  EXPECT_TRUE(plan.schedule.steps[plan.reduce].divides);
  const Step& divide = plan.schedule.steps[plan.divide];
  EXPECT_EQ(divide.kind, StepKind::kWait);  // still there: the send waits on it
  EXPECT_EQ(divide.after[0], plan.reduce);
  EXPECT_EQ(plan.schedule.steps[later].after[0], plan.divide);
  EXPECT_NO_THROW(checkSchedule(plan.schedule, 0, 2, 8, 8));
  EXPECT_NE(describeSchedule(plan.schedule).find("divides"), std::string::npos);
}

TEST(FuseDivides, LeavesADivisionThatCannotFold) {
  {
    SCOPED_TRACE("another step reads the undivided sum");
    ReduceThenDivide plan;
    addSend(plan.schedule, 1, BufferRole::kOutput, {0, 8}, plan.reduce);
    plan.expectUnfused();
  }
  {
    SCOPED_TRACE("the division waits for more than the reduction");
    ReduceThenDivide plan;
    const int32_t sent = addSend(plan.schedule, 1, BufferRole::kInput, {0, 8}, kNoStep);
    plan.schedule.steps[plan.divide].after[1] = sent;
    plan.expectUnfused();
  }
  {
    SCOPED_TRACE("another range");
    ReduceThenDivide plan;
    plan.schedule.steps[plan.divide].output = {0, 4};
    plan.expectUnfused();
  }
  {
    SCOPED_TRACE("another buffer");
    ReduceThenDivide plan;
    plan.schedule.steps[plan.divide].target = BufferRole::kWork;
    plan.expectUnfused();
  }
  {
    SCOPED_TRACE("after a plain receive");
    ReduceThenDivide plan;
    plan.schedule.steps[plan.reduce].kind = StepKind::kRecv;
    plan.expectUnfused();
  }
}

// The direct allreduce reduces each slice of its piece from every other rank in one chain
// (Step::reducedWithNext): n - 1 links, one per peer, in the order the schedule lists them,
// each link's peer entry the one of its step's peer; the last link divides an average.
TEST(ReductionChains, TheDirectAllreduceChainsEachSliceOverEveryPeer) {
  for (int size : {2, 3, 4, 7}) {
    ScheduleShape shape = shapeOf(1, size, 1000, 64);
    shape.average = true;
    const Schedule schedule = buildSchedule(allreduceNamed("direct"), shape);
    const ScheduleIndex index = indexSchedule(schedule);
    const size_t slices = (balancedPiece(1000, static_cast<size_t>(size), 1).count + 63) / 64;
    if (size == 2) {
      EXPECT_TRUE(index.chains.empty());  // one reduction per slice: nothing to chain
      continue;
    }
    ASSERT_EQ(index.chains.size(), slices) << size << " ranks";
    for (const std::vector<ChainLink>& chain : index.chains) {
      ASSERT_EQ(chain.size(), static_cast<size_t>(size - 1));
      std::set<int> peers;
      for (size_t k = 0; k < chain.size(); ++k) {
        const Step& step = schedule.steps[static_cast<size_t>(chain[k].step)];
        EXPECT_EQ(step.kind, StepKind::kRecvReduce);
        EXPECT_EQ(step.reducedWithNext, k + 1 < chain.size());
        EXPECT_EQ(index.peers[chain[k].peer].peer, step.peer);
        EXPECT_EQ(index.chainOf[static_cast<size_t>(chain[k].step)], &chain - index.chains.data());
        if (k > 0) {
          EXPECT_EQ(chain[k].step, chain[k - 1].step + 1);
        }
        peers.insert(step.peer);
      }
      EXPECT_EQ(peers.size(), chain.size());
      EXPECT_TRUE(schedule.steps[static_cast<size_t>(chain.back().step)].divides);
    }
  }
}

// The engine runs a chain as one: while one rank has not started, the others, each of whose
// chains reduces a part from it, write nothing of their output (reduced one peer at a time,
// each would already hold its input plus its first peer's part); then all end exact.
TEST(ReductionChains, NothingIsReducedUntilEveryPartOfTheChainIsIn) {
  constexpr int kSize = 4;
  constexpr size_t kCount = 400;  // a piece of 100 per rank, one slice each
  const int64_t rankSum = kSize * (kSize + 1) / 2;
  std::vector<ScheduleShape> shapes;
  std::vector<RankData> data(kSize);
  for (int r = 0; r < kSize; ++r) {
    shapes.push_back(shapeOf(r, kSize, kCount, kCount));
    for (size_t i = 0; i < kCount; ++i) {
      data[r].input.push_back(valueOf(r, i));
      data[r].expected.push_back(rankSum * static_cast<int64_t>(i % 13 + 1));
    }
    data[r].output.assign(kCount, -1);
  }
  const Hold late{kSize - 1, 1000, [&] {
                    for (int r = 0; r + 1 < kSize; ++r) {
                      EXPECT_EQ(data[r].output, std::vector<int64_t>(kCount, -1)) << "rank " << r;
                    }
                  }};
  driveRoundRobin(allreduceNamed("direct"), shapes, data, ReduceOp::kSum, &late);
}

// A flag the next step does not bear out is refused, not run as a chain.
TEST(ReductionChains, AFlagTheNextStepDoesNotContinueIsRefused) {
  // Two reductions of [0, 8) of the output, from ranks 1 and 2, the second on the first.
  auto chainOfTwo = [] {
    Schedule schedule;
    const int32_t first = addRecvReduce(schedule, 1, BufferRole::kInput, {0, 8},
                                        BufferRole::kOutput, {0, 8}, false, kNoStep);
    addRecvReduce(schedule, 2, BufferRole::kOutput, {0, 8}, BufferRole::kOutput, {0, 8}, false,
                  first);
    schedule.steps[0].reducedWithNext = true;
    return schedule;
  };
  EXPECT_EQ(indexSchedule(chainOfTwo()).chains.size(), 1u);
  auto refused = [](Schedule schedule, const char* why) {
    EXPECT_THROW(indexSchedule(schedule), Error) << why;
  };
  Schedule samePeer = chainOfTwo();
  samePeer.steps[1].peer = 1;
  refused(samePeer, "both links from one peer");
  Schedule otherRange = chainOfTwo();
  otherRange.steps[1].output = {0, 4};
  otherRange.steps[1].input = {0, 4};
  refused(otherRange, "another range");
  Schedule notOnIt = chainOfTwo();
  notOnIt.steps[1].source = BufferRole::kInput;
  refused(notOnIt, "reads its own input, not the first one's result");
  Schedule notWaiting = chainOfTwo();
  notWaiting.steps[1].after = {kNoStep, kNoStep};
  refused(notWaiting, "does not wait on the first");
  Schedule anotherWaiter = chainOfTwo();
  addSend(anotherWaiter, 1, BufferRole::kOutput, {0, 8}, 0);
  refused(anotherWaiter, "a send waits on the first link's partial result");
  Schedule last = chainOfTwo();
  last.steps[1].reducedWithNext = true;
  refused(last, "the last step flagged");
  Schedule send;
  addSend(send, 1, BufferRole::kInput, {0, 8}, kNoStep);
  send.steps[0].reducedWithNext = true;
  refused(send, "a send flagged");
  Schedule dividesEarly = chainOfTwo();
  dividesEarly.steps[0].divides = true;
  refused(dividesEarly, "the first link divides");
  // A link may wait on the one before it, not on an earlier one: that one completes only
  // with the whole chain.
  Schedule threeLinks = chainOfTwo();
  threeLinks.steps[1].reducedWithNext = true;
  addRecvReduce(threeLinks, 3, BufferRole::kOutput, {0, 8}, BufferRole::kOutput, {0, 8}, false, 1);
  EXPECT_EQ(indexSchedule(threeLinks).chains.at(0).size(), 3u);
  threeLinks.steps[2].after[1] = 0;
  refused(threeLinks, "the third link waits on the first");
  // kMaxChainLinks links at most, one per peer.
  auto chainOf = [](size_t links) {
    Schedule schedule;
    int32_t previous = kNoStep;
    for (size_t k = 0; k < links; ++k) {
      if (previous != kNoStep) schedule.steps[static_cast<size_t>(previous)].reducedWithNext = true;
      previous = addRecvReduce(schedule, static_cast<int>(k) + 1,
                               k == 0 ? BufferRole::kInput : BufferRole::kOutput, {0, 8},
                               BufferRole::kOutput, {0, 8}, false, previous);
    }
    return schedule;
  };
  EXPECT_EQ(indexSchedule(chainOf(kMaxChainLinks)).chains.at(0).size(), kMaxChainLinks);
  refused(chainOf(kMaxChainLinks + 1), "one link too many");
}

}  // namespace
}  // namespace gccl
