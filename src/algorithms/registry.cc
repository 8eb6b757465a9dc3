#include "algorithms/registry.h"

#include <array>
#include <set>

#include "algorithms/recursive_doubling.h"
#include "algorithms/ring.h"
#include "base/error.h"

namespace gccl {

namespace {

bool always(int) {
  return true;
}

const std::array<AllreduceAlgorithm, 2> kAlgorithms = {{
    {AlgorithmId::kRing, "ring", always, ringPeers, ringAllreduce},
    {AlgorithmId::kRecursiveDoubling, "recursive_doubling", recursiveDoublingSupports,
     recursiveDoublingPeers, recursiveDoublingAllreduce},
}};

// Below this size latency dominates: log2(n) exchanges beat the ring's 2(n-1) steps.
// Measured crossover on loopback TCP: see docs/tuning.md.
constexpr size_t kSmallMessageBytes = 32 * 1024;

// Recursive doubling sends the whole buffer as one message and receives it into scratch; above
// this size even a forced GCCL_ALGO=recursive_doubling runs the ring instead.
constexpr size_t kMaxWholeMessageBytes = 16 << 20;

}  // namespace

std::span<const AllreduceAlgorithm> allreduceAlgorithms() {
  return kAlgorithms;
}

std::vector<int> allreducePeers(int rank, int size) {
  std::set<int> peers;
  for (const auto& algorithm : kAlgorithms) {
    if (!algorithm.supports(size)) continue;
    for (int peer : algorithm.peers(rank, size)) peers.insert(peer);
  }
  return {peers.begin(), peers.end()};
}

const AllreduceAlgorithm& selectAllreduce(std::string_view requested, int size, size_t bytes) {
  const AllreduceAlgorithm& ring = kAlgorithms[0];
  const AllreduceAlgorithm& doubling = kAlgorithms[1];
  if (requested == "auto" || requested.empty()) {
    return bytes <= kSmallMessageBytes && doubling.supports(size) ? doubling : ring;
  }
  for (const auto& algorithm : kAlgorithms) {
    if (algorithm.name != requested) continue;
    const bool fits =
        algorithm.id != AlgorithmId::kRecursiveDoubling || bytes <= kMaxWholeMessageBytes;
    return algorithm.supports(size) && fits ? algorithm : ring;
  }
  fail(Status::kInvalidArgument, "GCCL_ALGO=", requested,
       " is not an allreduce algorithm (auto, ring, recursive_doubling)");
}

}  // namespace gccl
