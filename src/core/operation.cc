#include "core/operation.h"

#include "base/error.h"

namespace gccl {

FrameHeader Operation::frameHeader() const {
  FrameHeader header;
  header.collective = static_cast<uint8_t>(kind);
  header.dataType = static_cast<uint8_t>(type);
  header.reduceOp = static_cast<uint8_t>(op);
  header.algorithm = static_cast<uint8_t>(algorithm);
  header.root = root;
  header.detail = agreementHash;
  header.sequence = sequence;
  header.count = count;
  return header;
}

std::string Operation::describe() const {
  const std::string rootText = isRooted(kind) ? strCat(", root ", root) : "";
  return strCat(collectiveName(kind), " #", sequence, " (", dataTypeName(type), " ",
                reduceOpName(op), ", ", count, " elements", rootText, ", ",
                algorithmName(algorithm), ")");
}

}  // namespace gccl
