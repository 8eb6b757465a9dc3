#include "algorithms/schedule_index.h"

#include <algorithm>
#include <map>

namespace gccl {

ScheduleIndex indexSchedule(const Schedule& schedule) {
  ScheduleIndex index;
  std::map<int, size_t> position;  // peer -> its entry in index.peers
  for (size_t i = 0; i < schedule.steps.size(); ++i) {
    const Step& step = schedule.steps[i];
    const auto at = static_cast<int32_t>(i);
    if (step.kind == StepKind::kCopy || step.kind == StepKind::kDivide ||
        step.kind == StepKind::kWait) {
      index.local.push_back(at);
      continue;
    }
    auto [entry, added] = position.try_emplace(step.peer, index.peers.size());
    if (added) index.peers.emplace_back().peer = step.peer;
    PeerSteps& peer = index.peers[entry->second];
    if (step.kind == StepKind::kSend) {
      peer.sends.push_back(at);
      continue;
    }
    peer.recvs.push_back(at);
    if (step.kind == StepKind::kRecvReduce) {
      ++peer.recvReduces;
      peer.largestRecvReduce = std::max(peer.largestRecvReduce, step.count());
    }
  }
  return index;
}

}  // namespace gccl
