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

const std::array<Algorithm, 2> kAlgorithms = {{
    {CollectiveKind::kAllreduce, AlgorithmId::kRing, "ring", always, ringPeers, ringAllreduce},
    {CollectiveKind::kAllreduce, AlgorithmId::kRecursiveDoubling, "recursive_doubling",
     recursiveDoublingSupports, recursiveDoublingPeers, recursiveDoublingAllreduce},
}};

// Below this size latency dominates: log2(n) exchanges beat the ring's 2(n-1) steps.
// Measured crossover on loopback TCP: see docs/tuning.md.
constexpr size_t kSmallMessageBytes = 32 * 1024;

// Recursive doubling sends the whole buffer as one message and receives it into scratch; above
// this size even a forced GCCL_ALGO=recursive_doubling runs the ring instead.
constexpr size_t kMaxWholeMessageBytes = 16 << 20;

const Algorithm& find(AlgorithmId id) {
  for (const auto& algorithm : kAlgorithms) {
    if (algorithm.id == id) return algorithm;
  }
  fail(Status::kInternalError, "algorithm ", static_cast<int>(id), " is not in the table");
}

bool fits(const Algorithm& algorithm, int size, size_t bytes) {
  if (!algorithm.supports(size)) return false;
  return algorithm.id != AlgorithmId::kRecursiveDoubling || bytes <= kMaxWholeMessageBytes;
}

const Algorithm& automatic(CollectiveKind collective, int size, size_t bytes) {
  switch (collective) {
    case CollectiveKind::kAllreduce: {
      const Algorithm& doubling = find(AlgorithmId::kRecursiveDoubling);
      return bytes <= kSmallMessageBytes && doubling.supports(size)
                 ? doubling
                 : find(AlgorithmId::kRing);
    }
  }
  fail(Status::kInternalError, "no algorithm for collective ", static_cast<int>(collective));
}

}  // namespace

std::span<const Algorithm> algorithms() {
  return kAlgorithms;
}

std::vector<int> connectionPeers(int rank, int size) {
  std::set<int> peers;
  for (const auto& algorithm : kAlgorithms) {
    if (!algorithm.supports(size)) continue;
    for (int peer : algorithm.peers(rank, size)) peers.insert(peer);
  }
  return {peers.begin(), peers.end()};
}

std::string_view algorithmName(AlgorithmId id) {
  for (const auto& algorithm : kAlgorithms) {
    if (algorithm.id == id) return algorithm.name;
  }
  return "unknown";
}

const Algorithm& selectAlgorithm(CollectiveKind collective, std::string_view requested, int size,
                                 size_t bytes) {
  if (requested == "auto" || requested.empty()) return automatic(collective, size, bytes);
  std::string known = "auto";
  for (const auto& algorithm : kAlgorithms) {
    if (algorithm.collective != collective) continue;
    if (algorithm.name == requested) {
      return fits(algorithm, size, bytes) ? algorithm : automatic(collective, size, bytes);
    }
    known += strCat(", ", algorithm.name);
  }
  fail(Status::kInvalidArgument, "GCCL_ALGO=", requested, " is not an ", collectiveName(collective),
       " algorithm (", known, ")");
}

}  // namespace gccl
