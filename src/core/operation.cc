#include "core/operation.h"

#include "base/error.h"

namespace gccl {

FrameHeader Operation::frameHeader() const {
  FrameHeader header;
  header.collective = static_cast<uint8_t>(kind);
  header.dataType = static_cast<uint8_t>(type);
  header.reduceOp = static_cast<uint8_t>(op);
  header.algorithm = static_cast<uint8_t>(algorithm);
  header.sequence = sequence;
  header.count = count;
  return header;
}

std::string Operation::describe() const {
  const char* algorithmName = algorithm == AlgorithmId::kRing ? "ring" : "recursive_doubling";
  return strCat("allreduce #", sequence, " (", dataTypeName(type), " ", reduceOpName(op), ", ",
                count, " elements, ", algorithmName, ")");
}

}  // namespace gccl
