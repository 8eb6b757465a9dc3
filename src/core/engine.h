// The progress engine executes operations in submission order over the connections. Two
// threads may drive it, never at once: the progress thread runs queued (non-blocking)
// operations, and a blocking call runs its own operation on the caller's thread when nothing
// is queued — no hand-off, so small messages pay no thread wake-up. Whoever executes sleeps in
// the poller; the idle progress thread sleeps on a condition variable, out of the way (waking
// every millisecond only where a connection needs progress while idle, as UCX's do).
//
// Errors are stored in the operation's request (the caller's wait rethrows them) and break the
// communicator: every later operation fails fast with the same error, and the connections are
// closed so peers fail fast too. Only the refusal an operation's plan returns (every rank's
// alike, before any message: Operation::plan) fails that operation alone.
//
// Threads. `abort()` and `error()` may be called from any thread at any moment, also while
// another thread drives: they only take the mutex, which nobody holds across I/O. Breaking
// down is split in two for that reason (see breakDown() and closeConnections()): recording
// the error and failing the queue is quick and done under the mutex; closing the connections
// (each may wait for a failure notice to drain) is done outside it, by whoever holds the
// driver role — the only thread that may touch the connections.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "base/config.h"
#include "base/error.h"
#include "base/poller.h"
#include "core/execution.h"
#include "core/operation.h"
#include "core/stall_diagnosis.h"
#include "transport/transport.h"

namespace gccl {

class Engine {
 public:
  Engine(const Config& config, int rank, int size);
  // Waits for the driver role to be free (a blocking call on another thread finishes its
  // operation first), then closes the connections: with a reset if the engine broke, else
  // gracefully. No call may start once the destructor has.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  Poller& poller() { return poller_; }
  // Starts the progress thread, which owns the connections from now on. `diagnosis` (may be
  // null; it must outlive the engine) names the silent rank when a wait times out.
  void start(ConnectionMap connections, StallDiagnosis* diagnosis = nullptr);
  // Queues the operation; its request completes (with an error if the engine is broken).
  void submit(std::unique_ptr<Operation> operation);
  // Runs the operation on the calling thread when the engine is idle, else queues it; returns
  // once its request is complete either way.
  void run(std::unique_ptr<Operation> operation);
  // Breaks the engine with "rank R aborted: <reason>": queued operations fail at once, the
  // running one at the driver's next step (a sleeping driver is woken), and the connections
  // are closed by the driver or the woken progress thread. Never waits for I/O.
  void abort(const std::string& reason);
  // The error that broke the engine, if any. Never waits for I/O.
  std::optional<Error> error() const;
  // Payload bytes this rank's completed operations sent (headers not counted). Updated before
  // an operation's request completes, so a waiter sees its bytes included.
  uint64_t payloadBytesSent() const { return payloadBytesSent_.load(std::memory_order_relaxed); }

 private:
  void progressThread();
  // Sleeps until the progress thread has something to drive: a queued operation (returned),
  // the connections of a broken engine to close, or (every kIdleProgressInterval, when some
  // connection needs it) idle progress. Takes the driver role for it; false when the engine
  // stops.
  bool awaitDriverRole(std::unique_ptr<Operation>& operation);
  // Progresses the connections that need it while no operation runs; driver role held.
  void progressIdle() noexcept;
  void spinForWork() const;
  bool closePending() const;  // mutex_ held
  // Executes the operation and completes its request, whatever happens; driver role held.
  void complete(Operation& operation) noexcept;
  // The error the operation failed with, if any, after breaking the engine down.
  std::optional<Error> execute(Operation& operation) noexcept;
  void drive(Execution& execution);
  // Throws the timeout, with the silent rank named when the diagnosis can tell.
  [[noreturn]] void timedOut(const Execution& execution);
  [[noreturn]] void throwBroken() const;
  void releaseDriver();
  // Records the first error and fails the queued operations (mutex_ held): quick, so that
  // abort() may do it from any thread. `noticeStatus` is what peers will be told.
  void breakDown(const Error& error, Status noticeStatus);
  // Aborts the connections once the engine is broken, at most once. Driver role held (or the
  // destructor's, with nobody left to drive), mutex_ not held: a failure notice may wait
  // kNoticeWaitMs per connection for the socket to drain.
  void closeConnections();
  // The error as the caller sees it: the operation, this rank and what went wrong.
  Error located(const Operation& operation, std::exception_ptr thrown) const;

  const int timeoutMs_;
  const size_t scratchKeepBytes_;  // scratch and work kept between operations
  const WaitPolicy waits_;         // after the last progress: busy-poll, poll yielding, sleep
  const int rank_;
  const int size_;
  Poller poller_;
  ConnectionMap connections_;  // driver role only
  bool idleProgress_ = false;  // some connection needs progress while idle; set by start()
  uint64_t idleRounds_ = 0;    // driver role only
  StallDiagnosis* diagnosis_ = nullptr;
  ReusableBuffer scratch_;  // driver role only
  ReusableBuffer work_;     // driver role only
  mutable std::mutex mutex_;
  // Guarded by mutex_:
  std::deque<std::unique_ptr<Operation>> queue_;
  bool busy_ = false;    // some thread holds the driver role
  bool idling_ = false;  // ... for idle progress, which takes microseconds
  std::optional<Error> error_;
  Status noticeStatus_ = Status::kRemoteError;
  bool connectionsOpen_ = true;  // cleared by the driver that closes them
  std::condition_variable workArrived_;
  std::condition_variable driverReleased_;
  // Readable without the mutex, on the hot paths:
  std::atomic<size_t> queued_{0};
  std::atomic<bool> broken_{false};  // error_ is set
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> payloadBytesSent_{0};
  std::thread thread_;
};

}  // namespace gccl
