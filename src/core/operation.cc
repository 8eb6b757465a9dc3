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

namespace {

FrameHeader withPairCount(FrameHeader header, const std::vector<uint64_t>& counts, int peer) {
  if (!counts.empty()) header.count = counts[static_cast<size_t>(peer)];
  return header;
}

}  // namespace

FrameHeader Operation::frameHeaderTo(int peer) const {
  return withPairCount(frameHeader(), sendCounts, peer);
}

FrameHeader Operation::frameHeaderFrom(int peer) const {
  return withPairCount(frameHeader(), recvCounts, peer);
}

// "allreduce #5 (float32 sum, 1000 elements, ring)": the op only where it reduces, the type
// and count only where there is data.
std::string Operation::describe() const {
  if (kind == CollectiveKind::kBarrier) {
    return strCat(collectiveName(kind), " #", sequence, " (", algorithmName(algorithm), ")");
  }
  const std::string opText = isReduction(kind) ? strCat(" ", reduceOpName(op)) : "";
  const std::string rootText = isRooted(kind) ? strCat(", root ", root) : "";
  return strCat(collectiveName(kind), " #", sequence, " (", dataTypeName(type), opText, ", ", count,
                " elements", rootText, ", ", algorithmName(algorithm), ")");
}

}  // namespace gccl
