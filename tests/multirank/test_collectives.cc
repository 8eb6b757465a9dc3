// Every collective, as ranks that are threads over the in-process transport: broadcast, reduce,
// allgather, allgatherv, reduce-scatter, all-to-all(v) and barrier, for rank counts 1..16 x counts
// x every dtype x every op x in place / out of place x roots, with exact expected values on
// every rank (integer-valued data, so every algorithm must agree to the bit). Once per
// algorithm: the ring, and the log(n) ones (tree, recursive_doubling, halving_doubling) and
// the one-round ones (one_shot, direct) on fewer rank counts, each for the collectives that
// have it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "algorithms/registry.h"
#include "bootstrap/memory_store.h"
#include "bootstrap/tcp_store.h"
#include "core/communicator.h"
#include "transport/inproc/inproc_transport.h"
#include "verifiable.h"

namespace gccl {
namespace {

using Bytes = std::vector<unsigned char>;

constexpr gcclDataType_t kTypes[] = {gcclInt8,    gcclUint8,  gcclInt32,   gcclUint32,
                                     gcclInt64,   gcclUint64, gcclFloat16, gcclBfloat16,
                                     gcclFloat32, gcclFloat64};
constexpr gcclRedOp_t kOps[] = {gcclSum, gcclProd, gcclMin, gcclMax, gcclAvg};

class Ranks {
 public:
  // By default several slices per block at 1000 elements and above.
  Ranks(int size, const std::string& algorithm, size_t chunkBytes = 4096) : size_(size) {
    Config config;
    config.algorithm = algorithm;
    config.chunkBytes = chunkBytes;
    config.timeoutMs = 20000;
    const TransportRouter router(std::make_shared<transport::inproc::InprocTransport>(
        std::make_shared<transport::inproc::InprocFabric>()));
    for (int r = 0; r < size; ++r) {
      ranks_.push_back(std::make_unique<Communicator>(
          r, size, config, JobToken{}, std::make_unique<MemoryStore>(), nullptr, router));
    }
  }

  int size() const { return size_; }

  // Starts calls[r] on every rank r, in rank order from this thread, and waits for all.
  std::vector<std::shared_ptr<Request>> finish(const std::vector<CollectiveCall>& calls) {
    std::vector<std::shared_ptr<Request>> requests;
    for (int r = 0; r < size_; ++r) requests.push_back(ranks_[r]->start(calls[r], false));
    for (const auto& request : requests) request->wait();
    return requests;
  }

  // finish(), then false (with a failure) on any error.
  bool run(const std::vector<CollectiveCall>& calls) {
    const std::vector<std::shared_ptr<Request>> requests = finish(calls);
    bool ok = true;
    for (int r = 0; r < size_; ++r) {
      if (requests[r]->status() != Status::kSuccess) {
        ADD_FAILURE() << "rank " << r << ": " << requests[r]->message();
        ok = false;
      }
    }
    return ok;
  }

 private:
  int size_;
  std::vector<std::unique_ptr<Communicator>> ranks_;
};

size_t bytesOf(size_t count, gcclDataType_t type) {
  return count * gcclTypeSize(type);
}

CollectiveCall callOf(CollectiveKind kind, const void* input, void* output, size_t count,
                      gcclDataType_t type, gcclRedOp_t op, int root = 0) {
  CollectiveCall call;
  call.kind = kind;
  call.input = input;
  call.output = output;
  call.count = count;
  call.type = static_cast<DataType>(type);
  call.op = static_cast<ReduceOp>(op);
  call.root = root;
  return call;
}

// Receive buffers start as garbage (0xAB) with one guard byte past the end.
Bytes garbage(size_t bytes) {
  return Bytes(bytes + 1, 0xAB);
}

std::string label(const char* what, int size, size_t count, gcclDataType_t type, gcclRedOp_t op,
                  bool inPlace, int root = -1) {
  return std::string(what) + " size " + std::to_string(size) + " count " + std::to_string(count) +
         " type " + std::to_string(type) + " op " + std::to_string(op) +
         (inPlace ? " in place" : "") + (root >= 0 ? " root " + std::to_string(root) : "");
}

void checkBroadcast(Ranks& ranks, size_t count, gcclDataType_t type, bool inPlace, int root) {
  const int n = ranks.size();
  std::vector<Bytes> in(n), out(n);
  std::vector<CollectiveCall> calls;
  for (int r = 0; r < n; ++r) {
    out[r] = garbage(bytesOf(count, type));
    in[r] = garbage(bytesOf(count, type));
    if (r == root) perf::fillInput((inPlace ? out : in)[r].data(), count, type, gcclSum, r, n);
    const void* input = r != root ? nullptr : inPlace ? out[r].data() : in[r].data();
    calls.push_back(
        callOf(CollectiveKind::kBroadcast, input, out[r].data(), count, type, gcclSum, root));
  }
  const std::string what = label("broadcast", n, count, type, gcclSum, inPlace, root);
  ASSERT_TRUE(ranks.run(calls)) << what;
  for (int r = 0; r < n; ++r) {
    ASSERT_EQ(perf::countWrongInput(out[r].data(), count, type, gcclSum, root, n), 0u)
        << what << " rank " << r;
    ASSERT_EQ(out[r][bytesOf(count, type)], 0xAB) << what << " wrote past the end";
  }
}

void checkReduce(Ranks& ranks, size_t count, gcclDataType_t type, gcclRedOp_t op, bool inPlace,
                 int root) {
  const int n = ranks.size();
  std::vector<Bytes> in(n), out(n);
  std::vector<CollectiveCall> calls;
  for (int r = 0; r < n; ++r) {
    in[r] = garbage(bytesOf(count, type));
    out[r] = garbage(bytesOf(count, type));
    perf::fillInput(in[r].data(), count, type, op, r, n);
    void* output = r != root ? nullptr : inPlace ? in[r].data() : out[r].data();
    calls.push_back(callOf(CollectiveKind::kReduce, in[r].data(), output, count, type, op, root));
  }
  const std::string what = label("reduce", n, count, type, op, inPlace, root);
  ASSERT_TRUE(ranks.run(calls)) << what;
  const Bytes& result = inPlace ? in[root] : out[root];
  ASSERT_EQ(perf::countWrong(result.data(), count, type, op, n), 0u) << what;
  ASSERT_EQ(result[bytesOf(count, type)], 0xAB) << what << " wrote past the end";
  for (int r = 0; r < n; ++r) {
    if (r == root) continue;
    ASSERT_EQ(perf::countWrongInput(in[r].data(), count, type, op, r, n), 0u)
        << what << ": rank " << r << "'s input was written";
  }
}

void checkAllgather(Ranks& ranks, size_t count, gcclDataType_t type, bool inPlace) {
  const int n = ranks.size();
  std::vector<Bytes> in(n), out(n);
  std::vector<CollectiveCall> calls;
  const size_t block = bytesOf(count, type);
  for (int r = 0; r < n; ++r) {
    in[r] = garbage(block);
    out[r] = garbage(block * n);
    unsigned char* mine = inPlace ? out[r].data() + block * r : in[r].data();
    perf::fillInput(mine, count, type, gcclSum, r, n);
    calls.push_back(callOf(CollectiveKind::kAllgather, mine, out[r].data(), count, type, gcclSum));
  }
  const std::string what = label("allgather", n, count, type, gcclSum, inPlace);
  ASSERT_TRUE(ranks.run(calls)) << what;
  for (int r = 0; r < n; ++r) {
    for (int b = 0; b < n; ++b) {
      ASSERT_EQ(perf::countWrongInput(out[r].data() + block * b, count, type, gcclSum, b, n), 0u)
          << what << " rank " << r << " block " << b;
    }
    ASSERT_EQ(out[r][block * n], 0xAB) << what << " wrote past the end";
  }
}

// Blocks of different lengths (some empty), laid out in reverse rank order with a one-element
// gap before each; an empty block's displacement points far past the buffer (it names no
// element, so it sizes nothing). Out of place, the send buffer follows the receive buffer's
// last element in the same allocation, which therefore does not overlap it.
void checkAllgatherV(Ranks& ranks, size_t count, gcclDataType_t type, bool inPlace) {
  const int n = ranks.size();
  std::vector<Range> blocks(n);
  size_t end = 0;
  for (int b = n - 1; b >= 0; --b) {
    const size_t length = (count * (b + 1)) % (count + 3);
    blocks[b] = {length == 0 ? end + 1000000 : end + 1, length};
    if (length > 0) end = blocks[b].end();
  }
  const size_t es = gcclTypeSize(type);
  std::vector<Bytes> out(n);
  std::vector<CollectiveCall> calls;
  for (int r = 0; r < n; ++r) {
    out[r] = garbage((end + blocks[r].count) * es);  // the receive buffer, then the send buffer
    unsigned char* mine = out[r].data() + (inPlace ? blocks[r].offset : end) * es;
    perf::fillInput(mine, blocks[r].count, type, gcclSum, r, n);
    CollectiveCall call =
        callOf(CollectiveKind::kAllgatherV, mine, out[r].data(), 0, type, gcclSum);
    call.blocks = blocks;
    calls.push_back(call);
  }
  const std::string what = label("allgatherv", n, count, type, gcclSum, inPlace);
  ASSERT_TRUE(ranks.run(calls)) << what;
  for (int r = 0; r < n; ++r) {
    for (int b = 0; b < n; ++b) {
      ASSERT_EQ(perf::countWrongInput(out[r].data() + blocks[b].offset * es, blocks[b].count, type,
                                      gcclSum, b, n),
                0u)
          << what << " rank " << r << " block " << b;
    }
    ASSERT_EQ(perf::countWrongInput(out[r].data() + end * es, inPlace ? 0 : blocks[r].count, type,
                                    gcclSum, r, n),
              0u)
        << what << " rank " << r << ": the send buffer changed";
    ASSERT_EQ(out[r][(end + blocks[r].count) * es], 0xAB) << what << " wrote past the end";
  }
}

void checkReduceScatter(Ranks& ranks, size_t count, gcclDataType_t type, gcclRedOp_t op,
                        bool inPlace) {
  const int n = ranks.size();
  std::vector<Bytes> in(n), out(n);
  std::vector<CollectiveCall> calls;
  const size_t block = bytesOf(count, type);
  for (int r = 0; r < n; ++r) {
    in[r] = garbage(block * n);
    out[r] = garbage(block);
    perf::fillInput(in[r].data(), count * n, type, op, r, n);
    void* output = inPlace ? in[r].data() + block * r : out[r].data();
    calls.push_back(callOf(CollectiveKind::kReduceScatter, in[r].data(), output, count, type, op));
  }
  const std::string what = label("reduce-scatter", n, count, type, op, inPlace);
  ASSERT_TRUE(ranks.run(calls)) << what;
  for (int r = 0; r < n; ++r) {
    const unsigned char* result = inPlace ? in[r].data() + block * r : out[r].data();
    ASSERT_EQ(perf::countWrong(result, count, type, op, n, count * r), 0u) << what << " rank " << r;
    if (!inPlace) {
      ASSERT_EQ(out[r][block], 0xAB) << what << " wrote past the end";
    }
  }
}

// Rank s's send buffer holds its input elements [0, n x count), block p for rank p; rank r
// must end with rank s's block r (s's elements from r x count on) at block s. The send buffer
// must come through unchanged.
void checkAllToAll(Ranks& ranks, size_t count, gcclDataType_t type, bool inPlace) {
  const int n = ranks.size();
  std::vector<Bytes> in(n), out(n);
  std::vector<CollectiveCall> calls;
  const size_t block = bytesOf(count, type);
  for (int r = 0; r < n; ++r) {
    in[r] = garbage(block * n);
    out[r] = garbage(block * n);
    unsigned char* input = (inPlace ? out : in)[r].data();
    perf::fillInput(input, count * n, type, gcclSum, r, n);
    calls.push_back(callOf(CollectiveKind::kAllToAll, input, out[r].data(), count, type, gcclSum));
  }
  const std::string what = label("alltoall", n, count, type, gcclSum, inPlace);
  ASSERT_TRUE(ranks.run(calls)) << what;
  for (int r = 0; r < n; ++r) {
    for (int s = 0; s < n; ++s) {
      ASSERT_EQ(
          perf::countWrongInput(out[r].data() + block * s, count, type, gcclSum, s, n, count * r),
          0u)
          << what << " rank " << r << " block " << s;
    }
    ASSERT_EQ(out[r][block * n], 0xAB) << what << " wrote past the end";
    if (!inPlace) {
      ASSERT_EQ(perf::countWrongInput(in[r].data(), count * n, type, gcclSum, r, n), 0u)
          << what << " rank " << r << ": the send buffer changed";
    }
  }
}

// Rank s's block for rank r of an alltoallv: some empty. In place symmetric, so that each
// rank receives as much from a rank as it sends it; out of place not.
size_t pairCount(size_t count, int s, int r, bool inPlace) {
  const int weight = inPlace ? s + r + 1 : 2 * s + r + 1;
  return count * static_cast<size_t>(weight) % (count + 3);
}

// Alltoallv: rank s's block for r holds s's input elements from r x (count + 3) on. The
// receive blocks lie in reverse rank order with a one-element gap before each, an empty one's
// displacement far past the buffer; out of place the send blocks follow in rank order, after
// the receive buffer's end in the same allocation (in place they are the receive blocks).
void checkAllToAllV(Ranks& ranks, size_t count, gcclDataType_t type, bool inPlace) {
  const int n = ranks.size();
  const size_t es = gcclTypeSize(type);
  const size_t stride = count + 3;
  std::vector<Bytes> buffers(n);
  std::vector<std::vector<Range>> received(n), sent(n);
  std::vector<size_t> ends(n);
  std::vector<CollectiveCall> calls;
  for (int r = 0; r < n; ++r) {
    received[r].resize(n);
    size_t end = 0;
    for (int p = n - 1; p >= 0; --p) {
      const size_t length = pairCount(count, p, r, inPlace);
      received[r][p] = {length == 0 ? end + 1000000 : end + 1, length};
      if (length > 0) end = received[r][p].end();
    }
    ends[r] = end;
    for (int p = 0; p < n; ++p) {
      const Range block{inPlace ? received[r][p].offset : end, pairCount(count, r, p, inPlace)};
      sent[r].push_back(block);
      if (!inPlace) end += block.count;
    }
    buffers[r] = garbage(end * es);
    for (int p = 0; p < n; ++p) {
      perf::fillInput(buffers[r].data() + sent[r][p].offset * es, sent[r][p].count, type, gcclSum,
                      r, n, p * stride);
    }
    const unsigned char* input = buffers[r].data() + (inPlace ? 0 : ends[r] * es);
    CollectiveCall call =
        callOf(CollectiveKind::kAllToAllV, input, buffers[r].data(), 0, type, gcclSum);
    call.blocks = received[r];
    if (!inPlace) {
      for (Range block : sent[r]) call.sendBlocks.push_back({block.offset - ends[r], block.count});
    }
    calls.push_back(call);
  }
  const std::string what = label("alltoallv", n, count, type, gcclSum, inPlace);
  ASSERT_TRUE(ranks.run(calls)) << what;
  for (int r = 0; r < n; ++r) {
    for (int s = 0; s < n; ++s) {
      const Range block = received[r][s];
      ASSERT_EQ(perf::countWrongInput(buffers[r].data() + block.offset * es, block.count, type,
                                      gcclSum, s, n, r * stride),
                0u)
          << what << " rank " << r << " block from " << s;
    }
    for (int p = 0; p < n && !inPlace; ++p) {
      ASSERT_EQ(perf::countWrongInput(buffers[r].data() + sent[r][p].offset * es, sent[r][p].count,
                                      type, gcclSum, r, n, p * stride),
                0u)
          << what << " rank " << r << ": the send buffer changed";
    }
    const size_t end = inPlace ? ends[r] : sent[r].back().end();
    ASSERT_EQ(buffers[r][end * es], 0xAB) << what << " wrote past the end";
  }
}

// (rank count, GCCL_ALGO). A collective without that algorithm would run its automatic
// choice, which the ring's run already covers: it is skipped.
class Collectives : public testing::TestWithParam<std::tuple<int, std::string>> {
 protected:
  int size() const { return std::get<0>(GetParam()); }
  const std::string& algorithm() const { return std::get<1>(GetParam()); }
  bool runs(CollectiveKind kind) const {
    if (algorithm() == "ring") return true;
    for (const Algorithm& row : algorithms()) {
      if (row.collective == kind && row.name == algorithm()) return true;
    }
    return false;
  }
};

TEST_P(Collectives, ExactForEveryCountTypeOpPlacementAndRoot) {
  using K = CollectiveKind;
  Ranks ranks(size(), algorithm());
  const int n = ranks.size();
  const std::vector<int> roots =
      n > 2 ? std::vector<int>{0, n / 2, n - 1} : std::vector<int>{0, n - 1};
  for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}}) {
    for (gcclDataType_t type : kTypes) {
      for (bool inPlace : {false, true}) {
        for (int root : roots) {
          if (runs(K::kBroadcast)) checkBroadcast(ranks, count, type, inPlace, root);
        }
        if (runs(K::kAllgather)) checkAllgather(ranks, count, type, inPlace);
        if (runs(K::kAllgatherV)) checkAllgatherV(ranks, count, type, inPlace);
        if (runs(K::kAllToAll)) checkAllToAll(ranks, count, type, inPlace);
        if (runs(K::kAllToAllV)) checkAllToAllV(ranks, count, type, inPlace);
        for (gcclRedOp_t op : kOps) {
          for (int root : roots) {
            if (runs(K::kReduce)) checkReduce(ranks, count, type, op, inPlace, root);
          }
          if (runs(K::kReduceScatter)) checkReduceScatter(ranks, count, type, op, inPlace);
        }
        if (HasFatalFailure()) return;
      }
    }
  }
}

// Many slices per block and a last slice shorter than the others.
TEST_P(Collectives, ExactForLargePipelinedCounts) {
  using K = CollectiveKind;
  Ranks ranks(size(), algorithm());
  const size_t count = (size_t{1} << 16) + 3;
  for (gcclDataType_t type : {gcclInt32, gcclFloat16, gcclFloat64}) {
    for (bool inPlace : {false, true}) {
      if (runs(K::kBroadcast)) checkBroadcast(ranks, count, type, inPlace, ranks.size() - 1);
      if (runs(K::kAllgather)) checkAllgather(ranks, count, type, inPlace);
      if (runs(K::kAllgatherV)) checkAllgatherV(ranks, count, type, inPlace);
      if (runs(K::kAllToAll)) checkAllToAll(ranks, count, type, inPlace);
      if (runs(K::kAllToAllV)) checkAllToAllV(ranks, count, type, inPlace);
      if (runs(K::kReduce)) checkReduce(ranks, count, type, gcclSum, inPlace, ranks.size() / 2);
      if (runs(K::kReduceScatter)) checkReduceScatter(ranks, count, type, gcclAvg, inPlace);
      if (HasFatalFailure()) return;
    }
  }
}

TEST_P(Collectives, BarrierCompletesOnEveryRank) {
  // (Milliseconds: not worth skipping for an algorithm without a barrier of its own.)
  Ranks ranks(size(), algorithm());
  std::vector<CollectiveCall> calls(ranks.size());
  for (auto& call : calls) call.kind = CollectiveKind::kBarrier;
  for (int round = 0; round < 3; ++round) ASSERT_TRUE(ranks.run(calls));
}

// Alltoallv through relays, as requests started from one thread (the count exchange that
// goes first does not block the start): a pair whose counts disagree, and blocks too large
// for the slices, fail every rank's request alike, before any block moves, and the ranks go
// on with the next call.
TEST(RelayedAllToAllV, RefusalsFailEveryRankAndTheRanksGoOn) {
  constexpr int kSize = 3;
  Ranks ranks(kSize, "recursive_doubling", 64);
  constexpr size_t kLarge = 600000;  // 16-element slices: more than 32768 x 16 relayed
  std::vector<std::vector<int32_t>> in(kSize, std::vector<int32_t>(kLarge)), out = in;
  const auto callsWith = [&](const auto& sends) {  // sends(s, d): elements s sends d
    std::vector<CollectiveCall> calls;
    for (int r = 0; r < kSize; ++r) {
      CollectiveCall call;
      call.kind = CollectiveKind::kAllToAllV;
      call.type = DataType::kInt32;
      call.input = in[r].data();
      call.output = out[r].data();
      size_t end = 0;
      for (int p = 0; p < kSize; ++p) {
        call.sendBlocks.push_back({0, sends(r, p)});  // send blocks may overlap
        call.blocks.push_back({end, sends(p, r)});
        end += sends(p, r);
      }
      calls.push_back(call);
    }
    return calls;
  };
  const struct {
    std::function<size_t(int, int)> sends;
    Status status;
    std::string names;
  } refusals[] = {
      {[](int s, int d) { return size_t{s == 2 && d == 0 ? 3u : 2u}; }, Status::kInvalidUsage,
       "rank 2 sends 3 elements to rank 0, which expects 2"},
      {[](int s, int d) { return s == 0 && d == 1 ? kLarge : 0; }, Status::kInvalidArgument,
       "raise GCCL_CHUNK_BYTES"},
  };
  for (const auto& refusal : refusals) {
    std::vector<CollectiveCall> calls = callsWith(refusal.sends);
    // Rank 0 expects 2 elements from rank 2, which sends it 3.
    if (refusal.status == Status::kInvalidUsage) calls[0].blocks[2].count = 2;
    for (auto& buffer : out) std::fill(buffer.begin(), buffer.end(), -1);
    const auto requests = ranks.finish(calls);
    for (int r = 0; r < kSize; ++r) {
      EXPECT_EQ(requests[r]->status(), refusal.status) << "rank " << r;
      EXPECT_NE(requests[r]->message().find(refusal.names), std::string::npos)
          << "rank " << r << ": " << requests[r]->message();
      EXPECT_EQ(std::count(out[r].begin(), out[r].end(), -1), static_cast<long>(kLarge))
          << "rank " << r << ": a block moved";
    }
    checkAllToAllV(ranks, 7, gcclInt32, false);
    if (HasFatalFailure()) return;
  }
}

// "ring_size3": the TSan run selects sizes by the name's end.
std::string caseName(const testing::TestParamInfo<std::tuple<int, std::string>>& info) {
  return std::get<1>(info.param) + "_size" + std::to_string(std::get<0>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Ranks, Collectives,
                         testing::Combine(testing::Values(1, 2, 3, 4, 5, 7, 8, 13, 16),
                                          testing::Values("ring")),
                         caseName);

INSTANTIATE_TEST_SUITE_P(LogN, Collectives,
                         testing::Combine(testing::Values(1, 2, 3, 5, 8, 13, 16),
                                          testing::Values("tree", "recursive_doubling",
                                                          "halving_doubling", "one_shot",
                                                          "direct")),
                         caseName);

}  // namespace
}  // namespace gccl
