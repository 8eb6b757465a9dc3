// The collectives gccl runs. The kind travels in every frame header (a peer running another
// collective is a mismatch) and keys the algorithm table, so the values are part of the wire
// format: never renumber.
#pragma once

#include <cstdint>
#include <string_view>

namespace gccl {

enum class CollectiveKind : uint8_t {
  kAllreduce = 1,
  kBroadcast = 2,
  kReduce = 3,
  kAllgather = 4,
  kAllgatherV = 5,
  kReduceScatter = 6,
  kBarrier = 7,
  kAllToAll = 8,
  kAllToAllV = 9,
};

// "allreduce"; "collective#<n>" style names are the caller's for unknown values.
std::string_view collectiveName(CollectiveKind kind);

// Whether `kind` names a collective with a root rank (broadcast, reduce).
bool isRooted(CollectiveKind kind);

// Whether `kind` reduces (its op means something): allreduce, reduce, reduce-scatter.
bool isReduction(CollectiveKind kind);

}  // namespace gccl
