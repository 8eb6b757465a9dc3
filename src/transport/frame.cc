#include "transport/frame.h"

#include <algorithm>
#include <sstream>

#include "base/dtype.h"
#include "base/error.h"

namespace gccl {

std::string describeFrame(const FrameHeader& h) {
  const std::string type = h.dataType < kNumDataTypes
                               ? std::string(dataTypeName(static_cast<DataType>(h.dataType)))
                               : strCat("type#", int(h.dataType));
  const std::string op = h.reduceOp < kNumReduceOps
                             ? std::string(reduceOpName(static_cast<ReduceOp>(h.reduceOp)))
                             : strCat("op#", int(h.reduceOp));
  const auto kind = static_cast<CollectiveKind>(h.collective);
  const std::string name = collectiveName(kind) != "unknown collective"
                               ? std::string(collectiveName(kind))
                               : strCat("collective#", int(h.collective));
  const std::string root = isRooted(kind) ? strCat(" root ", h.root) : "";
  // What else the ranks must agree on, as a hash: allgatherv's counts and displacements, a
  // staged slice's whole call.
  std::ostringstream layout;
  if (h.detail != 0) layout << " layout #" << std::hex << h.detail;
  const std::string opText = isReduction(kind) ? strCat(" ", op) : "";
  // An alltoallv message's count is its pair's block, the elements one rank sends the other,
  // in the pairwise exchange; through relays, all blocks of all ranks together.
  return strCat(name, " #", h.sequence, " ", type, opText, " count ", h.count, root, layout.str(),
                " (message ", h.bytes, " B)");
}

FrameHeader failureNoticeHeader(int status, size_t reasonBytes) {
  FrameHeader header;
  header.collective = kFailureNoticeKind;
  header.bytes = std::min<size_t>(reasonBytes, kMaxNoticeBytes);
  header.detail = static_cast<uint32_t>(status);
  return header;
}

void checkFrame(const FrameHeader& expected, const FrameHeader& received, const std::string& peer) {
  if (received.magic != kFrameMagic) {
    fail(Status::kRemoteError, "malformed message from ", peer, " (bad magic 0x", std::hex,
         received.magic, ")");
  }
  const bool sameCollective =
      received.collective == expected.collective && received.dataType == expected.dataType &&
      received.reduceOp == expected.reduceOp && received.sequence == expected.sequence &&
      received.count == expected.count && received.root == expected.root &&
      received.detail == expected.detail;
  if (!sameCollective) {
    fail(Status::kInvalidUsage, "mismatched collective: this rank runs ", describeFrame(expected),
         " but ", peer, " sent ", describeFrame(received));
  }
  if (received.bytes != expected.bytes || received.algorithm != expected.algorithm) {
    fail(Status::kInvalidUsage, "mismatched configuration with ", peer, ": expected ",
         describeFrame(expected), " algorithm ", int(expected.algorithm), ", received ",
         describeFrame(received), " algorithm ", int(received.algorithm),
         " (GCCL_ALGO and GCCL_CHUNK_BYTES must agree on all ranks; where they do, the message "
         "is corrupt)");
  }
}

}  // namespace gccl
