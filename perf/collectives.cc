// The descriptors of collective.h. Each checks the output values tests/multirank/
// test_collectives.cc checks of the same collective, with the same exact inputs (the test also
// checks that inputs stay unchanged and nothing is written past the output).
#include "collective.h"

#include <vector>

#include "verifiable.h"

namespace gccl::perf {

namespace {

size_t bytesOf(const CallSetup& call, size_t elements) {
  return elements * gcclTypeSize(call.type);
}

int oneBlock(int) {
  return 1;
}
int blockPerRank(int nranks) {
  return nranks;
}

// nccl-tests' factors: the bytes a rank sends or receives per byte of the size column, on the
// busiest link of an ideal algorithm.
double allreduceBusBw(double algbw, int n) {
  return algbw * 2.0 * (n - 1) / n;
}
double blocksBusBw(double algbw, int n) {
  return algbw * (n - 1) / n;
}
double wholeBufferBusBw(double algbw, int) {
  return algbw;
}

// allreduce, broadcast, reduce: in place is one buffer.
Placement sameBuffer(const CallSetup& call, unsigned char* a, unsigned char* b) {
  return {a, call.inPlace ? a : b};
}

std::span<unsigned char> recvBlock(const CallSetup& call, Placement where) {
  return {where.recv, bytesOf(call, call.count)};
}

// Allgather, all-to-all: a block from every rank.
std::span<unsigned char> recvBlocks(const CallSetup& call, Placement where) {
  return {where.recv, bytesOf(call, call.count * call.nranks)};
}

// The wrong elements of the receive buffer's blocks, block b holding rank b's input pattern
// from element `first` on.
size_t wrongInBlocks(const CallSetup& call, Placement where, size_t first) {
  size_t wrong = 0;
  for (int block = 0; block < call.nranks; ++block) {
    wrong += countWrongInput(where.recv + bytesOf(call, call.count * block), call.count, call.type,
                             call.op, block, call.nranks, first);
  }
  return wrong;
}

// Everyone's input is the whole call: allreduce, reduce.
void fillAll(const CallSetup& call, Placement where) {
  fillInput(where.send, call.count, call.type, call.op, call.rank, call.nranks);
}

}  // namespace

const CollectiveSpec kAllreduceSpec{
    .name = "allreduce",
    .tool = "allreduce_perf",
    .kind = CollectiveKind::kAllreduce,
    .reduces = true,
    .rooted = false,
    .blocksPerRow = oneBlock,
    .busBw = allreduceBusBw,
    .place = sameBuffer,
    .fill = fillAll,
    .run = [](const CallSetup& c,
              Placement w) { return gcclAllReduce(w.send, w.recv, c.count, c.type, c.op, c.comm); },
    .result = recvBlock,
    .countWrong =
        [](const CallSetup& c, Placement w) {
          return perf::countWrong(w.recv, c.count, c.type, c.op, c.nranks);
        },
};

// Only the root's send buffer is read; every rank's output must equal the root's input.
const CollectiveSpec kBroadcastSpec{
    .name = "broadcast",
    .tool = "broadcast_perf",
    .kind = CollectiveKind::kBroadcast,
    .reduces = false,
    .rooted = true,
    .blocksPerRow = oneBlock,
    .busBw = wholeBufferBusBw,
    .place = sameBuffer,
    .fill =
        [](const CallSetup& c, Placement w) {
          if (c.rank == c.root) fillInput(w.send, c.count, c.type, c.op, c.root, c.nranks);
        },
    .run =
        [](const CallSetup& c, Placement w) {
          return gcclBroadcast(w.send, w.recv, c.count, c.type, c.root, c.comm);
        },
    .result = recvBlock,
    .countWrong =
        [](const CallSetup& c, Placement w) {
          return countWrongInput(w.recv, c.count, c.type, c.op, c.root, c.nranks);
        },
};

// Only the root's output is defined, so only the root checks (as nccl-tests does).
const CollectiveSpec kReduceSpec{
    .name = "reduce",
    .tool = "reduce_perf",
    .kind = CollectiveKind::kReduce,
    .reduces = true,
    .rooted = true,
    .blocksPerRow = oneBlock,
    .busBw = wholeBufferBusBw,
    .place = sameBuffer,
    .fill = fillAll,
    .run =
        [](const CallSetup& c, Placement w) {
          return gcclReduce(w.send, w.recv, c.count, c.type, c.op, c.root, c.comm);
        },
    .result =
        [](const CallSetup& c, Placement w) {
          return c.rank == c.root ? recvBlock(c, w) : std::span<unsigned char>();
        },
    .countWrong = [](const CallSetup& c, Placement w) -> size_t {
      if (c.rank != c.root) return 0;
      return perf::countWrong(w.recv, c.count, c.type, c.op, c.nranks);
    },
};

// In place, a rank's input is its own block of the output.
const CollectiveSpec kAllgatherSpec{
    .name = "allgather",
    .tool = "all_gather_perf",
    .kind = CollectiveKind::kAllgather,
    .reduces = false,
    .rooted = false,
    .blocksPerRow = blockPerRank,
    .busBw = blocksBusBw,
    .place = [](const CallSetup& c, unsigned char* a, unsigned char* b) -> Placement {
      return {c.inPlace ? b + bytesOf(c, c.count * c.rank) : a, b};
    },
    .fill = [](const CallSetup& c,
               Placement w) { fillInput(w.send, c.count, c.type, c.op, c.rank, c.nranks); },
    .run = [](const CallSetup& c,
              Placement w) { return gcclAllGather(w.send, w.recv, c.count, c.type, c.comm); },
    .result = recvBlocks,
    .countWrong = [](const CallSetup& c, Placement w) { return wrongInBlocks(c, w, 0); },
};

// Every rank contributes nranks blocks; rank r keeps the reduction of block r, whose exact
// values are those at element offset r x count of the input pattern. In place, that block of
// the send buffer is the output.
const CollectiveSpec kReduceScatterSpec{
    .name = "reduce_scatter",
    .tool = "reduce_scatter_perf",
    .kind = CollectiveKind::kReduceScatter,
    .reduces = true,
    .rooted = false,
    .blocksPerRow = blockPerRank,
    .busBw = blocksBusBw,
    .place = [](const CallSetup& c, unsigned char* a, unsigned char* b) -> Placement {
      return {a, c.inPlace ? a + bytesOf(c, c.count * c.rank) : b};
    },
    .fill =
        [](const CallSetup& c, Placement w) {
          fillInput(w.send, c.count * c.nranks, c.type, c.op, c.rank, c.nranks);
        },
    .run =
        [](const CallSetup& c, Placement w) {
          return gcclReduceScatter(w.send, w.recv, c.count, c.type, c.op, c.comm);
        },
    .result = recvBlock,
    .countWrong =
        [](const CallSetup& c, Placement w) {
          return perf::countWrong(w.recv, c.count, c.type, c.op, c.nranks, c.count * c.rank);
        },
};

// Every rank sends nranks blocks, block p to rank p: its input pattern's elements from
// p x count on. Rank r's block from rank s holds s's elements from r x count on. In place, one
// buffer is both.
const CollectiveSpec kAllToAllSpec{
    .name = "alltoall",
    .tool = "alltoall_perf",
    .kind = CollectiveKind::kAllToAll,
    .reduces = false,
    .rooted = false,
    .blocksPerRow = blockPerRank,
    .busBw = blocksBusBw,
    .place = [](const CallSetup& c, unsigned char* a, unsigned char* b) -> Placement {
      return {c.inPlace ? b : a, b};
    },
    .fill =
        [](const CallSetup& c, Placement w) {
          fillInput(w.send, c.count * c.nranks, c.type, c.op, c.rank, c.nranks);
        },
    .run = [](const CallSetup& c,
              Placement w) { return gcclAllToAll(w.send, w.recv, c.count, c.type, c.comm); },
    .result = recvBlocks,
    .countWrong = [](const CallSetup& c,
                     Placement w) { return wrongInBlocks(c, w, c.count * c.rank); },
};

// The all-to-all's blocks, data and checks through gcclAllToAllV, every count equal: what
// alltoallv costs over the all-to-all for the same messages (through relays, the exchange of
// every pair's count and the block-by-block packing).
const CollectiveSpec kAllToAllVSpec{
    .name = "alltoallv",
    .tool = "alltoallv_perf",
    .kind = CollectiveKind::kAllToAllV,
    .reduces = false,
    .rooted = false,
    .blocksPerRow = blockPerRank,
    .busBw = blocksBusBw,
    .place = kAllToAllSpec.place,
    .fill = kAllToAllSpec.fill,
    .run =
        [](const CallSetup& c, Placement w) {
          std::vector<size_t> counts(static_cast<size_t>(c.nranks), c.count);
          std::vector<size_t> displs;
          for (int p = 0; p < c.nranks; ++p) displs.push_back(c.count * static_cast<size_t>(p));
          return gcclAllToAllV(w.send, counts.data(), displs.data(), w.recv, counts.data(),
                               displs.data(), c.type, c.comm);
        },
    .result = recvBlocks,
    .countWrong = kAllToAllSpec.countWrong,
};

}  // namespace gccl::perf
