#include "algorithms/registry.h"

#include <array>
#include <set>

#include "algorithms/double_tree.h"
#include "algorithms/halving_doubling.h"
#include "algorithms/hierarchical.h"
#include "algorithms/recursive_doubling.h"
#include "algorithms/ring.h"
#include "base/error.h"

namespace gccl {

namespace {

bool always(const ScheduleShape&) {
  return true;
}

std::vector<int> ringNeighbours(const ScheduleShape& shape) {
  return ringPeers(shape.rank, shape.size);
}

bool powerOfTwo(const ScheduleShape& shape) {
  return recursiveDoublingSupports(shape.size);
}

std::vector<int> doublingPartners(const ScheduleShape& shape) {
  return recursiveDoublingPeers(shape.rank, shape.size);
}

std::vector<int> treeNeighbours(const ScheduleShape& shape) {
  return doubleTreePeers(shape.rank, shape.size);
}

std::vector<int> halvingPartners(const ScheduleShape& shape) {
  return halvingDoublingPeers(shape.rank, shape.size);
}

using K = CollectiveKind;
using A = AlgorithmId;

// A barrier is an allreduce of nothing: no rank completes before every rank has sent.
const std::array<Algorithm, 12> kAlgorithms = {{
    {K::kAllreduce, A::kRing, "ring", always, ringNeighbours, ringAllreduce},
    {K::kAllreduce, A::kRecursiveDoubling, "recursive_doubling", powerOfTwo, doublingPartners,
     recursiveDoublingAllreduce},
    {K::kAllreduce, A::kTree, "tree", always, treeNeighbours, doubleTreeAllreduce},
    {K::kAllreduce, A::kHalvingDoubling, "halving_doubling", always, halvingPartners,
     halvingDoublingAllreduce},
    {K::kAllreduce, A::kHierarchical, "hierarchical", hierarchicalSupports, hierarchicalPeers,
     hierarchicalAllreduce},
    {K::kBroadcast, A::kRing, "ring", always, ringNeighbours, ringBroadcast},
    {K::kReduce, A::kRing, "ring", always, ringNeighbours, ringReduce},
    {K::kAllgather, A::kRing, "ring", always, ringNeighbours, ringAllgather},
    {K::kAllgatherV, A::kRing, "ring", always, ringNeighbours, ringAllgatherV},
    {K::kReduceScatter, A::kRing, "ring", always, ringNeighbours, ringReduceScatter},
    {K::kBarrier, A::kRing, "ring", always, ringNeighbours, ringAllreduce},
    {K::kBarrier, A::kRecursiveDoubling, "recursive_doubling", powerOfTwo, doublingPartners,
     recursiveDoublingAllreduce},
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

bool fits(const Algorithm& algorithm, const ScheduleShape& shape, size_t bytes) {
  if (!algorithm.supports(shape)) return false;
  return algorithm.id != AlgorithmId::kRecursiveDoubling || bytes <= kMaxWholeMessageBytes;
}

const Algorithm& automatic(CollectiveKind collective, const ScheduleShape& shape, size_t bytes) {
  if (collective == K::kAllreduce || collective == K::kBarrier) {
    const Algorithm& doubling = find(collective, A::kRecursiveDoubling);
    if (bytes <= kSmallMessageBytes && doubling.supports(shape)) return doubling;
  }
  return find(collective, A::kRing);
}

}  // namespace

std::span<const Algorithm> algorithms() {
  return kAlgorithms;
}

std::vector<int> connectionPeers(const ScheduleShape& shape) {
  std::set<int> peers;
  for (const auto& algorithm : kAlgorithms) {
    if (!algorithm.supports(shape)) continue;
    for (int peer : algorithm.peers(shape)) peers.insert(peer);
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
const Algorithm& selectAlgorithm(CollectiveKind collective, std::string_view requested,
                                 const ScheduleShape& shape, size_t bytes) {
  if (requested == "auto" || requested.empty()) return automatic(collective, shape, bytes);
  bool known = false;
  for (const auto& algorithm : kAlgorithms) {
    if (algorithm.name != requested) continue;
    known = true;
    if (algorithm.collective == collective && fits(algorithm, shape, bytes)) return algorithm;
  }
  if (known) return automatic(collective, shape, bytes);
  std::string names = "auto";
  for (const auto& algorithm : kAlgorithms) {
    if (names.find(algorithm.name) == std::string::npos) names += strCat(", ", algorithm.name);
  }
  fail(Status::kInvalidArgument, "GCCL_ALGO=", requested, " is not an algorithm (", names, ")");
}

}  // namespace gccl
