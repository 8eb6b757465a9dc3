// The one table of allreduce algorithms and the rule that picks one. A new algorithm is a new
// schedule builder plus a row here.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

enum class AlgorithmId : uint8_t { kRing = 1, kRecursiveDoubling = 2 };

struct AllreduceAlgorithm {
  AlgorithmId id;
  std::string_view name;
  bool (*supports)(int size);
  std::vector<int> (*peers)(int rank, int size);
  Schedule (*build)(const ScheduleShape& shape);
};

std::span<const AllreduceAlgorithm> allreduceAlgorithms();

// Every peer any algorithm may talk to: the connections a communicator opens at init.
std::vector<int> allreducePeers(int rank, int size);

// `requested` is GCCL_ALGO ("auto" or a name). Throws Error(kInvalidArgument) for an unknown
// name; falls back to the ring (with no error) when the requested one cannot run at `size`.
const AllreduceAlgorithm& selectAllreduce(std::string_view requested, int size, size_t bytes);

}  // namespace gccl
