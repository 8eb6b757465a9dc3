#include "algorithms/composition.h"

#include <algorithm>
#include <map>

namespace gccl {

namespace {

Range moved(Range range, BufferRole role, const Placement& placement, size_t workBase) {
  range.offset += role == BufferRole::kWork ? workBase : placement.offset;
  return range;
}

}  // namespace

int32_t appendPart(Schedule& into, const Schedule& part, const Placement& placement) {
  const auto base = static_cast<int32_t>(into.steps.size());
  const size_t workBase = into.workElements;
  into.workElements += part.workElements;
  for (Step step : part.steps) {
    if (step.peer >= 0) step.peer = placement.members[static_cast<size_t>(step.peer)];
    step.input = moved(step.input, step.source, placement, workBase);
    step.output = moved(step.output, step.target, placement, workBase);
    if (placement.inputIsOutput && step.source == BufferRole::kInput) {
      step.source = BufferRole::kOutput;
    }
    const bool waitsForNothing = step.after[0] == kNoStep && step.after[1] == kNoStep;
    for (int32_t& dependency : step.after) {
      if (dependency != kNoStep) dependency += base;
    }
    if (waitsForNothing) step.after[0] = placement.start;
    if (step.deliveredBy != kNoStep) step.deliveredBy += base;
    into.add(step);
  }
  return base;
}

// A local step that a later one depends on is covered by that one.
int32_t joinFrom(Schedule& schedule, int32_t first) {
  const auto end = static_cast<int32_t>(schedule.steps.size());
  std::map<std::pair<int, bool>, int32_t> lastPerPeer;  // (peer, sends?) -> last step
  std::vector<bool> coveredLater(static_cast<size_t>(std::max(0, end - first)), false);
  for (auto i = first; i < end; ++i) {
    for (const int32_t dependency : schedule.steps[static_cast<size_t>(i)].after) {
      if (dependency >= first) coveredLater[static_cast<size_t>(dependency - first)] = true;
    }
  }
  std::vector<int32_t> ends;
  for (auto i = first; i < end; ++i) {
    const Step& step = schedule.steps[static_cast<size_t>(i)];
    if (step.peer >= 0) {
      lastPerPeer[{step.peer, step.kind == StepKind::kSend}] = i;
    } else if (!coveredLater[static_cast<size_t>(i - first)]) {
      ends.push_back(i);
    }
  }
  for (const auto& [key, last] : lastPerPeer) ends.push_back(last);
  return schedule.join(ends);
}

}  // namespace gccl
