// Runs one Operation's schedule over the connections, without blocking: the engine calls
// advance() until finished(), sleeping in the poller when nothing moves.
//
// Per peer, sends are posted in schedule order and receives likewise (the transport's
// ordering contract makes the i-th send match the peer's i-th receive). A step is posted once
// its dependencies are complete; a RecvReduce is posted as soon as one of its peer's scratch
// slots is free and reduced once its dependencies are complete.
//
// Each peer has slots of its own. With one pool shared by all peers, a peer whose receives
// need nothing (a tree's first child) could take every slot for later slices while the
// receive that the others wait for (the second child's, or the same slice from the other tree)
// found none: a deadlock. Per peer, receives take slots in schedule order, so a receive that
// waits for a slot waits only for earlier receives from the same peer.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "algorithms/schedule_index.h"
#include "core/operation.h"
#include "reduce/reduce.h"
#include "transport/transport.h"

namespace gccl {

class Poller;

// Receive slots per peer: enough to keep a pipeline of slices in flight.
inline constexpr size_t kScratchSlotsPerPeer = 4;

// Memory reused across operations: the scratch slots of RecvReduce steps, and the work buffer
// of schedules that keep partial results outside the caller's buffers.
class ReusableBuffer {
 public:
  // Operations in a row that needed at most the kept size before a larger buffer is freed.
  static constexpr int kIdleOperationsBeforeFree = 8;

  // This operation's buffer of `bytes` (the storage grows, never shrinks, here).
  std::byte* reserve(size_t bytes);
  // After an operation: frees a buffer larger than `keepBytes` once kIdleOperationsBeforeFree
  // operations in a row needed no more than `keepBytes`. Freed after every operation, a large
  // buffer came back from the kernel as fresh pages for the next one: recursive doubling of
  // 16 MiB (2 x 16 MiB of scratch at 4 ranks, beyond glibc's 32 MiB mmap threshold) faulted
  // its scratch in on every call, and took 0.37-0.59 s a call over loopback TCP instead of
  // 29-49 ms (docs/benchmarks.md).
  void trim(size_t keepBytes);
  size_t bytes() const { return bytes_; }

 private:
  std::unique_ptr<std::byte[]> storage_;
  size_t bytes_ = 0;
  size_t needed_ = 0;  // by the last reserve()
  int idleOperations_ = 0;
};

class Execution {
 public:
  Execution(const Operation& operation, ConnectionMap& connections, ReusableBuffer& scratch,
            ReusableBuffer& work, int size);
  bool advance();
  bool finished() const { return remaining_ == 0; }
  uint64_t sequence() const { return operation_.sequence; }
  void updatePoller(Poller& poller);
  // "receive from rank 2 (...)" for every peer with unfinished work: what a timeout names.
  std::string waitingOn() const;
  // The ranks those are: the wait-for edges of a stall diagnosis.
  std::vector<int> waitedPeers() const;
  // Payload bytes of the sends completed so far (headers, and the payloads that a write-back
  // turned into notices, not counted).
  uint64_t sentBytes() const { return sentBytes_; }
  // Whether what this rank divided held inf or NaN (Operation::findNonFinite).
  bool sawNonFinite() const { return nonFinite_; }

 private:
  struct PeerQueue {
    Connection* connection = nullptr;
    const std::vector<int32_t>* sends = nullptr;  // the schedule index's
    const std::vector<int32_t>* recvs = nullptr;
    size_t sendsPosted = 0, sendsDone = 0, recvsPosted = 0, recvsDone = 0;
    // This peer's scratch slots not holding a receive: a stack, freeSlots[0, freeCount).
    std::array<std::byte*, kScratchSlotsPerPeer> freeSlots{};
    size_t freeCount = 0;
  };

  bool ready(const Step& step) const;
  bool runLocalSteps();
  bool postSends(PeerQueue& queue);
  bool postRecvs(PeerQueue& queue);
  bool completeSends(PeerQueue& queue);
  bool completeRecvs(PeerQueue& queue);
  // A chain step whose message is done: counts it in, and once every step of its chain is in
  // (and what the chain waits on outside itself is done), reduces them all in one pass and
  // completes them, each at the front of its peer's queue. Returns whether it did.
  bool arriveInChain(int32_t index);
  bool chainReady(int32_t chain) const;
  bool settleView(PeerQueue& queue);
  // Write-back (Step::writeBack): whether `reduction`'s result is the collective's (an
  // average's is once divided); whether the step writes into the view `message` holds; whether
  // the write-back send `send` offered the very buffer a receive is posted into.
  bool resultIsFinal(const Step& reduction) const;
  bool writesBackInto(const Step& step, const Message& message) const;
  bool wasOfferedBack(int32_t send, const Message& receive) const;
  struct ViewWriter {
    int32_t step = kNoStep;  // a RecvReduce whose message holds a writable view
    Connection* connection = nullptr;
  };
  // Reduces `chain` into `last`'s output (a single RecvReduce is a chain of one), writing the
  // result into the views of `writers` as it goes.
  void reduceWritingBack(const Step& last, std::span<const ChainOperands> chain,
                         std::span<const ViewWriter> writers);
  void finish(int32_t index);
  std::byte* address(BufferRole role, Range range) const;

  void carveScratch(ReusableBuffer& scratch);
  bool isDone(int32_t index) const { return done_[static_cast<size_t>(index)] != 0; }

  uint64_t sentBytes_ = 0;
  bool nonFinite_ = false;
  const Operation& operation_;
  const Schedule& schedule_;
  // The operation's index, or one made here for an operation that came without (tests).
  std::unique_ptr<const ScheduleIndex> ownIndex_;
  const ScheduleIndex& index_;
  std::byte* work_;
  int size_;
  size_t elementSize_;
  std::vector<PeerQueue> peers_;
  size_t localFrom_ = 0;  // index_.local before this position has run
  std::vector<uint8_t> done_;
  // Per RecvReduce: its result went into the sender's view (empty until the first one did).
  std::vector<uint8_t> writtenBack_;
  // Reduction chains (ScheduleIndex::chains): steps whose message is in, per step and per chain.
  std::vector<uint8_t> arrived_;
  std::vector<uint32_t> arrivedInChain_;
  std::unique_ptr<Message[]> messages_;
  size_t remaining_;
};

}  // namespace gccl
