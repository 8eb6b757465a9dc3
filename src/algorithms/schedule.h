// Schedules are data: an algorithm is a pure function (rank, size, count, slicing) -> steps.
// The engine executes the steps over real transports; tests execute them in-process; a
// simulator can time them at thousands of ranks. Nothing here knows about sockets or types.
//
// Every step touches one element range [offset, offset + count) that is the same in the input
// and the output buffer. Steps to or from one peer are matched in schedule order: the i-th
// send this rank lists for peer p is the i-th receive that p lists for this rank.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gccl {

enum class StepKind : uint8_t {
  kSend,        // send source[range] to peer
  kRecv,        // output[range] = received
  kRecvReduce,  // output[range] = source[range] op received
  kCopy,        // output[range] = input[range]
  kDivide,      // output[range] /= rank count (the one scaling step of an average)
};

enum class BufferRole : uint8_t { kInput, kOutput };

inline constexpr int32_t kNoStep = -1;

struct Step {
  StepKind kind = StepKind::kCopy;
  BufferRole source = BufferRole::kInput;
  int32_t peer = -1;
  size_t offset = 0;
  size_t count = 0;
  // Steps that must be complete before this one reads or writes its buffers. A RecvReduce may
  // receive into scratch before its dependencies finish; only its reduction waits.
  std::array<int32_t, 2> after = {kNoStep, kNoStep};
};

struct Schedule {
  std::vector<Step> steps;

  int32_t add(const Step& step) {
    steps.push_back(step);
    return static_cast<int32_t>(steps.size() - 1);
  }
};

// What an algorithm needs to know to plan one collective.
struct ScheduleShape {
  int rank = 0;
  int size = 1;
  size_t count = 0;          // elements
  size_t sliceElements = 1;  // pipeline granularity (> 0)
  bool average = false;      // append the division step of ReduceOp::kAvg
  bool inPlace = false;      // input and output are the same buffer
};

// For tests and logs: one line per step.
std::string describeSchedule(const Schedule& schedule);

}  // namespace gccl
