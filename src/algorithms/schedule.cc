#include "algorithms/schedule.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "base/error.h"

namespace gccl {

namespace {

const char* kindName(StepKind kind) {
  static const char* const kNames[] = {"send",   "recv",   "recv-reduce", "copy",
                                       "reduce", "divide", "wait"};
  return kNames[static_cast<int>(kind)];
}

bool reads(StepKind kind) {
  return kind == StepKind::kSend || kind == StepKind::kRecvReduce || kind == StepKind::kCopy ||
         kind == StepKind::kReduce;
}

bool writes(StepKind kind) {
  return kind != StepKind::kSend && kind != StepKind::kWait;
}

bool talks(StepKind kind) {
  return kind == StepKind::kSend || kind == StepKind::kRecv || kind == StepKind::kRecvReduce;
}

const char* roleName(BufferRole role) {
  switch (role) {
    case BufferRole::kInput: return "input";
    case BufferRole::kOutput: return "output";
    case BufferRole::kWork: return "work buffer";
  }
  return "unknown buffer";
}

struct Extents {
  size_t input;
  size_t output;
  size_t work;
  // Elements in the buffer `role` names; SIZE_MAX marks an unknown role (always out of range).
  size_t of(BufferRole role) const {
    switch (role) {
      case BufferRole::kInput: return input;
      case BufferRole::kOutput: return output;
      case BufferRole::kWork: return work;
    }
    return 0;
  }
};

// An empty range names no element, wherever it points (an allgatherv's empty block may
// carry any displacement).
bool inside(Range range, size_t extent) {
  return range.count == 0 || (range.end() >= range.offset && range.end() <= extent);
}

// Empty when the step is well formed, else what is wrong with it.
std::string defectOf(const Step& step, int32_t index, int rank, int size, const Extents& extents) {
  if (static_cast<uint8_t>(step.kind) > static_cast<uint8_t>(StepKind::kWait)) {
    return "unknown kind";
  }
  for (int32_t dependency : step.after) {
    if (dependency != kNoStep && (dependency < 0 || dependency >= index)) {
      return strCat("depends on step ", dependency, ", which is not an earlier step");
    }
  }
  if (talks(step.kind) && (step.peer < 0 || step.peer >= size || step.peer == rank)) {
    return strCat("peer ", step.peer, " is not another rank of ", size);
  }
  if (!talks(step.kind) && step.peer != -1) return strCat("a local step names peer ", step.peer);
  if (reads(step.kind) && !inside(step.input, extents.of(step.source))) {
    return strCat("reads past the ", roleName(step.source), " of ", extents.of(step.source),
                  " elements");
  }
  if (writes(step.kind) && step.target == BufferRole::kInput) return "writes the input";
  if (writes(step.kind) && !inside(step.output, extents.of(step.target))) {
    return strCat("writes past the ", roleName(step.target), " of ", extents.of(step.target),
                  " elements");
  }
  if (reads(step.kind) && writes(step.kind) && step.input.count != step.output.count) {
    return "reads and writes different element counts";
  }
  // The kernels reduce element by element: an operand may be the result's own range, not a
  // range shifted from it. (In place, input and output are one buffer: the builder's promise.)
  if (step.kind == StepKind::kReduce && step.source == step.target &&
      step.input.offset != step.output.offset && step.input.offset < step.output.end() &&
      step.output.offset < step.input.end()) {
    return "reduces a range into one it partly overlaps";
  }
  if (step.divides && step.kind != StepKind::kRecvReduce && step.kind != StepKind::kReduce) {
    return "divides, but reduces nothing";
  }
  if (step.reducedWithNext && step.kind != StepKind::kRecvReduce) {
    return "is reduced with the next step, but reduces nothing";
  }
  if (step.writeBack && step.kind != StepKind::kSend && step.kind != StepKind::kRecvReduce) {
    return "writes back, but neither sends nor reduces";
  }
  if (step.writeBack && step.kind == StepKind::kSend) {
    // Its write-back destination is its own range of the output: in place the very memory the
    // peer reads block by block before writing the block's result, which any other range
    // would overwrite before it is read. (The work buffer is never the peer's to write.)
    if (step.target != BufferRole::kOutput) return "offers another buffer than the output";
    if (step.output.offset != step.input.offset || step.output.count != step.input.count) {
      return "offers another range than its own for its result";
    }
    if (!inside(step.output, extents.output)) {
      return strCat("offers a result range past the output of ", extents.output, " elements");
    }
  }
  return {};
}

// A message that a write-back may stand in for names the write-back of the same range with the
// same peer, in the other direction: what the sender wrote back is what this would carry.
std::string deliveryDefectOf(const Schedule& schedule, const Step& step, int32_t index) {
  if (step.deliveredBy == kNoStep) return {};
  if (step.kind != StepKind::kSend && step.kind != StepKind::kRecv) {
    return "is delivered by a write-back, but neither sends nor receives";
  }
  if (step.deliveredBy < 0 || step.deliveredBy >= index) {
    return strCat("is delivered by step ", step.deliveredBy, ", which is not an earlier step");
  }
  const Step& by = schedule.steps[static_cast<size_t>(step.deliveredBy)];
  const StepKind expected = step.kind == StepKind::kSend ? StepKind::kRecvReduce : StepKind::kSend;
  // A send carries a range of the reduction's result; a receive lands where the send it
  // waits for offered the result to be written (the write-back destination, Step::output).
  const Range carried = step.kind == StepKind::kSend ? step.input : step.output;
  const BufferRole carriedIn = step.kind == StepKind::kSend ? step.source : step.target;
  if (by.kind != expected || !by.writeBack || by.peer != step.peer || carriedIn != by.target ||
      carried.offset != by.output.offset || carried.count != by.output.count) {
    return strCat("is delivered by step ", step.deliveredBy,
                  ", which is no write-back of its range with its peer");
  }
  // Whether the send offered its buffer is known once it is done (Execution::wasOfferedBack).
  if (step.kind == StepKind::kRecv && step.after[0] != step.deliveredBy &&
      step.after[1] != step.deliveredBy) {
    return strCat("is delivered by step ", step.deliveredBy, ", which it does not wait for");
  }
  return {};
}

}  // namespace

int32_t Schedule::add(const Step& step) {
  if (steps.size() >= kMaxScheduleSteps) {
    fail(Status::kInvalidArgument, "the schedule would exceed ", kMaxScheduleSteps,
         " steps: use larger slices (GCCL_CHUNK_BYTES)");
  }
  steps.push_back(step);
  return static_cast<int32_t>(steps.size() - 1);
}

// A peer's sends complete in the order listed, and its receives likewise: of those, only the
// latest listed of each peer and direction needs a wait, so joining a sliced exchange costs one
// or two waits, not one per slice (which would double the schedule's length).
int32_t Schedule::join(const std::vector<int32_t>& dependencies) {
  std::map<std::pair<int, bool>, int32_t> latest;  // (peer, sends?) -> latest listed
  std::vector<int32_t> needed;
  for (const int32_t dependency : dependencies) {
    if (dependency == kNoStep) continue;
    const Step& step = steps[static_cast<size_t>(dependency)];
    if (step.peer < 0) {
      needed.push_back(dependency);
      continue;
    }
    int32_t& last =
        latest.try_emplace({step.peer, step.kind == StepKind::kSend}, dependency).first->second;
    last = std::max(last, dependency);
  }
  for (const auto& [key, last] : latest) needed.push_back(last);
  int32_t joined = kNoStep;
  for (const int32_t dependency : needed) {
    if (joined == kNoStep) {
      joined = dependency;
      continue;
    }
    Step wait;
    wait.kind = StepKind::kWait;
    wait.after = {joined, dependency};
    joined = add(wait);
  }
  return joined;
}

void checkSchedule(const Schedule& schedule, int rank, int size, size_t inputCount,
                   size_t outputCount) {
  const Extents extents{inputCount, outputCount, schedule.workElements};
  for (size_t i = 0; i < schedule.steps.size(); ++i) {
    const auto index = static_cast<int32_t>(i);
    std::string defect = defectOf(schedule.steps[i], index, rank, size, extents);
    if (defect.empty()) defect = deliveryDefectOf(schedule, schedule.steps[i], index);
    if (!defect.empty()) {
      fail(Status::kInternalError, "malformed schedule for rank ", rank, " of ", size, ": step ", i,
           " (", kindName(schedule.steps[i].kind), ") ", defect);
    }
  }
}

namespace {

bool isEarlier(int32_t dependency, size_t step) {
  return dependency >= 0 && static_cast<size_t>(dependency) < step;
}

}  // namespace

std::vector<uint32_t> countWaiters(const Schedule& schedule) {
  std::vector<uint32_t> waiters(schedule.steps.size(), 0);
  for (size_t i = 0; i < schedule.steps.size(); ++i) {
    for (const int32_t dependency : schedule.steps[i].after) {
      if (isEarlier(dependency, i)) ++waiters[static_cast<size_t>(dependency)];
    }
  }
  return waiters;
}

void fuseDivides(Schedule& schedule) {
  std::vector<Step>& steps = schedule.steps;
  // Dependencies are not checked yet (checkSchedule runs on the result): one that does not
  // name an earlier step is left for it to refuse, and fuses nothing.
  const std::vector<uint32_t> waiters = countWaiters(schedule);
  for (size_t i = 0; i < steps.size(); ++i) {
    Step& divide = steps[i];
    if (divide.kind != StepKind::kDivide) continue;
    const int32_t first = divide.after[0], second = divide.after[1];
    if ((first == kNoStep) == (second == kNoStep)) continue;  // none, or two to wait for
    const int32_t reduced = first != kNoStep ? first : second;
    if (!isEarlier(reduced, i)) continue;
    Step& reduce = steps[static_cast<size_t>(reduced)];
    if ((reduce.kind != StepKind::kRecvReduce && reduce.kind != StepKind::kReduce) ||
        reduce.divides) {
      continue;
    }
    if (waiters[static_cast<size_t>(reduced)] != 1 || reduce.target != divide.target ||
        reduce.output.offset != divide.output.offset ||
        reduce.output.count != divide.output.count) {
      continue;
    }
    reduce.divides = true;
    divide.kind = StepKind::kWait;  // keeps its place: later steps may wait on it
    divide.output = {};
  }
}

std::string describeSchedule(const Schedule& schedule) {
  std::ostringstream out;
  for (size_t i = 0; i < schedule.steps.size(); ++i) {
    const Step& s = schedule.steps[i];
    out << i << ": " << kindName(s.kind) << " peer " << s.peer << " in [" << s.input.offset << ", +"
        << s.input.count << ") of " << roleName(s.source) << " out [" << s.output.offset << ", +"
        << s.output.count << ") of " << roleName(s.target)
        << (s.receivedFirst ? " received-first" : "") << (s.divides ? " divides" : "")
        << (s.reducedWithNext ? " with-next" : "") << (s.writeBack ? " write-back" : "");
    if (s.deliveredBy != kNoStep) out << " delivered-by " << s.deliveredBy;
    out << " after " << s.after[0] << "," << s.after[1] << "\n";
  }
  return out.str();
}

}  // namespace gccl
