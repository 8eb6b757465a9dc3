#include "algorithms/registry.h"

#include <algorithm>
#include <array>
#include <bit>
#include <map>
#include <set>

#include "algorithms/all_to_all.h"
#include "algorithms/binomial.h"
#include "algorithms/bruck.h"
#include "algorithms/direct.h"
#include "algorithms/double_tree.h"
#include "algorithms/halving_doubling.h"
#include "algorithms/hierarchical.h"
#include "algorithms/one_shot.h"
#include "algorithms/recursive_doubling.h"
#include "algorithms/recursive_halving.h"
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

std::vector<int> binomialNeighbours(const ScheduleShape& shape) {
  return binomialPeers(shape.rank, shape.size);
}

std::vector<int> bruckPartners(const ScheduleShape& shape) {
  return bruckPeers(shape.rank, shape.size);
}

bool fewEnoughForPairCounts(const ScheduleShape& shape) {
  return shape.size <= kMaxBruckAllToAllVRanks;
}

std::vector<int> halvingScatterPartners(const ScheduleShape& shape) {
  return recursiveHalvingPeers(shape.rank, shape.size);
}

using K = CollectiveKind;
using A = AlgorithmId;

// Per collective: the ring first (where there is one), then the others. A barrier is an
// allreduce of nothing: no rank completes before every rank has sent. All-to-all(v) has no
// ring: Bruck's is the one that runs everywhere (alltoallv's up to 1024 ranks), over the
// connections the others open.
const std::array<Algorithm, 25> kAlgorithms = {{
    {K::kAllreduce, A::kRing, "ring", always, ringNeighbours, ringAllreduce},
    {K::kAllreduce, A::kRecursiveDoubling, "recursive_doubling", powerOfTwo, doublingPartners,
     recursiveDoublingAllreduce},
    {K::kAllreduce, A::kTree, "tree", always, treeNeighbours, doubleTreeAllreduce},
    {K::kAllreduce, A::kHalvingDoubling, "halving_doubling", always, halvingPartners,
     halvingDoublingAllreduce},
    {K::kAllreduce, A::kHierarchical, "hierarchical", hierarchicalSupports, hierarchicalPeers,
     hierarchicalAllreduce},
    {K::kAllreduce, A::kDirect, "direct", directSupports, directPeers, directAllreduce},
    {K::kAllreduce, A::kOneShot, "one_shot", directSupports, directPeers, oneShotAllreduce},
    {K::kBroadcast, A::kRing, "ring", always, ringNeighbours, ringBroadcast},
    {K::kBroadcast, A::kTree, "tree", always, binomialNeighbours, binomialBroadcast},
    {K::kReduce, A::kRing, "ring", always, ringNeighbours, ringReduce},
    {K::kReduce, A::kTree, "tree", always, binomialNeighbours, binomialReduce},
    {K::kAllgather, A::kRing, "ring", always, ringNeighbours, ringAllgather},
    {K::kAllgather, A::kRecursiveDoubling, "recursive_doubling", always, bruckPartners,
     bruckAllgather},
    {K::kAllgatherV, A::kRing, "ring", always, ringNeighbours, ringAllgatherV},
    {K::kAllgatherV, A::kRecursiveDoubling, "recursive_doubling", always, bruckPartners,
     bruckAllgatherV},
    {K::kReduceScatter, A::kRing, "ring", always, ringNeighbours, ringReduceScatter},
    {K::kReduceScatter, A::kHalvingDoubling, "halving_doubling", always, halvingScatterPartners,
     recursiveHalvingReduceScatter},
    {K::kBarrier, A::kRing, "ring", always, ringNeighbours, ringAllreduce},
    {K::kBarrier, A::kRecursiveDoubling, "recursive_doubling", powerOfTwo, doublingPartners,
     recursiveDoublingAllreduce},
    {K::kBarrier, A::kHalvingDoubling, "halving_doubling", always, halvingPartners,
     halvingDoublingAllreduce},
    {K::kBarrier, A::kOneShot, "one_shot", directSupports, directPeers, oneShotAllreduce},
    {K::kAllToAll, A::kRecursiveDoubling, "recursive_doubling", always, bruckPartners,
     bruckAllToAll},
    {K::kAllToAll, A::kDirect, "direct", pairwiseAllToAllSupports, pairwiseAllToAllPeers,
     pairwiseAllToAll},
    {K::kAllToAllV, A::kRecursiveDoubling, "recursive_doubling", fewEnoughForPairCounts,
     bruckPartners, bruckAllToAllV},
    {K::kAllToAllV, A::kDirect, "direct", pairwiseAllToAllSupports, pairwiseAllToAllPeers,
     pairwiseAllToAllV},
}};

// Recursive doubling allreduce sends the whole buffer as one message and receives it into
// scratch; above this size even a forced GCCL_ALGO=recursive_doubling runs another algorithm.
// (Bruck's allgather, under the same name, sends slices: no bound.)
constexpr size_t kMaxWholeMessageBytes = 16 << 20;
// The one-shot allreduce sends n - 1 copies of the buffer and reduces n - 1; above this size
// (0.56x halving-doubling's speed at 64 KiB on 4 ranks already) it runs no more, and the tune
// does not time it.
constexpr size_t kMaxOneShotBytes = 1 << 20;

}  // namespace

bool fits(const Algorithm& algorithm, const ScheduleShape& shape, size_t bytes) {
  if (algorithm.build == recursiveDoublingAllreduce && bytes > kMaxWholeMessageBytes) return false;
  if (algorithm.build == oneShotAllreduce && bytes > kMaxOneShotBytes) return false;
  return algorithm.supports(shape);
}

namespace {

const Algorithm& automatic(CollectiveKind collective, const ScheduleShape& shape,
                           const CostInputs& costs) {
  const Algorithm* best = nullptr;
  double bestMicros = 0;
  for (const auto& algorithm : kAlgorithms) {
    if (algorithm.collective != collective || !fits(algorithm, shape, costs.bytes)) continue;
    const std::optional<double> micros = predictMicros(collective, algorithm.id, costs);
    if (!micros) continue;
    // A tie goes to the direct allreduce. It ties with the ring at 2 ranks, where both move
    // the same messages, but over shared memory it reduces from the peer's buffer where it
    // lies and writes the result back (Step::writeBack), which no figure here sees.
    const bool tieToDirect = *micros == bestMicros && algorithm.id == A::kDirect;
    if (best == nullptr || *micros < bestMicros || tieToDirect) {
      best = &algorithm;
      bestMicros = *micros;
    }
  }
  if (best != nullptr) return *best;
  // Nothing priced: the collective's first algorithm, which runs everywhere.
  const auto first = [&](const Algorithm& algorithm) { return algorithm.collective == collective; };
  return *std::find_if(kAlgorithms.begin(), kAlgorithms.end(), first);
}

}  // namespace

bool needsPairCounts(const Algorithm& algorithm) {
  return algorithm.build == bruckAllToAllV;
}

std::span<const Algorithm> algorithms() {
  return kAlgorithms;
}

Schedule buildSchedule(const Algorithm& algorithm, const ScheduleShape& shape) {
  Schedule schedule = algorithm.build(shape);
  if (shape.average) fuseDivides(schedule);
  return schedule;
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
                                 const ScheduleShape& shape, const CostInputs& costs) {
  if (requested == "auto" || requested.empty()) return automatic(collective, shape, costs);
  bool known = false;
  for (const auto& algorithm : kAlgorithms) {
    if (algorithm.name != requested) continue;
    known = true;
    if (algorithm.collective == collective && fits(algorithm, shape, costs.bytes)) {
      return algorithm;
    }
  }
  if (known) return automatic(collective, shape, costs);
  std::string names = "auto";
  for (const auto& algorithm : kAlgorithms) {
    if (names.find(algorithm.name) == std::string::npos) names += strCat(", ", algorithm.name);
  }
  fail(Status::kInvalidArgument, "GCCL_ALGO=", requested, " is not an algorithm (", names, ")");
}

namespace {

int sameHostDistance(const std::vector<int>& hostOf) {
  const int size = static_cast<int>(hostOf.size());
  int distance = 1;
  for (;; distance *= 2) {
    for (int rank = 0; rank < size; ++rank) {
      const int partner = rank ^ distance;
      if (partner < size &&
          hostOf[static_cast<size_t>(partner)] != hostOf[static_cast<size_t>(rank)]) {
        return distance;
      }
    }
    if (distance >= size) return distance;
  }
}

}  // namespace

CostInputs costInputsOf(const ScheduleShape& shape, size_t sliceBytes, const CostFigures& figures) {
  CostInputs costs;
  costs.size = shape.size;
  costs.sliceBytes = sliceBytes;
  costs.figures = figures;
  if (shape.hostOf && !shape.hostOf->empty()) {
    std::map<int, int> ranksOn;
    for (int host : *shape.hostOf) ++ranksOn[host];
    costs.hosts = static_cast<int>(ranksOn.size());
    const int first = ranksOn.begin()->second;
    const bool uniform = std::all_of(ranksOn.begin(), ranksOn.end(),
                                     [&](const auto& host) { return host.second == first; });
    costs.ranksPerHost = uniform ? first : 0;
    costs.sameHostDistance = sameHostDistance(*shape.hostOf);
  } else {
    costs.ranksPerHost = shape.size;
    costs.sameHostDistance = static_cast<int>(std::bit_ceil(static_cast<unsigned>(shape.size)));
  }
  return costs;
}

}  // namespace gccl
