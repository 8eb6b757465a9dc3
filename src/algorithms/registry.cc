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

using K = CollectiveKind;
using A = AlgorithmId;

// A barrier is an allreduce of nothing: no rank completes before every rank has sent.
const std::array<Algorithm, 9> kAlgorithms = {{
    {K::kAllreduce, A::kRing, "ring", always, ringPeers, ringAllreduce},
    {K::kAllreduce, A::kRecursiveDoubling, "recursive_doubling", recursiveDoublingSupports,
     recursiveDoublingPeers, recursiveDoublingAllreduce},
    {K::kBroadcast, A::kRing, "ring", always, ringPeers, ringBroadcast},
    {K::kReduce, A::kRing, "ring", always, ringPeers, ringReduce},
    {K::kAllgather, A::kRing, "ring", always, ringPeers, ringAllgather},
    {K::kAllgatherV, A::kRing, "ring", always, ringPeers, ringAllgatherV},
    {K::kReduceScatter, A::kRing, "ring", always, ringPeers, ringReduceScatter},
    {K::kBarrier, A::kRing, "ring", always, ringPeers, ringAllreduce},
    {K::kBarrier, A::kRecursiveDoubling, "recursive_doubling", recursiveDoublingSupports,
     recursiveDoublingPeers, recursiveDoublingAllreduce},
}};

// Below this size latency dominates: log2(n) exchanges beat the ring's 2(n-1) steps.
// Measured crossover on loopback TCP: see docs/tuning.md.
constexpr size_t kSmallMessageBytes = 32 * 1024;

// Recursive doubling sends the whole buffer as one message and receives it into scratch; above
// this size even a forced GCCL_ALGO=recursive_doubling runs the ring instead.
constexpr size_t kMaxWholeMessageBytes = 16 << 20;

const Algorithm& find(CollectiveKind collective, AlgorithmId id) {
  for (const auto& algorithm : kAlgorithms) {
    if (algorithm.collective == collective && algorithm.id == id) return algorithm;
  }
  fail(Status::kInternalError, "no ", collectiveName(collective), " algorithm ",
       static_cast<int>(id), " in the table");
}

bool fits(const Algorithm& algorithm, int size, size_t bytes) {
  if (!algorithm.supports(size)) return false;
  return algorithm.id != AlgorithmId::kRecursiveDoubling || bytes <= kMaxWholeMessageBytes;
}

const Algorithm& automatic(CollectiveKind collective, int size, size_t bytes) {
  if (collective == K::kAllreduce || collective == K::kBarrier) {
    const Algorithm& doubling = find(collective, A::kRecursiveDoubling);
    if (bytes <= kSmallMessageBytes && doubling.supports(size)) return doubling;
  }
  return find(collective, A::kRing);
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

// GCCL_ALGO names an algorithm of any collective; a collective that has no algorithm of that
// name (or cannot run it here) takes its automatic choice, so one setting serves a whole job.
const Algorithm& selectAlgorithm(CollectiveKind collective, std::string_view requested, int size,
                                 size_t bytes) {
  if (requested == "auto" || requested.empty()) return automatic(collective, size, bytes);
  bool known = false;
  for (const auto& algorithm : kAlgorithms) {
    if (algorithm.name != requested) continue;
    known = true;
    if (algorithm.collective == collective && fits(algorithm, size, bytes)) return algorithm;
  }
  if (known) return automatic(collective, size, bytes);
  std::string names = "auto";
  for (const auto& algorithm : kAlgorithms) {
    if (names.find(algorithm.name) == std::string::npos) names += strCat(", ", algorithm.name);
  }
  fail(Status::kInvalidArgument, "GCCL_ALGO=", requested, " is not an algorithm (", names, ")");
}

}  // namespace gccl
