// Building a schedule from schedules of sub-groups: a hierarchical algorithm runs a ring among
// the ranks of a host, then an allreduce among one rank per host on a segment, then a ring
// again; each phase is an ordinary schedule built for the sub-group and placed here.
#pragma once

#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

struct Placement {
  std::vector<int> members;    // rank i of the part is rank members[i] here
  size_t offset = 0;           // the part's element 0 is this element of input and output
  bool inputIsOutput = false;  // the part reads the output where it says input (in place)
  int32_t start = kNoStep;     // the part's steps that wait for nothing wait for this one
};

// Appends `part`, renaming peers, moving ranges, shifting dependencies and its work buffer
// behind this schedule's. Returns the index of the part's first step.
int32_t appendPart(Schedule& into, const Schedule& part, const Placement& placement);

// One step that completes once every step from `first` on has. The engine completes a peer's
// sends in the order listed, and its receives likewise, so the last send and the last receive
// of each peer (and every local step) stand for all of them.
int32_t joinFrom(Schedule& schedule, int32_t first);

}  // namespace gccl
