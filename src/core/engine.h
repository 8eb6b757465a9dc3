// The progress engine: one thread per communicator that executes submitted operations in
// order over the connections. Errors raised here are stored in the operation's request (the
// caller's wait rethrows them) and break the communicator: every later operation fails fast
// with the same error, and the connections are closed so peers fail fast too.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "core/config.h"
#include "core/error.h"
#include "core/execution.h"
#include "core/operation.h"
#include "core/poller.h"
#include "transport/transport.h"

namespace gccl {

class Engine {
 public:
  Engine(const Config& config, int rank, int size);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  Poller& poller() { return poller_; }
  // Starts the progress thread, which owns the connections from now on.
  void start(ConnectionMap connections);
  // Queues the operation; its request completes (with an error if the engine is broken).
  void submit(std::unique_ptr<Operation> operation);
  // Fails the running and queued operations with `reason` and closes the connections.
  void abort(const std::string& reason);
  // The error that broke the engine, if any.
  std::optional<Error> error() const;

 private:
  void run();
  void execute(Operation& operation);
  void sleepUntilWork();
  void breakDown(const Error& error);  // engine thread only

  const int timeoutMs_;
  const int spinUs_;
  const int rank_;
  const int size_;
  Poller poller_;
  ConnectionMap connections_;
  ScratchPool scratch_;
  mutable std::mutex mutex_;
  std::deque<std::unique_ptr<Operation>> queue_;
  std::atomic<size_t> queued_{0};
  std::optional<Error> error_;
  std::optional<std::string> abortReason_;
  std::atomic<bool> abortRequested_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace gccl
