// A single-producer / single-consumer byte ring in memory shared by two processes. The
// counters only grow (wrap-around is `counter % capacity`), so full and empty never look
// alike. The producer publishes bytes with a release store of `head`, the consumer frees
// them with a release store of `tail`.
//
//   data:  [..... consumed ....|tail ... readable ... head| ... free ... ]  (mod capacity)
//
// Besides the bytes, each ring carries what the two ends need to sleep in epoll and be woken
// (the doorbell protocol, see shm_connection.cc) and the count of single-copy reads the
// consumer finished (the producer's buffer is free again only then).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace gccl::transport::shm {

struct alignas(64) RingControl {
  alignas(64) std::atomic<uint64_t> head{0};  // bytes ever written; producer only
  alignas(64) std::atomic<uint64_t> tail{0};  // bytes ever consumed; consumer only
  // Set by an end about to sleep, cleared by whoever rings it (or by the end itself on waking).
  alignas(64) std::atomic<uint32_t> consumerSleeping{0};
  std::atomic<uint32_t> producerSleeping{0};
  alignas(64) std::atomic<uint64_t> acked{0};  // single-copy reads done; consumer only
  // Set by the consumer while it writes into the producer's buffer behind a writable view,
  // after which it looks at producerAborted; an aborting producer raises producerAborted, then
  // waits for this to clear before its caller gets the buffer back (shm_connection.cc).
  std::atomic<uint32_t> consumerWritingView{0};
  // Set by the producer when it aborts, before its caller gets its buffers back: a single-copy
  // read that finds it set afterwards may have copied a buffer already being reused.
  std::atomic<uint32_t> producerAborted{0};
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared between processes");

class ByteRing {
 public:
  ByteRing() = default;
  ByteRing(RingControl* control, std::byte* data, size_t capacity)
      : control_(control), data_(data), capacity_(capacity) {}

  RingControl& control() const { return *control_; }
  size_t readable() const;  // consumer side
  // Producer side: the room there is, at least `wanted` if there is that much. The consumer's
  // `tail` is read again only when the last one seen leaves less: each read of it fetches the
  // consumer's cache line, which its every read dirties.
  size_t writable(size_t wanted = SIZE_MAX) const;

  // Copy up to `bytes`, as many as fit / are there; return how many moved.
  size_t write(const void* from, size_t bytes);
  size_t read(void* into, size_t bytes);
  // Copies without consuming; false when fewer than `bytes` are readable.
  bool peek(void* into, size_t bytes) const;

  // Before the first message, in each process: its first access to each page of the ring,
  // though the kernel populated the mapping, costs that process once (measured; no page fault
  // is counted, so likely the page-table entry's accessed and dirty bits). In a VM that cost a
  // 16 KiB allreduce 5-17x its time for the first ring's worth of messages (docs/benchmarks.md,
  // "A slow start over shared memory").
  // The producer writes a zero into every page (a segment's rings start on page boundaries);
  // nothing reads them before `head` passes.
  void warmForProducer();
  // The consumer reads every page and discards what it read (the producer may be writing
  // there already: any value will do).
  void warmForConsumer() const;

 private:
  void copyOut(uint64_t at, void* into, size_t bytes) const;

  size_t roomAfter(uint64_t head, uint64_t tail) const;

  RingControl* control_ = nullptr;
  std::byte* data_ = nullptr;
  size_t capacity_ = 0;
  mutable uint64_t tailSeen_ = 0;  // the consumer's `tail`, as the producer last read it
};

}  // namespace gccl::transport::shm
