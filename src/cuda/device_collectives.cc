#include "cuda/device_collectives.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <thread>
#include <utility>

#include "base/error.h"

namespace gccl {

DeviceCollectives::DeviceCollectives(Communicator& comm, std::shared_ptr<CopyEngine> engine)
    : comm_(comm),
      engine_(std::move(engine)),
      staged_(comm, *engine_),
      proxy_([this] { proxy(); }) {}

DeviceCollectives::~DeviceCollectives() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  proxy_.join();
}

void DeviceCollectives::run(const CollectiveCall& call, void* stream) {
  staged_.check(call);
  std::unique_lock lock(mutex_);
  throwIfFailed();
  changed_.wait(lock, [this] { return queue_.empty() && !busy_; });
  throwIfFailed();
  busy_ = true;  // the proxy stays idle while this thread stages
  lock.unlock();
  std::optional<Error> failed;
  try {
    waitForStream(engine_->streamReached(stream));
    staged_.run(call);
  } catch (const Error& e) {
    failed = e;
  } catch (const std::exception& e) {  // whatever it is, the proxy must not stay locked out
    failed.emplace(Status::kInternalError,
                   strCat("device call on rank ", comm_.rank(), ": ", e.what()));
  }
  lock.lock();
  busy_ = false;
  changed_.notify_all();
  if (failed) throw *failed;
}

void DeviceCollectives::enqueue(const CollectiveCall& call, void* stream) {
  staged_.check(call);
  std::unique_lock lock(mutex_);
  throwIfFailed();
  // The mark first: a hold queued before it would make the mark wait for the call itself. The
  // job is queued before the stream is held (the proxy cannot take it while this thread has
  // the lock), so that a held stream always has a job that will release it.
  queue_.push_back(Job{call, engine_->streamReached(stream), nextHold_});
  bool held = false;
  try {
    held = engine_->holdStream(stream, nextHold_);
  } catch (const Error&) {
    const CopyTicket reached = queue_.back().reached;
    queue_.pop_back();
    // Unlocked: the stream may first have to pass an earlier call's hold, which the proxy
    // releases under this lock.
    lock.unlock();
    try {
      engine_->wait(reached);
    } catch (const Error&) {
    }
    throw;  // holdStream's error
  }
  if (held) {
    ++nextHold_;
    changed_.notify_all();
    return;
  }
  // The stream cannot be held: run the call now, in order after those already queued.
  Job job = std::move(queue_.back());
  queue_.pop_back();
  job.hold = 0;
  changed_.wait(lock, [this] { return queue_.empty() && !busy_; });
  busy_ = true;
  lock.unlock();
  const std::optional<Error> failed = execute(job);
  lock.lock();
  busy_ = false;
  changed_.notify_all();
  if (failed) throw *failed;
}

void DeviceCollectives::finish() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return queue_.empty() && !busy_; });
  throwIfFailed();
}

std::optional<Error> DeviceCollectives::execute(const Job& job) {
  std::optional<Error> failed;
  try {
    waitForStream(job.reached);
    bool failedBefore = false;
    {
      std::lock_guard lock(mutex_);
      failedBefore = failure_.has_value();
    }
    // After a failure the collective sequence is broken: later calls only release their holds.
    if (!failedBefore) staged_.run(job.call);
  } catch (const Error& e) {
    failed = e;
  } catch (const std::exception& e) {  // out of memory, a system error: still an answer
    failed.emplace(Status::kInternalError,
                   strCat("stream-ordered call on rank ", comm_.rank(), ": ", e.what()));
  }
  // Its peers must not wait for the rest of this rank's calls (a no-op when the communicator
  // already failed), and the caller's stream must go on.
  if (failed) comm_.abort(failed->what());
  if (job.hold != 0) engine_->releaseStreams(job.hold);
  return failed;
}

void DeviceCollectives::waitForStream(CopyTicket reached) {
  try {
    // Polled, not waited on: the wait may last as long as the caller's kernels, and a CUDA
    // event wait would spin a core for all of it.
    auto pause = std::chrono::microseconds(2);
    while (!engine_->done(reached)) {
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(200));
    }
  } catch (const Error& e) {
    // This rank will not issue the call: its peers must not wait for it.
    const std::string what =
        strCat("rank ", comm_.rank(), ": the work queued before the call failed: ", e.what());
    comm_.abort(what);
    fail(e.status(), what);
  }
}

void DeviceCollectives::proxy() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] {
      return (!queue_.empty() && !busy_) || (stopping_ && queue_.empty() && !busy_);
    });
    if (queue_.empty()) return;  // stopping, and every queued call has run
    Job job = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    std::optional<Error> failed = execute(job);
    lock.lock();
    if (failed && !failure_) failure_ = std::move(failed);
    busy_ = false;
    changed_.notify_all();
  }
}

void DeviceCollectives::throwIfFailed() {
  if (failure_) {
    throw Error(failure_->status(),
                strCat("an earlier stream-ordered call on rank ", comm_.rank(),
                       " failed: ", failure_->what()),
                failure_->origin());
  }
}

}  // namespace gccl
