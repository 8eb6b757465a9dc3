// How a message is split across a peer's sockets (GCCL_NSOCKS): contiguous stripes, stripe i
// on socket i, each behind its own copy of the message's header. Sender and receiver derive the
// split from the message size and the socket count alone (the handshake makes every rank agree
// on the count), so the header stays the message's and is checked whole on every socket: a
// GCCL_CHUNK_BYTES mismatch is caught on each stream, whatever the stripes happen to be.
//
//   message  |<------ stripe 0 ------>|<------ stripe 1 ------>|<-- stripe 2 -->|
//   socket 0  [hdr][stripe 0]          socket 1  [hdr][stripe 1]   socket 2  [hdr][stripe 2]
#pragma once

#include <algorithm>
#include <cstddef>

#include "base/config.h"

namespace gccl::transport::tcp {

// Below this, one more socket costs more in system calls and wake-ups than it adds in bandwidth.
inline constexpr size_t kMinStripeBytes = size_t{64} << 10;
// Stripe boundaries fall on pages: the receiver's copies into the destination stay aligned.
inline constexpr size_t kStripeAlign = 4096;

struct StripeRange {
  size_t offset = 0;
  size_t bytes = 0;
};

// One stripe per kMinStripeBytes, at most `sockets`, at least one (a zero-byte message is one
// stripe: its header).
inline size_t stripeCount(size_t bytes, int sockets) {
  return std::clamp<size_t>(bytes / kMinStripeBytes, 1, static_cast<size_t>(sockets));
}

// Every stripe but the last is ceil(bytes / count) rounded up to kStripeAlign; the last is never
// empty, because each stripe has at least 16 pages (kMinStripeBytes) and there are at most
// 16 stripes (kMaxNsocks), so the rounding adds less than one stripe's worth in all.
inline StripeRange stripeRange(size_t bytes, int sockets, size_t index) {
  static_assert(kMinStripeBytes / kStripeAlign >= kMaxNsocks, "the last stripe could be empty");
  const size_t count = stripeCount(bytes, sockets);
  if (count == 1) return {0, bytes};
  const size_t even = (bytes + count - 1) / count;
  const size_t stride = (even + kStripeAlign - 1) / kStripeAlign * kStripeAlign;
  const size_t offset = index * stride;
  return {offset, std::min(stride, bytes - offset)};
}

}  // namespace gccl::transport::tcp
