// Times a compiled program on a fabric, following the engine's rules (core/execution.h):
//
//   - per peer, sends are posted in schedule order once their dependencies are done, and
//     receives likewise; a RecvReduce is posted without waiting for its dependencies, as soon
//     as one of its peer's scratch slots is free, and holds the slot until it has reduced;
//   - receives from one peer complete in order: a RecvReduce whose dependencies are not done
//     holds up the receives behind it, and reduces (on its rank's compute) once they are;
//   - copy, reduce, divide and wait steps run whenever their dependencies are done, in any order;
//   - the i-th send of a to b meets the i-th receive of b from a, and moves once both are
//     posted (the TCP transport reads a message only into a posted receive).
//
// A discrete-event simulation: events in time order (ties in the order they were made), each
// advancing the one rank it concerns. Costs come from the Fabric (link_model.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "link_model.h"
#include "program.h"

namespace gccl::sim {

struct SimResult {
  double seconds = 0;  // when the last rank finished its last step
  uint64_t steps = 0;
  uint64_t messages = 0;
  uint64_t events = 0;
};

// Throws Error(kInternalError) when the ranks deadlock (no event left, steps left), naming the
// first stuck rank, and Error(kInvalidArgument) when a send and its receive differ in size.
SimResult simulate(Program& program, const LinkModel& model, size_t elementSize);

}  // namespace gccl::sim
