// The one table of algorithms, for every collective, and the rule that picks one. A new
// algorithm is a new schedule builder plus a row here.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "algorithms/cost_model.h"
#include "algorithms/schedule.h"
#include "base/collective.h"

namespace gccl {

// Travels in frame headers (ranks must agree on it), so values are fixed.
enum class AlgorithmId : uint8_t {
  kRing = 1,
  kRecursiveDoubling = 2,
  kTree = 3,
  kHalvingDoubling = 4,
  kHierarchical = 5,
  kDirect = 6,
  kOneShot = 7,
};

// supports and peers read the shape's rank, size and hostOf only.
struct Algorithm {
  CollectiveKind collective;
  AlgorithmId id;
  std::string_view name;
  bool (*supports)(const ScheduleShape& shape);
  std::vector<int> (*peers)(const ScheduleShape& shape);
  Schedule (*build)(const ScheduleShape& shape);
};

std::span<const Algorithm> algorithms();

// The schedule a rank runs: algorithm.build(shape), with each average's division folded into
// the reduction before it (fuseDivides).
Schedule buildSchedule(const Algorithm& algorithm, const ScheduleShape& shape);

// Whether `algorithm` runs a call of `bytes` on this shape, when chosen or forced (else the
// automatic choice runs instead).
bool fits(const Algorithm& algorithm, const ScheduleShape& shape, size_t bytes);

// Whether `algorithm`'s schedule reads every pair's count (ScheduleShape::pairCounts), which
// the ranks must exchange before it is built.
bool needsPairCounts(const Algorithm& algorithm);

// Every peer any algorithm may talk to: the connections a communicator opens at init.
std::vector<int> connectionPeers(const ScheduleShape& shape);

// "ring"; "unknown" for a value not in the table.
std::string_view algorithmName(AlgorithmId id);

// `requested` is GCCL_ALGO ("auto" or a name). Throws Error(kInvalidArgument) for a name that is
// no algorithm at all; takes the automatic choice (with no error) when `collective` has no
// algorithm of that name or it cannot run here. The automatic choice is the algorithm with
// the least predicted time (cost_model.h) among those that can run (ties: the direct
// allreduce, then table order).
// The shape's size and hostOf matter, not its rank; `costs` holds the bytes, slice, host
// counts and figures: the same on every rank, so every rank makes the same choice.
const Algorithm& selectAlgorithm(CollectiveKind collective, std::string_view requested,
                                 const ScheduleShape& shape, const CostInputs& costs);

// The cost inputs of a job laid out as `shape` (size, hostOf) says.
CostInputs costInputsOf(const ScheduleShape& shape, size_t sliceBytes, const CostFigures& figures);

}  // namespace gccl
