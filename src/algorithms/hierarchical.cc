#include "algorithms/hierarchical.h"

#include <algorithm>
#include <set>

#include "algorithms/composition.h"
#include "algorithms/halving_doubling.h"
#include "algorithms/partition.h"
#include "algorithms/ring.h"
#include "algorithms/steps.h"

namespace gccl {

namespace {

// Ranks grouped by host, in rank order within each; hosts in order of their index.
struct Hosts {
  std::vector<std::vector<int>> ranks;

  explicit Hosts(const ScheduleShape& shape) {
    if (!shape.hostOf || shape.hostOf->size() != static_cast<size_t>(shape.size)) return;
    for (int r = 0; r < shape.size; ++r) {
      const int host = (*shape.hostOf)[static_cast<size_t>(r)];
      if (host < 0 || host >= shape.size) {
        ranks.clear();
        return;
      }
      if (static_cast<size_t>(host) >= ranks.size()) ranks.resize(static_cast<size_t>(host) + 1);
      ranks[static_cast<size_t>(host)].push_back(r);
    }
    std::erase_if(ranks, [](const std::vector<int>& host) { return host.empty(); });
  }

  bool uniform() const {
    return ranks.size() >= 2 && std::all_of(ranks.begin(), ranks.end(), [&](const auto& host) {
             return host.size() == ranks.front().size();
           });
  }
};

// This rank's two groups: the ranks of its host, and the ranks with its local index elsewhere.
struct Groups {
  std::vector<int> local;
  std::vector<int> across;
  int localIndex = 0;
  int hostIndex = 0;

  Groups(const Hosts& hosts, int rank) {
    for (size_t h = 0; h < hosts.ranks.size(); ++h) {
      const auto& members = hosts.ranks[h];
      const auto found = std::find(members.begin(), members.end(), rank);
      if (found == members.end()) continue;
      local = members;
      localIndex = static_cast<int>(found - members.begin());
      hostIndex = static_cast<int>(h);
    }
    for (const auto& members : hosts.ranks) {
      across.push_back(members[static_cast<size_t>(localIndex)]);
    }
  }
};

ScheduleShape groupShape(const ScheduleShape& shape, int rank, size_t size, size_t count,
                         bool inPlace) {
  ScheduleShape group;
  group.rank = rank;
  group.size = static_cast<int>(size);
  group.count = count;
  group.sliceElements = shape.sliceElements;
  group.inPlace = inPlace;
  return group;
}

}  // namespace

bool hierarchicalSupports(const ScheduleShape& shape) {
  return Hosts(shape).uniform();
}

std::vector<int> hierarchicalPeers(const ScheduleShape& shape) {
  const Groups groups(Hosts(shape), shape.rank);
  std::set<int> peers;
  for (int peer : ringPeers(groups.localIndex, static_cast<int>(groups.local.size()))) {
    peers.insert(groups.local[static_cast<size_t>(peer)]);
  }
  const int hosts = static_cast<int>(groups.across.size());
  for (int peer : ringPeers(groups.hostIndex, hosts)) {
    peers.insert(groups.across[static_cast<size_t>(peer)]);
  }
  for (int peer : halvingDoublingPeers(groups.hostIndex, hosts)) {
    peers.insert(groups.across[static_cast<size_t>(peer)]);
  }
  return {peers.begin(), peers.end()};
}

Schedule hierarchicalAllreduce(const ScheduleShape& shape) {
  const Groups groups(Hosts(shape), shape.rank);
  const size_t localSize = groups.local.size();
  const ScheduleShape local =
      groupShape(shape, groups.localIndex, localSize, shape.count, shape.inPlace);
  Schedule schedule;

  // 1. Reduce-scatter within the host (nothing to do alone: the segment is the input).
  Range segment{0, shape.count};
  bool segmentInOutput = false;
  if (localSize > 1) {
    Schedule scatter;
    appendRingReduceScatter(scatter, local);
    appendPart(schedule, scatter, Placement{groups.local, 0, false, kNoStep});
    segment = balancedPiece(shape.count, localSize, static_cast<size_t>(groups.localIndex));
    segmentInOutput = true;
  }
  const int32_t scattered = joinFrom(schedule, 0);

  // 2. Allreduce of the segment between hosts.
  const auto across = static_cast<int32_t>(schedule.steps.size());
  const ScheduleShape between = groupShape(shape, groups.hostIndex, groups.across.size(),
                                           segment.count, segmentInOutput || shape.inPlace);
  const Schedule exchange = segment.count <= shape.sliceElements ? halvingDoublingAllreduce(between)
                                                                 : ringAllreduce(between);
  appendPart(schedule, exchange,
             Placement{groups.across, segment.offset, segmentInOutput, scattered});
  int32_t reduced = joinFrom(schedule, across);
  if (shape.average) reduced = addDivide(schedule, segment, reduced);
  if (localSize == 1) return schedule;

  // 3. Allgather within the host, once everything before is complete.
  const int32_t ready = schedule.join({scattered, reduced});
  Schedule gather;
  const size_t slices = slicesPerPiece(shape.count, localSize, shape.sliceElements);
  appendRingAllgather(gather, local, std::vector<int32_t>(slices, kNoStep));
  appendPart(schedule, gather, Placement{groups.local, 0, false, ready});
  return schedule;
}

}  // namespace gccl
