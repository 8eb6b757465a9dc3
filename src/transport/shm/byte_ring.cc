#include "transport/shm/byte_ring.h"

#include <algorithm>
#include <cstring>

namespace gccl::transport::shm {

// Never more than the ring holds, whatever a broken or hostile peer wrote into `head`: the
// frame check then refuses the garbage, and no copy runs past the ring.
size_t ByteRing::readable() const {
  return std::min<uint64_t>(capacity_, control_->head.load(std::memory_order_acquire) -
                                           control_->tail.load(std::memory_order_relaxed));
}

// Likewise for `tail`: one the peer set ahead of `head`, or more than a ring behind it, leaves
// no room rather than a huge one (and so is read again at the next look). The send then
// waits, and the engine's timeout names the peer.
size_t ByteRing::roomAfter(uint64_t head, uint64_t tail) const {
  const uint64_t used = head - tail;
  return used > capacity_ ? 0 : capacity_ - used;
}

// A tail seen earlier is one the consumer had reached then (it only grows): the room it shows
// is there still, and the bytes it freed were read before (its acquire load then).
size_t ByteRing::writable(size_t wanted) const {
  const uint64_t head = control_->head.load(std::memory_order_relaxed);
  const size_t room = roomAfter(head, tailSeen_);
  if (room >= wanted) return room;
  tailSeen_ = control_->tail.load(std::memory_order_acquire);
  return roomAfter(head, tailSeen_);
}

size_t ByteRing::write(const void* from, size_t bytes) {
  const size_t n = std::min(bytes, writable(bytes));
  if (n == 0) return 0;
  const uint64_t head = control_->head.load(std::memory_order_relaxed);
  const size_t at = head % capacity_;
  const size_t first = std::min(n, capacity_ - at);
  std::memcpy(data_ + at, from, first);
  std::memcpy(data_, static_cast<const std::byte*>(from) + first, n - first);
  control_->head.store(head + n, std::memory_order_release);
  return n;
}

void ByteRing::copyOut(uint64_t at, void* into, size_t bytes) const {
  const size_t offset = at % capacity_;
  const size_t first = std::min(bytes, capacity_ - offset);
  std::memcpy(into, data_ + offset, first);
  std::memcpy(static_cast<std::byte*>(into) + first, data_, bytes - first);
}

size_t ByteRing::read(void* into, size_t bytes) {
  const size_t n = std::min(bytes, readable());
  if (n == 0) return 0;
  const uint64_t tail = control_->tail.load(std::memory_order_relaxed);
  copyOut(tail, into, n);
  control_->tail.store(tail + n, std::memory_order_release);
  return n;
}

bool ByteRing::peek(void* into, size_t bytes) const {
  if (readable() < bytes) return false;
  copyOut(control_->tail.load(std::memory_order_relaxed), into, bytes);
  return true;
}

namespace {
// The smallest page Linux uses: every page is touched, whatever the page size.
constexpr size_t kTouchStride = 4096;
}  // namespace

void ByteRing::warmForProducer() {
  for (size_t at = 0; at < capacity_; at += kTouchStride) {
    static_cast<volatile std::byte*>(data_)[at] = std::byte{0};
  }
}

void ByteRing::warmForConsumer() const {
  for (size_t at = 0; at < capacity_; at += kTouchStride) {
    (void)static_cast<const volatile std::byte*>(data_)[at];
  }
}

}  // namespace gccl::transport::shm
