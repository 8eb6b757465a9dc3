// The staging pipeline of collectives over device buffers (src/cuda/staged_collectives.h), with
// ranks as threads and HostCopyEngine standing in for each rank's GPU: exact results of every
// collective, copies completing late and out of order, a failing copy, ranks disagreeing on the
// whole call, bounded staging memory, and copies overlapping.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cuda/host_copy_engine.h"
#include "cuda/slice_plan.h"
#include "cuda/staged_collectives.h"
#include "thread_ranks.h"
#include "verifiable.h"

namespace gccl {
namespace {

using testing_support::makeThreadRanks;
using testing_support::onEveryRank;
using Ranks = std::vector<std::unique_ptr<Communicator>>;
using Clock = std::chrono::steady_clock;

// Tiny slices, so that a few hundred elements make many of them.
constexpr StagingOptions kSmall{.sliceBytes = 64, .slots = 3};

Config testConfig(int timeoutMs) {
  Config config;
  config.timeoutMs = timeoutMs;
  return config;
}

// One rank's "GPU": its engine and pipeline, and device buffers filled with its exact input.
struct Gpu {
  HostCopyEngine engine;
  StagedCollectives staged;
  Gpu(Communicator& comm, const HostCopyFaults& faults, const StagingOptions& options)
      : engine(faults), staged(comm, engine, options) {}
};

size_t bytesOf(size_t count, gcclDataType_t type) {
  return count * dataTypeSize(static_cast<DataType>(type));
}

std::string label(int size, size_t count, gcclDataType_t type, gcclRedOp_t op, bool inPlace) {
  return strCat("ranks ", size, " count ", count, " type ", static_cast<int>(type), " op ",
                static_cast<int>(op), inPlace ? " in place" : " out of place");
}

// Runs one staged allreduce on every rank and checks every output exactly.
void checkAllreduce(Ranks& ranks, std::vector<std::unique_ptr<Gpu>>& gpus, size_t count,
                    gcclDataType_t type, gcclRedOp_t op, bool inPlace) {
  const int size = static_cast<int>(ranks.size());
  onEveryRank(ranks, [&](int rank, Communicator&) {
    Gpu& gpu = *gpus[rank];
    // At least one byte: memcpy and memcmp take no null pointer, even for 0 bytes.
    std::vector<std::byte> host(std::max<size_t>(1, bytesOf(count, type)));
    perf::fillInput(host.data(), count, type, op, rank, size);
    std::byte* input = gpu.engine.allocateDevice(host.size());
    std::byte* output = inPlace ? input : gpu.engine.allocateDevice(host.size());
    std::memcpy(input, host.data(), host.size());
    gpu.staged.allreduce(input, output, count, static_cast<DataType>(type),
                         static_cast<ReduceOp>(op));
    EXPECT_EQ(perf::countWrong(output, count, type, op, size), 0u)
        << label(size, count, type, op, inPlace) << " rank " << rank;
    if (!inPlace) {
      EXPECT_EQ(std::memcmp(input, host.data(), host.size()), 0) << "input changed";
      gpu.engine.freeDevice(output);
    }
    gpu.engine.freeDevice(input);
  });
}

std::vector<std::unique_ptr<Gpu>> makeGpus(Ranks& ranks, const StagingOptions& options,
                                           HostCopyFaults faults = {}) {
  std::vector<std::unique_ptr<Gpu>> gpus;
  for (auto& comm : ranks) {
    if (faults.shuffleSeed != 0) faults.shuffleSeed += 1;  // a different order on every rank
    gpus.push_back(std::make_unique<Gpu>(*comm, faults, options));
  }
  return gpus;
}

CollectiveCall callOf(CollectiveKind kind, size_t count, DataType type) {
  CollectiveCall call;
  call.kind = kind;
  call.count = count;
  call.type = type;
  return call;
}

TEST(StagedCollectives, SlicesCoverTheBufferAndCarryTheWholeCall) {
  // Allreduce: 16 int32 per 64-byte slot.
  const SlicePlanner allreduce(callOf(CollectiveKind::kAllreduce, 1000, DataType::kInt32), 0, 3,
                               kSmall.sliceBytes);
  EXPECT_EQ(allreduce.slices(), 63u);
  std::byte* slot = nullptr;
  const SliceWork last = allreduce.slice(62, slot);
  EXPECT_EQ(last.call.count, 1000u - 62 * 16);
  ASSERT_EQ(last.in.size(), 1u);
  EXPECT_EQ(last.in[0].device, 62u * 16 * 4);
  // An empty call is one empty slice that copies nothing, carrying the agreement.
  const SlicePlanner empty(callOf(CollectiveKind::kAllreduce, 0, DataType::kFloat32), 0, 1, 64);
  ASSERT_EQ(empty.slices(), 1u);
  EXPECT_EQ(empty.slice(0, slot).call.count, 0u);
  EXPECT_TRUE(empty.slice(0, slot).in.empty());
  EXPECT_TRUE(empty.slice(0, slot).out.empty());
  EXPECT_NE(empty.slice(0, slot).call.agreement, allreduce.slice(0, slot).call.agreement);
  // The whole count travels with every slice: 1000 and 1001 elements differ on slice 0.
  const SlicePlanner longer(callOf(CollectiveKind::kAllreduce, 1001, DataType::kInt32), 0, 3,
                            kSmall.sliceBytes);
  EXPECT_EQ(allreduce.slice(0, slot).call.count, longer.slice(0, slot).call.count);
  EXPECT_NE(allreduce.slice(0, slot).call.agreement, longer.slice(0, slot).call.agreement);

  // Allgather at 4 ranks: 4 int32 of each rank's block per slot, packed, in place.
  std::vector<std::byte> slotMemory(64);
  const SlicePlanner allgather(callOf(CollectiveKind::kAllgather, 10, DataType::kInt32), 2, 4,
                               kSmall.sliceBytes);
  EXPECT_EQ(allgather.slices(), 3u);
  const SliceWork tail = allgather.slice(2, slotMemory.data());  // elements 8..9 of each block
  EXPECT_EQ(tail.call.count, 2u);
  EXPECT_EQ(tail.call.input, slotMemory.data() + 2 * 2 * 4);
  ASSERT_EQ(tail.out.size(), 4u);
  EXPECT_EQ(tail.out[3].device, (3 * 10 + 8) * 4u);
  EXPECT_EQ(tail.out[3].slot, 3 * 2 * 4u);

  // A slot too small for one element per rank is refused.
  EXPECT_THROW(
      SlicePlanner(callOf(CollectiveKind::kReduceScatter, 4, DataType::kFloat64), 0, 16, 64),
      Error);

  Config config;
  config.gpuStagingBytes = 1000;
  config.gpuSliceBytes = 256;
  EXPECT_EQ(stagingOptionsFrom(config).slots, 3u);         // whole slices only
  config.gpuStagingBytes = 200;                            // less than a slice: one smaller slot
  EXPECT_EQ(stagingOptionsFrom(config).sliceBytes, 192u);  // whole lines: aligned slots
  EXPECT_EQ(stagingOptionsFrom(config).slots, 1u);
  config.gpuStagingBytes = 1000;
  config.gpuSliceBytes = 100;
  EXPECT_EQ(stagingOptionsFrom(config).sliceBytes, 64u);
  EXPECT_EQ(stagingOptionsFrom(config).slots, 15u);
}

// A call of a few slots' worth is cut into 4 slices, none below 256 KiB per slot, so that its
// copies overlap its collectives; the slot bounds the slices of a large call.
TEST(StagedCollectives, FewSlotsAreCutIntoPipelinedSlices) {
  constexpr size_t kMiB = size_t{1} << 20;
  constexpr size_t kSlot = 4 * kMiB;
  const auto floats = [](size_t bytes) { return bytes / sizeof(float); };
  const auto planOf = [&](CollectiveKind kind, size_t count, int size = 2) {
    return SlicePlanner(callOf(kind, count, DataType::kFloat32), 0, size, kSlot);
  };
  std::byte* slot = nullptr;
  // (call bytes, slices, bytes of the first slice)
  const std::vector<std::array<size_t, 3>> expected{
      {64 * kMiB, 16, kSlot},    {16 * kMiB, 4, kSlot},
      {4 * kMiB, 4, kMiB},       {kMiB, 4, 256 << 10},
      {512 << 10, 2, 256 << 10}, {256 << 10, 1, 256 << 10},
      {1000, 1, 1000},           {6 * kMiB + 4, 4, 3 * kMiB / 2 + 64}};
  for (const auto& [bytes, slices, first] : expected) {
    SCOPED_TRACE(testing::Message() << "allreduce of " << bytes << " bytes");
    const SlicePlanner plan = planOf(CollectiveKind::kAllreduce, floats(bytes));
    EXPECT_EQ(plan.slices(), slices);
    EXPECT_EQ(plan.slice(0, slot).call.count * sizeof(float), first);
    EXPECT_EQ(plan.slice(1 % slices, slot).in.at(0).device % 64, 0u) << "a slice off its line";
  }
  // Blockwise: 4 ranks' pieces share a slot, so the least is 64 KiB of each rank's block.
  const SlicePlanner allgather = planOf(CollectiveKind::kAllgather, floats(kMiB), 4);
  EXPECT_EQ(allgather.slices(), 4u);
  EXPECT_EQ(allgather.slice(0, slot).call.count * sizeof(float), 256u << 10);
  const SlicePlanner smallAllgather = planOf(CollectiveKind::kAllgather, floats(128 << 10), 4);
  EXPECT_EQ(smallAllgather.slices(), 2u);
  EXPECT_EQ(smallAllgather.slice(0, slot).call.count * sizeof(float), 64u << 10);
  // At 3 ranks the least (256 KiB / 12 bytes) is no whole number of lines: rounded up to one.
  const SlicePlanner threeRanks = planOf(CollectiveKind::kReduceScatter, 40000, 3);
  ASSERT_EQ(threeRanks.slices(), 2u);
  for (const CopyPiece& piece : threeRanks.slice(1, slot).in) {
    EXPECT_EQ(piece.device % 64, 0u) << "a slice off its line";
  }
}

TEST(StagedCollectives, ExactResults) {
  for (int size : {1, 2, 3, 4}) {
    Ranks ranks = makeThreadRanks(size, testConfig(20000));
    auto gpus = makeGpus(ranks, kSmall);
    for (size_t count : {size_t{0}, size_t{1}, size_t{37}, size_t{1000}}) {
      for (gcclDataType_t type : {gcclFloat32, gcclInt32, gcclFloat16}) {
        for (gcclRedOp_t op : {gcclSum, gcclAvg}) {
          for (bool inPlace : {true, false}) checkAllreduce(ranks, gpus, count, type, op, inPlace);
        }
      }
    }
    for (auto& gpu : gpus) {
      // Allocated once, reused by every call: never more than slots x slice.
      EXPECT_EQ(gpu->engine.stagingHighWater(), kSmall.slots * kSmall.sliceBytes);
    }
  }
}

// Device buffers of one rank's call, and its check. The stand-in's "device" memory is host
// memory, so the test reads and writes it directly.
struct DeviceCall {
  CollectiveCall call;
  std::byte* send = nullptr;
  std::byte* recv = nullptr;
};

// Rank r's allgatherv block: uneven counts (rank 1's empty), gaps between blocks, reversed
// order.
std::vector<Range> unevenBlocks(int size, size_t count) {
  std::vector<Range> blocks(size);
  size_t offset = 3;
  for (int r = size - 1; r >= 0; --r) {
    blocks[r] = {offset, count == 0 || r == 1 ? 0 : count * (r + 1) + r};
    offset += blocks[r].count + 2;
  }
  return blocks;
}

size_t outputEnd(const std::vector<Range>& blocks) {
  size_t end = 0;
  for (const Range& block : blocks) end = std::max(end, block.end());
  return end;
}

// Runs `kind` once on every rank through the staging pipeline, and checks every output exactly.
void checkCollective(Ranks& ranks, std::vector<std::unique_ptr<Gpu>>& gpus, CollectiveKind kind,
                     size_t count, gcclDataType_t type, gcclRedOp_t op, int root, bool inPlace) {
  const int size = static_cast<int>(ranks.size());
  const size_t n = static_cast<size_t>(size);
  const std::string what =
      strCat(collectiveName(kind), " ", label(size, count, type, op, inPlace), " root ", root);
  onEveryRank(ranks, [&](int rank, Communicator&) {
    Gpu& gpu = *gpus[rank];
    const size_t element = bytesOf(1, type);
    const std::vector<Range> blocks = unevenBlocks(size, count);
    // Elements of this rank's send and receive buffers.
    size_t sendCount = count;
    size_t recvCount = count;
    if (kind == CollectiveKind::kAllgather) recvCount = n * count;
    if (kind == CollectiveKind::kReduceScatter) sendCount = n * count;
    if (kind == CollectiveKind::kAllToAll) sendCount = recvCount = n * count;
    if (kind == CollectiveKind::kAllgatherV) {
      sendCount = blocks[rank].count;
      recvCount = outputEnd(blocks);
    }
    std::byte* recv = gpu.engine.allocateDevice(std::max<size_t>(1, recvCount * element));
    std::byte* send = gpu.engine.allocateDevice(std::max<size_t>(1, sendCount * element));
    if (inPlace) {  // NCCL's in-place layouts
      gpu.engine.freeDevice(send);
      send = recv;
      if (kind == CollectiveKind::kAllgather) send = recv + rank * count * element;
      if (kind == CollectiveKind::kAllgatherV) send = recv + blocks[rank].offset * element;
      if (kind == CollectiveKind::kReduceScatter) {
        gpu.engine.freeDevice(recv);
        send = gpu.engine.allocateDevice(std::max<size_t>(1, sendCount * element));
        recv = send + rank * count * element;
      }
    }
    perf::fillInput(send, sendCount, type, op, rank, size);
    CollectiveCall call;
    call.kind = kind;
    call.input = send;
    call.output = recv;
    call.count = kind == CollectiveKind::kAllgatherV ? sendCount : count;
    call.type = static_cast<DataType>(type);
    call.op = static_cast<ReduceOp>(op);
    call.root = root;
    if (kind == CollectiveKind::kAllgatherV) call.blocks = blocks;
    gpu.staged.run(call);

    size_t wrong = 0;
    switch (kind) {
      case CollectiveKind::kBroadcast:
        wrong = perf::countWrongInput(recv, count, type, op, root, size);
        break;
      case CollectiveKind::kReduce:
        if (rank == root) wrong = perf::countWrong(recv, count, type, op, size);
        break;
      case CollectiveKind::kAllgather:
        for (int r = 0; r < size; ++r) {
          wrong += perf::countWrongInput(recv + r * count * element, count, type, op, r, size);
        }
        break;
      case CollectiveKind::kAllgatherV:
        for (int r = 0; r < size; ++r) {
          wrong += perf::countWrongInput(recv + blocks[r].offset * element, blocks[r].count, type,
                                         op, r, size);
        }
        break;
      case CollectiveKind::kReduceScatter:
        wrong = perf::countWrong(recv, count, type, op, size, rank * count);
        break;
      case CollectiveKind::kAllToAll:  // rank r's block for this rank, at block r
        for (int r = 0; r < size; ++r) {
          wrong += perf::countWrongInput(recv + r * count * element, count, type, op, r, size,
                                         rank * count);
        }
        break;
      default: FAIL() << "not a staged collective";
    }
    EXPECT_EQ(wrong, 0u) << what << " rank " << rank;
    const bool recvOwnsAllocation = !inPlace || kind != CollectiveKind::kReduceScatter;
    gpu.engine.freeDevice(recvOwnsAllocation ? recv : send);
    if (!inPlace) gpu.engine.freeDevice(send);
  });
}

TEST(StagedCollectives, ExactResultsOfEveryCollective) {
  for (int size : {1, 2, 3, 4}) {
    Ranks ranks = makeThreadRanks(size, testConfig(20000));
    HostCopyFaults faults;
    faults.shuffleSeed = 11;  // and copies complete out of order
    auto gpus = makeGpus(ranks, kSmall, faults);
    for (CollectiveKind kind :
         {CollectiveKind::kBroadcast, CollectiveKind::kReduce, CollectiveKind::kAllgather,
          CollectiveKind::kAllgatherV, CollectiveKind::kReduceScatter, CollectiveKind::kAllToAll}) {
      for (size_t count : {size_t{0}, size_t{1}, size_t{37}, size_t{300}}) {
        for (gcclDataType_t type : {gcclFloat32, gcclInt32, gcclFloat16}) {
          const gcclRedOp_t op = type == gcclInt32 ? gcclMax : gcclSum;
          for (bool inPlace : {true, false}) {
            for (int root : {0, size - 1}) {
              if (root == 0 && size > 1 && !isRooted(kind)) continue;  // the root is not read
              checkCollective(ranks, gpus, kind, count, type, op, root, inPlace);
            }
          }
        }
      }
    }
    for (auto& gpu : gpus) {
      EXPECT_EQ(gpu->engine.stagingHighWater(), kSmall.slots * kSmall.sliceBytes);
    }
  }
}

// Ranks that disagree on the whole count fail on the first slice, though its count agrees; a
// rank with nothing to reduce fails with its peer at once too (its one empty slice), long
// before the 60 s timeout.
class DisagreeingCount : public testing::TestWithParam<size_t> {};

TEST_P(DisagreeingCount, FailsOnEveryRank) {
  Ranks ranks = makeThreadRanks(2, testConfig(60000));
  auto gpus = makeGpus(ranks, kSmall);
  std::vector<std::string> errors(2);
  const auto start = std::chrono::steady_clock::now();
  onEveryRank(ranks, [&](int rank, Communicator&) {
    Gpu& gpu = *gpus[rank];
    const size_t count = rank == 0 ? GetParam() : 16;  // 2 slices of 16 int32, 1, or 0
    std::byte* buffer = gpu.engine.allocateDevice(32 * sizeof(int32_t));
    try {
      gpu.staged.allreduce(buffer, buffer, count, DataType::kInt32, ReduceOp::kSum);
    } catch (const Error& e) {
      errors[rank] = e.what();
    }
    gpu.engine.freeDevice(buffer);
  });
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_NE(errors[rank].find("mismatched collective"), std::string::npos)
        << "rank " << rank << ": " << errors[rank];
    // Found in the first slice's collective (#1); rank 0 may report its second slice, which
    // its pipeline had started meanwhile and which fails on the broken communicator.
    EXPECT_NE(errors[rank].find("allreduce #1 "), std::string::npos) << errors[rank];
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

INSTANTIATE_TEST_SUITE_P(StagedCollectives, DisagreeingCount, testing::Values(32u, 0u));

// Alltoallv: the block rank s sends rank r, uneven (some empty, one pair far longer than the
// rest), laid out in the send buffer in rank order with gaps and in the receive buffer in
// reverse rank order. Symmetric, so that in place each rank receives from a rank as much as
// it sends it.
size_t pairCount(int s, int r, size_t scale) {
  if (scale == 0 || (s + r) % 3 == 1) return 0;
  return (s + r) * scale + (s == 0 && r == 1 ? 5 * scale : 0) + 1;
}

// The blocks of rank `me` in the order given, each `gap` elements after the one before.
std::vector<Range> blocksOf(int me, int size, size_t scale, bool reversed, size_t gap) {
  std::vector<Range> blocks(static_cast<size_t>(size));
  size_t offset = gap;
  for (int i = 0; i < size; ++i) {
    const int p = reversed ? size - 1 - i : i;
    blocks[p] = {offset, pairCount(me, p, scale)};
    offset += blocks[p].count + gap;
  }
  return blocks;
}

// One staged alltoallv on every rank, every block checked exactly: rank s's block for r holds
// s's input from its offset in s's send buffer on.
void checkAllToAllV(Ranks& ranks, std::vector<std::unique_ptr<Gpu>>& gpus, size_t scale,
                    gcclDataType_t type, bool inPlace) {
  const int size = static_cast<int>(ranks.size());
  const std::string what = strCat("alltoallv ", label(size, scale, type, gcclSum, inPlace));
  onEveryRank(ranks, [&](int rank, Communicator&) {
    Gpu& gpu = *gpus[rank];
    const size_t element = bytesOf(1, type);
    const std::vector<Range> received = blocksOf(rank, size, scale, true, 2);
    // In place the received blocks go out; out of place the send buffer has its own layout.
    const auto sentBy = [&](int s) {
      return inPlace ? blocksOf(s, size, scale, true, 2) : blocksOf(s, size, scale, false, 3);
    };
    const std::vector<Range> sent = sentBy(rank);
    const size_t recvCount = outputEnd(received) + 1;
    const size_t sendCount = outputEnd(sent) + 1;
    std::byte* recv = gpu.engine.allocateDevice(recvCount * element);
    std::byte* send = inPlace ? recv : gpu.engine.allocateDevice(sendCount * element);
    perf::fillInput(send, inPlace ? recvCount : sendCount, type, gcclSum, rank, size);
    CollectiveCall call;
    call.kind = CollectiveKind::kAllToAllV;
    call.input = send;
    call.output = recv;
    call.type = static_cast<DataType>(type);
    call.blocks = received;
    if (!inPlace) call.sendBlocks = sent;
    gpu.staged.run(call);
    size_t wrong = 0;
    for (int s = 0; s < size; ++s) {
      wrong += perf::countWrongInput(recv + received[s].offset * element, received[s].count, type,
                                     gcclSum, s, size, sentBy(s)[rank].offset);
    }
    EXPECT_EQ(wrong, 0u) << what << " rank " << rank;
    gpu.engine.freeDevice(recv);
    if (!inPlace) gpu.engine.freeDevice(send);
  });
}

TEST(StagedCollectives, AllToAllVIsExact) {
  for (int size : {1, 2, 3, 4}) {
    Ranks ranks = makeThreadRanks(size, testConfig(20000));
    HostCopyFaults faults;
    faults.shuffleSeed = 5;  // copies complete out of order
    auto gpus = makeGpus(ranks, kSmall, faults);
    // 0: every block empty (one empty slice); 1: a few elements; 9: many slices for the long
    // pair, far fewer for the others, which run out of elements slices before it does.
    for (size_t scale : {size_t{0}, size_t{1}, size_t{9}}) {
      for (gcclDataType_t type : {gcclFloat32, gcclInt32, gcclFloat16, gcclFloat64}) {
        for (bool inPlace : {false, true}) checkAllToAllV(ranks, gpus, scale, type, inPlace);
      }
    }
    for (auto& gpu : gpus) {
      EXPECT_EQ(gpu->engine.stagingHighWater(), kSmall.slots * kSmall.sliceBytes);
    }
  }
}

// The slot holds the pieces sent in its first half and those received in its second; every
// rank cuts as many slices, from the longest block of any rank (agreed before), though its own
// blocks are shorter.
TEST(StagedCollectives, AllToAllVSlicesFollowTheLongestBlockOfAnyRank) {
  CollectiveCall call = callOf(CollectiveKind::kAllToAllV, 0, DataType::kInt32);
  call.blocks = {{10, 3}, {0, 9}};  // 3 from rank 0, 9 from rank 1
  call.sendBlocks = {{0, 3}, {5, 0}};
  std::vector<std::byte> slotMemory(64);
  std::byte* slot = slotMemory.data();
  // 64 bytes hold 2 x 2 pieces of 4 int32: slices of 4 elements; 20 agreed: 5 slices.
  const SlicePlanner plan(call, 0, 2, kSmall.sliceBytes, 20);
  ASSERT_EQ(plan.slices(), 5u);
  const SliceWork second = plan.slice(1, slot);
  EXPECT_EQ(second.call.input, slot);
  EXPECT_EQ(second.call.output, slot + 2 * 4 * sizeof(int32_t));
  using Pairs = std::vector<std::pair<size_t, size_t>>;  // (offset, count) per rank
  const auto pairsOf = [](const std::vector<Range>& blocks) {
    Pairs pairs;
    for (const Range& block : blocks) pairs.emplace_back(block.offset, block.count);
    return pairs;
  };
  EXPECT_EQ(pairsOf(second.call.sendBlocks), (Pairs{{0, 0}, {0, 0}}));
  EXPECT_EQ(pairsOf(second.call.blocks), (Pairs{{0, 0}, {0, 4}}));  // elements 4-7 of 9
  EXPECT_TRUE(second.in.empty());
  ASSERT_EQ(second.out.size(), 1u);
  EXPECT_EQ(second.out[0].device, 4 * sizeof(int32_t));
  EXPECT_EQ(second.out[0].slot, 2 * 4 * sizeof(int32_t));
  // Beyond every block of this rank: empty slices, which still exchange (empty) messages.
  const SliceWork last = plan.slice(4, slot);
  EXPECT_TRUE(last.in.empty());
  EXPECT_TRUE(last.out.empty());
  EXPECT_EQ(last.call.blocks.size(), 2u);
  // Same agreement whatever the blocks: pairs agree message by message.
  EXPECT_EQ(last.call.agreement, second.call.agreement);
  EXPECT_EQ(longestOwnBlock(call), 9u);
}

// Rank 1 sends rank 0 twice the block rank 0 expects. Pairwise, both ranks fail with a
// mismatched collective on the first slice where the two ends' pieces differ; through relays
// (Bruck's), every rank refuses that slice naming the pair, and the abort that follows fails
// any later slice some rank had issued meanwhile. Either way long before the timeout.
class AllToAllVPairThatDisagrees : public testing::TestWithParam<const char*> {};

TEST_P(AllToAllVPairThatDisagrees, FailsEveryRank) {
  constexpr int kRanks = 3;
  Config config = testConfig(60000);
  config.algorithm = GetParam();
  Ranks ranks = makeThreadRanks(kRanks, config);
  auto gpus = makeGpus(ranks, kSmall);
  std::vector<std::string> errors(kRanks);
  const auto start = Clock::now();
  onEveryRank(ranks, [&](int rank, Communicator&) {
    Gpu& gpu = *gpus[rank];
    std::byte* send = gpu.engine.allocateDevice(64 * sizeof(int32_t));
    std::byte* recv = gpu.engine.allocateDevice(64 * sizeof(int32_t));
    CollectiveCall call = callOf(CollectiveKind::kAllToAllV, 0, DataType::kInt32);
    call.input = send;
    call.output = recv;
    call.blocks = {{0, 16}, {16, 16}, {32, 16}};
    call.sendBlocks = {{0, 16}, {16, 16}, {32, 16}};
    if (rank == 1) call.sendBlocks[0].count = 32;
    try {
      gpu.staged.run(call);
    } catch (const Error& e) {
      errors[rank] = e.what();
    }
    gpu.engine.freeDevice(send);
    gpu.engine.freeDevice(recv);
  });
  const bool relayed = std::string(GetParam()) == "recursive_doubling";
  for (int rank = 0; rank < kRanks; ++rank) {
    // Pairwise, only the pair's two ends see the mismatch; the third rank learns of it from
    // their aborts.
    if (!relayed && rank == 2) {
      EXPECT_FALSE(errors[rank].empty()) << "rank 2 finished";
      continue;
    }
    // Through relays the pair is named with its pieces of the first slice that differs: the
    // 9th of 16, elements 16-17 of 32 sent, none of 16 expected.
    const char* expected = relayed ? "slice 8 of 16: alltoallv #19 (int32, 0 elements, "
                                     "recursive_doubling) on rank "
                                   : "mismatch";
    EXPECT_NE(errors[rank].find(expected), std::string::npos)
        << "rank " << rank << ": " << errors[rank];
    if (relayed) {
      EXPECT_NE(errors[rank].find("rank 1 sends 2 elements to rank 0, which expects 0"),
                std::string::npos)
          << "rank " << rank << ": " << errors[rank];
    }
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(30));
}

INSTANTIATE_TEST_SUITE_P(StagedCollectives, AllToAllVPairThatDisagrees,
                         testing::Values("direct", "recursive_doubling"));

TEST(StagedCollectives, CopiesLateAndOutOfOrder) {
  HostCopyFaults faults;
  faults.jitter = std::chrono::microseconds(300);
  faults.shuffleSeed = 7;
  for (int size : {2, 3}) {
    Ranks ranks = makeThreadRanks(size, testConfig(20000));
    auto gpus = makeGpus(ranks, kSmall, faults);
    for (gcclDataType_t type : {gcclInt32, gcclFloat16}) {
      checkAllreduce(ranks, gpus, 301, type, gcclSum, true);
      checkAllreduce(ranks, gpus, 301, type, gcclAvg, false);
    }
    for (auto& gpu : gpus) {
      EXPECT_EQ(gpu->engine.stagingHighWater(), kSmall.slots * kSmall.sliceBytes);
      EXPECT_GT(gpu->engine.completedOutOfOrder(), 0u);  // the hooks did their job
    }
  }
}

TEST(StagedCollectives, RejectsHostMemory) {
  Ranks ranks = makeThreadRanks(1, testConfig(20000));
  HostCopyEngine engine;
  StagedCollectives staged(*ranks[0], engine, kSmall);
  std::vector<float> host(10);
  try {
    staged.allreduce(host.data(), host.data(), host.size(), DataType::kFloat32, ReduceOp::kSum);
    FAIL() << "host memory accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInvalidArgument);
  }
  // A count that runs past the end of its device allocation is refused too, before any copy.
  std::byte* device = engine.allocateDevice(10 * sizeof(float));
  try {
    staged.allreduce(device, device, 11, DataType::kFloat32, ReduceOp::kSum);
    FAIL() << "a buffer past its device allocation accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInvalidArgument);
  }
  EXPECT_EQ(engine.copiesQueued(), 0u);
  engine.freeDevice(device);
}

// The copies of `failingSlice` fail on `failingRank`: it reports that slice, and the others
// fail too, told by its abort (it aborts its communicator), well before their timeout.
void checkFailure(int size, int failingRank, size_t failingSlice) {
  // Far beyond the bound below, so that a loaded sanitizer run has seconds of slack while a
  // peer that waited for the timeout still fails the test.
  constexpr int kTimeoutMs = 20000;
  constexpr size_t kCount = 1000;
  const size_t sliceElements = kSmall.sliceBytes / sizeof(int32_t);
  const size_t slices = (kCount + sliceElements - 1) / sliceElements;
  ASSERT_LT(failingSlice, slices);
  Ranks ranks = makeThreadRanks(size, testConfig(kTimeoutMs));
  std::vector<std::string> errors(size);
  std::vector<double> seconds(size);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    HostCopyEngine engine;
    auto* buffer = reinterpret_cast<int32_t*>(engine.allocateDevice(kCount * sizeof(int32_t)));
    if (rank == failingRank) {
      HostCopyFaults faults;
      faults.delay = std::chrono::microseconds(200);
      faults.failAddress = buffer + failingSlice * sliceElements + 1;
      engine.setFaults(faults);
    }
    const auto start = Clock::now();
    try {
      StagedCollectives staged(comm, engine, kSmall);
      staged.allreduce(buffer, buffer, kCount, DataType::kInt32, ReduceOp::kSum);
    } catch (const Error& e) {
      errors[rank] = e.what();
    }
    seconds[rank] = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_EQ(engine.copiesUnsettled(), 0u) << "rank " << rank << " threw before draining";
    EXPECT_EQ(engine.stagingHighWater(), kSmall.slots * kSmall.sliceBytes);
  });
  for (int rank = 0; rank < size; ++rank) {
    // Peers fail in the allreduce of the same slice, with the failing rank's abort notice.
    EXPECT_NE(errors[rank].find(strCat("allreduce of device buffers on rank ", rank, ": slice ")),
              std::string::npos)
        << "rank " << rank << ": " << errors[rank];
    // By the abort, not by waiting the timeout out.
    EXPECT_LT(seconds[rank], 5.0) << "rank " << rank;
  }
  const std::string& failed = errors[failingRank];
  EXPECT_NE(failed.find(strCat("on rank ", failingRank, ": slice ", failingSlice, " of ", slices)),
            std::string::npos)
      << failed;
  EXPECT_NE(failed.find("device->host"), std::string::npos) << failed;
}

TEST(StagedCollectives, FailingCopyNamesTheSliceAndFailsThePeers) {
  checkFailure(2, 1, 0);
  checkFailure(3, 1, 7);
  checkFailure(4, 3, 62);  // the last slice
}

TEST(StagedCollectives, FailingNthCopy) {
  Ranks ranks = makeThreadRanks(2, testConfig(3000));
  std::vector<std::string> errors(2);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    HostCopyFaults faults;
    if (rank == 0) faults.failCopy = 5;
    HostCopyEngine engine(faults);
    std::byte* buffer = engine.allocateDevice(1000 * sizeof(float));
    try {
      StagedCollectives staged(comm, engine, kSmall);
      staged.allreduce(buffer, buffer, 1000, DataType::kFloat32, ReduceOp::kAvg);
    } catch (const Error& e) {
      errors[rank] = e.what();
    }
    EXPECT_EQ(engine.copiesUnsettled(), 0u) << "rank " << rank << " threw before draining";
  });
  EXPECT_NE(errors[0].find("on rank 0: slice "), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("copy 5 ("), std::string::npos) << errors[0];
  EXPECT_FALSE(errors[1].empty());
}

// With a copy latency D and S slices, copying one slice at a time would take S x 2D; with 4
// slots the pipeline keeps the copies of several slices in flight together. What is asserted
// is that overlap, as the stand-in engine counts it, not a time (a loaded machine's scheduling
// must not fail the test); the time is printed.
TEST(StagedCollectives, CopiesOverlap) {
  constexpr auto kDelay = std::chrono::milliseconds(50);
  constexpr size_t kSlices = 8;
  constexpr StagingOptions kOptions{.sliceBytes = 1024, .slots = 4};
  const size_t count = kSlices * kOptions.sliceBytes / sizeof(float);
  Ranks ranks = makeThreadRanks(2, testConfig(20000));
  HostCopyFaults faults;
  faults.delay = kDelay;
  auto gpus = makeGpus(ranks, kOptions, faults);
  std::vector<double> seconds(2);
  onEveryRank(ranks, [&](int rank, Communicator&) {
    Gpu& gpu = *gpus[rank];
    std::vector<float> host(count);
    perf::fillInput(host.data(), count, gcclFloat32, gcclSum, rank, 2);
    std::byte* buffer = gpu.engine.allocateDevice(count * sizeof(float));
    std::memcpy(buffer, host.data(), count * sizeof(float));
    const auto start = Clock::now();
    gpu.staged.allreduce(buffer, buffer, count, DataType::kFloat32, ReduceOp::kSum);
    seconds[rank] = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_EQ(perf::countWrong(buffer, count, gcclFloat32, gcclSum, 2), 0u);
    EXPECT_EQ(gpu.engine.copiesQueued(), 2 * kSlices);
    // One slot would never have two copies in flight (the mutation check of this test).
    EXPECT_GE(gpu.engine.copiesInFlightHighWater(), 2u) << "rank " << rank;
  });
  const double serial = kSlices * 2 * std::chrono::duration<double>(kDelay).count();
  for (int rank = 0; rank < 2; ++rank) {
    std::cout << "rank " << rank << ": " << kSlices << " slices in " << seconds[rank]
              << " s (one at a time: " << serial << " s)\n";
  }
}

}  // namespace
}  // namespace gccl
