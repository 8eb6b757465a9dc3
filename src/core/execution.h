// Runs one Operation's schedule over the connections, without blocking: the engine calls
// advance() until finished(), sleeping in the poller when nothing moves.
//
// Per peer, sends are posted in schedule order and receives likewise (the transport's
// ordering contract makes the i-th send match the peer's i-th receive). A step is posted once
// its dependencies are complete; a RecvReduce is posted as soon as a scratch slot is free and
// reduced once its dependencies are complete.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/operation.h"
#include "transport/transport.h"

namespace gccl {

class Poller;

// Receive buffers for RecvReduce steps, reused across operations.
class ScratchPool {
 public:
  static constexpr size_t kSlots = 4;
  void reserve(size_t slotBytes);
  // Frees the slots if they grew beyond `keepSlotBytes` each: one large whole-buffer exchange
  // must not pin its scratch for the communicator's lifetime.
  void trim(size_t keepSlotBytes);
  void* slot(size_t index) { return storage_.get() + index * slotBytes_; }
  size_t slotBytes() const { return slotBytes_; }

 private:
  std::unique_ptr<std::byte[]> storage_;
  size_t slotBytes_ = 0;
};

// The work buffer of schedules that keep partial results outside the caller's buffers.
class WorkBuffer {
 public:
  std::byte* reserve(size_t bytes);
  // Frees the buffer if it grew beyond `keepBytes`.
  void trim(size_t keepBytes);
  size_t bytes() const { return bytes_; }

 private:
  std::unique_ptr<std::byte[]> storage_;
  size_t bytes_ = 0;
};

class Execution {
 public:
  Execution(const Operation& operation, ConnectionMap& connections, ScratchPool& scratch,
            WorkBuffer& work, int size);
  bool advance();
  bool finished() const { return remaining_ == 0; }
  uint64_t sequence() const { return operation_.sequence; }
  void updatePoller(Poller& poller);
  // "receive from rank 2 (...)" for every peer with unfinished work: what a timeout names.
  std::string waitingOn() const;
  // The ranks those are: the wait-for edges of a stall diagnosis.
  std::vector<int> waitedPeers() const;

 private:
  struct PeerQueue {
    Connection* connection = nullptr;
    std::vector<int32_t> sends;
    std::vector<int32_t> recvs;
    size_t sendsPosted = 0, sendsDone = 0, recvsPosted = 0, recvsDone = 0;
  };

  bool ready(const Step& step) const;
  bool runLocalSteps();
  bool postSends(PeerQueue& queue);
  bool postRecvs(PeerQueue& queue);
  bool completeSends(PeerQueue& queue);
  bool completeRecvs(PeerQueue& queue);
  void finish(int32_t index);
  std::byte* address(BufferRole role, Range range) const;

  const Operation& operation_;
  const Schedule& schedule_;
  ScratchPool& scratch_;
  std::byte* work_;
  int size_;
  size_t elementSize_;
  std::vector<PeerQueue> peers_;
  std::vector<int32_t> local_;  // copy / divide steps not yet run
  std::vector<uint8_t> done_;
  std::unique_ptr<Message[]> messages_;
  std::vector<int8_t> slotOf_;  // scratch slot of each posted RecvReduce
  std::vector<size_t> freeSlots_;
  size_t remaining_;
};

}  // namespace gccl
