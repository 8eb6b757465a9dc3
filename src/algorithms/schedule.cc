#include "algorithms/schedule.h"

#include <sstream>

#include "base/error.h"

namespace gccl {

namespace {

const char* kindName(StepKind kind) {
  static const char* const kNames[] = {"send", "recv", "recv-reduce", "copy", "divide"};
  return kNames[static_cast<int>(kind)];
}

bool reads(StepKind kind) {
  return kind == StepKind::kSend || kind == StepKind::kRecvReduce || kind == StepKind::kCopy;
}

bool writes(StepKind kind) {
  return kind != StepKind::kSend;
}

bool talks(StepKind kind) {
  return kind == StepKind::kSend || kind == StepKind::kRecv || kind == StepKind::kRecvReduce;
}

// Empty when the step is well formed, else what is wrong with it.
std::string defectOf(const Step& step, int32_t index, int rank, int size, size_t inputCount,
                     size_t outputCount) {
  if (static_cast<uint8_t>(step.kind) > static_cast<uint8_t>(StepKind::kDivide)) {
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
  const size_t sourceCount = step.source == BufferRole::kInput ? inputCount : outputCount;
  if (reads(step.kind) && (step.input.end() < step.input.offset || step.input.end() > sourceCount)) {
    return strCat("reads past its buffer of ", sourceCount, " elements");
  }
  if (writes(step.kind) &&
      (step.output.end() < step.output.offset || step.output.end() > outputCount)) {
    return strCat("writes past the output of ", outputCount, " elements");
  }
  if (reads(step.kind) && writes(step.kind) && step.input.count != step.output.count) {
    return "reads and writes different element counts";
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

void checkSchedule(const Schedule& schedule, int rank, int size, size_t inputCount,
                   size_t outputCount) {
  for (size_t i = 0; i < schedule.steps.size(); ++i) {
    const std::string defect = defectOf(schedule.steps[i], static_cast<int32_t>(i), rank, size,
                                        inputCount, outputCount);
    if (!defect.empty()) {
      fail(Status::kInternalError, "malformed schedule for rank ", rank, " of ", size, ": step ",
           i, " (", kindName(schedule.steps[i].kind), ") ", defect);
    }
  }
}

std::string describeSchedule(const Schedule& schedule) {
  std::ostringstream out;
  for (size_t i = 0; i < schedule.steps.size(); ++i) {
    const Step& s = schedule.steps[i];
    out << i << ": " << kindName(s.kind) << " peer " << s.peer << " in ["
        << s.input.offset << ", +" << s.input.count << ") of "
        << (s.source == BufferRole::kInput ? "input" : "output") << " out [" << s.output.offset
        << ", +" << s.output.count << ")" << (s.receivedFirst ? " received-first" : "")
        << " after " << s.after[0] << "," << s.after[1] << "\n";
  }
  return out.str();
}

}  // namespace gccl
