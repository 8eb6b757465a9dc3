// Schedules are data: an algorithm is a pure function (rank, size, count, slicing) -> steps.
// The engine executes the steps over real transports; tests execute them in-process; a
// simulator can time them at thousands of ranks. Nothing here knows about sockets or types.
//
// A step reads an element range of one buffer (`input`, in the buffer named by `source`) and
// writes an element range of another (`output`, in the buffer named by `target`); the two
// differ in offset and buffer, so allgather, reduce-scatter and broadcast place a block elsewhere
// than where it came from, and a rank with no output of its own (a non-root of a reduce) keeps
// partial results in the schedule's work buffer.
// Steps to or from one peer are matched in schedule order: the i-th send this rank lists for
// peer p is the i-th receive that p lists for this rank, with the same element count. They also
// complete in that order (sends among sends, receives among receives), so the last one stands
// for all of them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gccl {

enum class StepKind : uint8_t {
  kSend,        // send source[input] to peer
  kRecv,        // target[output] = received
  kRecvReduce,  // target[output] = source[input] op received (or received op source[input])
  kCopy,        // target[output] = source[input]
  kReduce,      // target[output] = target[output] op source[input] (the partial result left)
  kDivide,      // target[output] /= rank count (the one scaling step of an average)
  kWait,        // nothing: completes once its dependencies have (joins more than two steps)
};

// The caller's send and receive buffers, and a work buffer of Schedule::workElements elements
// the engine provides (reused across operations).
enum class BufferRole : uint8_t { kInput, kOutput, kWork };

inline constexpr int32_t kNoStep = -1;

// A bound on one schedule's length, so that a tiny slice on a huge buffer is refused instead
// of building tens of millions of steps (checked by Schedule::add and, earlier and with a
// clearer message, by the communicator from the slice count).
inline constexpr size_t kMaxScheduleSteps = size_t{1} << 19;

struct Range {
  size_t offset = 0;
  size_t count = 0;
  size_t end() const { return offset + count; }
};

struct Step {
  StepKind kind = StepKind::kCopy;
  BufferRole source = BufferRole::kInput;   // the buffer `input` is a range of
  BufferRole target = BufferRole::kOutput;  // the buffer `output` is a range of
  int32_t peer = -1;
  Range input;   // read: send, recv-reduce, copy, reduce
  Range output;  // written: recv, recv-reduce, copy, reduce, divide
  // RecvReduce operand order. Two ranks that combine the same two partial results must get the
  // same bits, and min/max (and NaN payloads in sum/prod) depend on the order: the partial of
  // the lower ranks goes first, so a rank receiving it from below puts the received data left.
  bool receivedFirst = false;
  // RecvReduce and Reduce only: the reduction also divides its result by the rank count, in
  // the same pass over the data. Set by fuseDivides on the last reduction of an average.
  bool divides = false;
  // RecvReduce only: this reduction and the step right after it, a RecvReduce from another
  // peer over the same range that reduces into this one's result and waits on it (and is the
  // only step that does), form a chain that runs in one pass over the range once every
  // chain's message has arrived (ScheduleIndex::chains), instead of one pass per step.
  bool reducedWithNext = false;
  // Write-back (the direct allreduce, where the transport maps the peers' buffers:
  // Message::writeBackTo). A Send offers the receiver the range it reads, and the same range
  // of the output (`target` kOutput, `output` equal to `input`) to write the result into: the
  // same memory in place, this rank's own output out of place. A RecvReduce writes the result of
  // its chain (or its own, outside a chain) into an offering sender's destination as it reduces.
  // That result must be the collective's final value for the range: the engine checks that an
  // average has been divided, the rest is the schedule's promise (checkSchedule cannot tell).
  bool writeBack = false;
  // Send or Recv: the write-back step with the same peer (a RecvReduce for a Send, a Send for
  // a Recv) after whose write-back this message's data is already at its destination (a Recv:
  // the Send's write-back destination is the Recv's output). Only a notice then goes, in
  // place of the payload.
  int32_t deliveredBy = kNoStep;
  // Steps that must be complete before this one reads or writes its buffers (earlier steps
  // only). A RecvReduce may receive into scratch before they finish; only its reduction waits.
  std::array<int32_t, 2> after = {kNoStep, kNoStep};

  // Elements this step moves: what it sends, or what it writes.
  size_t count() const { return kind == StepKind::kSend ? input.count : output.count; }
};

struct Schedule {
  std::vector<Step> steps;
  size_t workElements = 0;  // the work buffer the steps use, if any

  // Appends and returns the step's index. Throws Error(kInvalidArgument) past kMaxScheduleSteps.
  int32_t add(const Step& step);
  // A step that completes once all of `steps` have (kNoStep entries ignored): the step itself
  // for one, a chain of waits for more, kNoStep for none. Of a peer's sends (or receives) only
  // the latest listed is waited for: they complete in order.
  int32_t join(const std::vector<int32_t>& steps);
};

// What an algorithm needs to know to plan one collective.
struct ScheduleShape {
  int rank = 0;
  int size = 1;
  size_t count = 0;          // elements (the collective's count argument)
  size_t sliceElements = 1;  // pipeline granularity (> 0)
  int root = 0;              // rooted collectives only
  bool average = false;      // append the division step of ReduceOp::kAvg
  // In place: the input is where this rank's own part of the output lies (NCCL's rule: the
  // same buffer for allreduce, broadcast, reduce; output + rank x count for allgather;
  // input + rank x count for reduce-scatter).
  bool inPlace = false;
  std::vector<Range> blocks;  // allgatherv, alltoallv: where each rank's block lands in the output
  std::vector<Range> sendBlocks;  // alltoallv out of place: each rank's block in the input
  // Alltoallv through relays (Bruck's): the elements rank s sends rank d at [s x size + d],
  // for every pair, the same on every rank; null where the schedule needs no more than its own.
  std::shared_ptr<const std::vector<size_t>> pairCounts;
  // The host of every rank (hierarchical algorithms); null when all share one host.
  std::shared_ptr<const std::vector<int>> hostOf;
};

// Throws Error(kInternalError) naming the step unless every step is well formed for a rank
// `rank` of `size` whose buffers hold `inputCount` and `outputCount` elements (and the work
// buffer, Schedule::workElements): dependencies
// point to earlier steps, peers are other ranks (local steps have none), ranges lie inside
// their buffers, and a step that reads and writes moves as many elements as it reads. The
// engine trusts a checked schedule's indices and ranges.
void checkSchedule(const Schedule& schedule, int rank, int size, size_t inputCount,
                   size_t outputCount);

// How many steps name each step in `after`. Only dependencies on earlier steps count: others
// are checkSchedule's to refuse (the passes that use this may run before it).
std::vector<uint32_t> countWaiters(const Schedule& schedule);

// Folds each average's division into the reduction it follows: a Divide step that waits on one
// RecvReduce or Reduce alone, over the same range of the same buffer, while nothing else waits on
// that reduction, becomes a Wait, and the reduction `divides`. The division then happens while the
// reduced slice is in the cache (a separate pass over it runs later, after other slices have
// evicted it). The result is the same: both divide the same reduced values. Whatever else
// could read the range between the two steps would race with the division anyway.
void fuseDivides(Schedule& schedule);

// For tests and logs: one line per step.
std::string describeSchedule(const Schedule& schedule);

}  // namespace gccl
