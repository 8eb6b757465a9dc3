// The progress engine executes operations in submission order over the connections. Two
// threads may drive it, never at once: the progress thread runs queued (non-blocking)
// operations, and a blocking call runs its own operation on the caller's thread when nothing
// is queued — no hand-off, so small messages pay no thread wake-up. Whoever executes sleeps in
// the poller; the idle progress thread sleeps on a condition variable, out of the way.
//
// Errors are stored in the operation's request (the caller's wait rethrows them) and break the
// communicator: every later operation fails fast with the same error, and the connections are
// closed so peers fail fast too.
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
#include "core/execution.h"
#include "core/operation.h"
#include "core/stall_diagnosis.h"
#include "base/poller.h"
#include "transport/transport.h"

namespace gccl {

class Engine {
 public:
  Engine(const Config& config, int rank, int size);
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
  // Fails the running and queued operations with `reason` and closes the connections.
  void abort(const std::string& reason);
  // The error that broke the engine, if any.
  std::optional<Error> error() const;

 private:
  void progressThread();
  // Executes and completes the request, whatever happens; the caller holds the driver role.
  void complete(Operation& operation) noexcept;
  void execute(Operation& operation);
  void drive(Execution& execution);
  // Throws the timeout, with the silent rank named when the diagnosis can tell.
  [[noreturn]] void timedOut(const Execution& execution);
  void releaseDriver();
  std::unique_ptr<Operation> nextQueued();  // takes the driver role when it returns one
  void sleepUntilWork();
  void breakDown(const Error& error);  // driver role + mutex_ held
  // The error as the caller sees it: the operation, this rank and what went wrong.
  Error located(const Operation& operation, std::exception_ptr thrown) const;
  Error abortError() const;  // mutex_ held

  const int timeoutMs_;
  const size_t scratchKeepBytes_;  // per slot: one slice (GCCL_CHUNK_BYTES)
  const int spinUs_;
  const int rank_;
  const int size_;
  Poller poller_;
  ConnectionMap connections_;
  StallDiagnosis* diagnosis_ = nullptr;
  ScratchPool scratch_;
  WorkBuffer work_;
  mutable std::mutex mutex_;
  std::deque<std::unique_ptr<Operation>> queue_;
  std::condition_variable workArrived_;
  std::condition_variable driverReleased_;
  std::atomic<size_t> queued_{0};
  bool busy_ = false;  // some thread holds the driver role (guarded by mutex_)
  std::optional<Error> error_;
  std::optional<std::string> abortReason_;
  std::atomic<bool> abortRequested_{false};
  std::atomic<bool> broken_{false};  // error_ is set (readable without the mutex)
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace gccl
