#include "base/collective.h"

namespace gccl {

std::string_view collectiveName(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::kAllreduce: return "allreduce";
    case CollectiveKind::kBroadcast: return "broadcast";
    case CollectiveKind::kReduce: return "reduce";
    case CollectiveKind::kAllgather: return "allgather";
    case CollectiveKind::kAllgatherV: return "allgatherv";
    case CollectiveKind::kReduceScatter: return "reduce-scatter";
    case CollectiveKind::kBarrier: return "barrier";
    case CollectiveKind::kAllToAll: return "alltoall";
    case CollectiveKind::kAllToAllV: return "alltoallv";
  }
  return "unknown collective";
}

bool isRooted(CollectiveKind kind) {
  return kind == CollectiveKind::kBroadcast || kind == CollectiveKind::kReduce;
}

bool isReduction(CollectiveKind kind) {
  return kind == CollectiveKind::kAllreduce || kind == CollectiveKind::kReduce ||
         kind == CollectiveKind::kReduceScatter;
}

}  // namespace gccl
