// A stand-in for a CUDA stream in tests: tasks (the "kernels" a test queues, and the waits and
// marks HostCopyEngine queues for the stream-ordered calls) run in order on a thread of their
// own.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace gccl {

class HostStream {
 public:
  HostStream();
  // Runs what is queued, then stops.
  ~HostStream();
  HostStream(const HostStream&) = delete;
  HostStream& operator=(const HostStream&) = delete;

  void enqueue(std::function<void()> task);
  // Returns once every task queued so far has run.
  void synchronize();

 private:
  void worker();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> tasks_;
  bool running_ = false;  // a task is running, outside the lock
  bool stopping_ = false;
  std::thread thread_;  // last: started once the rest is constructed
};

}  // namespace gccl
