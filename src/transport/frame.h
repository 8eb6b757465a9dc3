// The header in front of every data message. It lets a receiver prove that the message belongs
// to the collective it is executing: a sender in a different collective (another sequence
// number, count, type or op) is a mismatched collective, not silent corruption.
#pragma once

#include <cstdint>
#include <string>

#include "base/collective.h"

namespace gccl {

inline constexpr uint32_t kFrameMagic = 0x47434652;  // "GCFR"

struct FrameHeader {
  uint32_t magic = kFrameMagic;
  uint8_t collective = 0;  // CollectiveKind, or kFailureNoticeKind
  uint8_t dataType = 0;
  uint8_t reduceOp = 0;
  uint8_t algorithm = 0;
  int32_t root = 0;       // the root of a rooted collective (broadcast, reduce); 0 otherwise
  uint32_t detail = 0;    // a failure notice's Status; else a hash of what ranks must agree on
  uint64_t sequence = 0;  // collective number on the communicator, from 1
  uint64_t count = 0;     // the collective's count argument (elements)
  uint64_t bytes = 0;     // payload bytes following this header
};
static_assert(sizeof(FrameHeader) == 40, "the wire layout is fixed");

// A failing rank's last words, sent best-effort on each connection before it is reset: a frame
// of this kind whose payload is the reason. Peers then report the cause (a mismatched
// collective, an abort, a timeout further along the ring) instead of only "connection closed".
inline constexpr uint8_t kFailureNoticeKind = 0xFF;
inline constexpr uint32_t kMaxNoticeBytes = 2048;

FrameHeader failureNoticeHeader(int status, size_t reasonBytes);
inline bool isFailureNotice(const FrameHeader& header) {
  return header.magic == kFrameMagic && header.collective == kFailureNoticeKind;
}

// "allreduce #5 float32 sum count 1000 (message 4096 B)"; rooted collectives add "root 2".
std::string describeFrame(const FrameHeader& header);

// Throws Error naming `peer` unless `received` matches `expected`: kRemoteError for a
// malformed frame, kInvalidUsage for a mismatched collective.
void checkFrame(const FrameHeader& expected, const FrameHeader& received, const std::string& peer);

}  // namespace gccl
