#include "base/collective.h"

namespace gccl {

std::string_view collectiveName(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::kAllreduce: return "allreduce";
  }
  return "unknown collective";
}

bool isRooted(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::kAllreduce: return false;
  }
  return false;
}

}  // namespace gccl
