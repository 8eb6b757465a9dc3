#include "algorithms/schedule_index.h"

#include <algorithm>
#include <map>

#include "base/error.h"

namespace gccl {

namespace {

bool sameRange(Range a, Range b) {
  return a.offset == b.offset && a.count == b.count;
}

// Whether `next` continues the chain whose latest step is `step` (at index `at`).
bool continuesChain(const Step& step, int32_t at, const Step& next) {
  const bool waits = next.after[0] == at || next.after[1] == at;
  return next.kind == StepKind::kRecvReduce && waits && next.peer != step.peer &&
         next.source == step.target && sameRange(next.input, step.output) &&
         next.target == step.target && sameRange(next.output, step.output);
}

void indexChains(const Schedule& schedule, ScheduleIndex& index,
                 const std::map<int, size_t>& position) {
  const std::vector<Step>& steps = schedule.steps;
  const bool any = std::any_of(steps.begin(), steps.end(),
                               [](const Step& step) { return step.reducedWithNext; });
  if (!any) return;
  const std::vector<uint32_t> waiters = countWaiters(schedule);
  index.chainOf.assign(steps.size(), -1);
  std::vector<ChainLink>* chain = nullptr;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& step = steps[i];
    const auto at = static_cast<int32_t>(i);
    if (chain == nullptr && !step.reducedWithNext) continue;
    if (chain == nullptr) {
      if (step.kind != StepKind::kRecvReduce) {
        fail(Status::kInternalError, "malformed schedule: step ", i,
             " is reduced with the next step, but reduces nothing");
      }
      index.chains.emplace_back();
      chain = &index.chains.back();
    }
    for (const ChainLink& link : *chain) {
      if (steps[static_cast<size_t>(link.step)].peer == step.peer) {
        fail(Status::kInternalError, "malformed schedule: step ", i,
             " reduces twice from one peer in one chain");
      }
      const bool previous = &link == &chain->back();
      if (!previous && (step.after[0] == link.step || step.after[1] == link.step)) {
        fail(Status::kInternalError, "malformed schedule: step ", i,
             " waits on a link of its chain before the previous one");
      }
    }
    if (chain->size() == kMaxChainLinks) {
      fail(Status::kInternalError, "malformed schedule: step ", i, " makes a reduction chain ",
           "longer than ", kMaxChainLinks, " steps");
    }
    chain->push_back({at, static_cast<uint32_t>(position.at(step.peer))});
    index.chainOf[i] = static_cast<int32_t>(index.chains.size() - 1);
    if (!step.reducedWithNext) {
      chain = nullptr;  // its last step
      continue;
    }
    if (step.divides) {
      fail(Status::kInternalError, "malformed schedule: step ", i,
           " divides before the end of its chain");
    }
    if (i + 1 == steps.size() || !continuesChain(step, at, steps[i + 1]) || waiters[i] != 1) {
      fail(Status::kInternalError, "malformed schedule: step ", i,
           " is reduced with the next step, which does not continue its chain");
    }
  }
}

}  // namespace

ScheduleIndex indexSchedule(const Schedule& schedule) {
  ScheduleIndex index;
  std::map<int, size_t> position;  // peer -> its entry in index.peers
  for (size_t i = 0; i < schedule.steps.size(); ++i) {
    const Step& step = schedule.steps[i];
    const auto at = static_cast<int32_t>(i);
    if (step.kind == StepKind::kCopy || step.kind == StepKind::kReduce ||
        step.kind == StepKind::kDivide || step.kind == StepKind::kWait) {
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
  indexChains(schedule, index, position);
  return index;
}

}  // namespace gccl
