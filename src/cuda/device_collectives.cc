#include "cuda/device_collectives.h"

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
  // The mark first: a hold queued before it would make the mark wait for the call itself.
  Job job{call, engine_->streamReached(stream), nextHold_};
  bool held = false;
  try {
    held = engine_->holdStream(stream, job.hold);
  } catch (const Error&) {
    engine_->wait(job.reached);
    throw;
  }
  if (held) {
    ++nextHold_;
    queue_.push_back(std::move(job));
    changed_.notify_all();
    return;
  }
  // The stream cannot be held: run the call now, in order after those already queued.
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
  }
  if (job.hold != 0) engine_->releaseStreams(job.hold);
  return failed;
}

void DeviceCollectives::waitForStream(CopyTicket reached) {
  try {
    engine_->wait(reached);
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
