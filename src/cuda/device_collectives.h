// The collectives of one communicator over device buffers, in the caller's stream order
// (NCCL's semantics, without a GPU-aware transport):
//
//   caller's stream:  ...kernels... | hold ---------------------- released | later work
//   proxy thread:            wait for the mark | staged collective | release
//
// A stream-ordered call marks the work queued on the caller's stream so far, holds the stream
// (later work waits for the release) and queues the call for this object's proxy thread, then
// returns. The proxy waits for the mark, runs the call through the staging pipeline and
// releases the hold, failed or not: a failure is the communicator's asynchronous error, and
// the stream never waits forever. Calls run in the order they were made, so every rank issues
// the same collectives in the same order.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "core/collective_call.h"
#include "core/communicator.h"
#include "cuda/copy_engine.h"
#include "cuda/staged_collectives.h"

namespace gccl {

class DeviceCollectives {
 public:
  // `comm` must outlive this object.
  DeviceCollectives(Communicator& comm, std::shared_ptr<CopyEngine> engine);
  // Finishes the queued calls (bounded: each fails fast once the communicator is aborted).
  ~DeviceCollectives();
  DeviceCollectives(const DeviceCollectives&) = delete;
  DeviceCollectives& operator=(const DeviceCollectives&) = delete;

  CopyEngine& engine() const { return *engine_; }

  // The blocking form: runs after the work queued on `stream` (null: the legacy default
  // stream) and the calls queued before, and returns with the result in device memory.
  // Throws Error for bad arguments, and for a failure of this call or of an earlier queued one.
  void run(const CollectiveCall& call, void* stream);
  // The stream form: checks the arguments (throws Error for bad ones, and for an earlier queued
  // call's failure), queues the call and returns. When the engine cannot hold a stream it runs
  // the call before returning instead.
  void enqueue(const CollectiveCall& call, void* stream);
  // Returns once every queued call has finished; throws the first failure among them.
  void finish();

 private:
  struct Job {
    CollectiveCall call;
    CopyTicket reached = 0;  // the caller's stream at the call
    uint64_t hold = 0;       // 0: nothing held
  };

  void check(const CollectiveCall& call) const;
  // Runs it (unless an earlier queued call failed) and releases its hold; returns its failure.
  std::optional<Error> execute(const Job& job);
  // Waits for the caller's stream mark; its failure aborts the communicator and is thrown.
  void waitForStream(CopyTicket reached);
  void proxy();
  void throwIfFailed();  // lock held

  Communicator& comm_;
  std::shared_ptr<CopyEngine> engine_;
  StagedCollectives staged_;  // used by one thread at a time: the proxy, or a caller once idle
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Job> queue_;
  bool busy_ = false;  // the proxy is executing a job taken off the queue
  bool stopping_ = false;
  uint64_t nextHold_ = 1;
  std::optional<Error> failure_;  // the first failed queued call's
  std::thread proxy_;             // last: started once the rest is constructed
};

}  // namespace gccl
