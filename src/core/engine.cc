#include "core/engine.h"

#include <algorithm>
#include <chrono>
#include <new>

#include "base/logging.h"
#include "core/wait_stages.h"

namespace gccl {

namespace {

// Scratch kept between operations, in slices (GCCL_CHUNK_BYTES): halving-doubling at 64 ranks
// needs 13 slots of its partners, a tree 8 of its children; more (recursive doubling's whole
// buffers) is kept while operations use it and freed once they stop (ReusableBuffer::trim).
// The work buffer keeps as much.
constexpr size_t kSlicesKept = 4 * kScratchSlotsPerPeer;

// The longest single sleep: bounds how late a timeout is noticed (an abort wakes the poller).
constexpr int kMaxSleepMs = 50;

// How often an idle engine progresses connections that need it (UCX's): what a peer may wait
// at worst for a message UCX owes it, against a thousand short wake-ups a second.
constexpr auto kIdleProgressInterval = std::chrono::milliseconds(1);

}  // namespace

Engine::Engine(const Config& config, int rank, int size)
    : timeoutMs_(config.timeoutMs),
      scratchKeepBytes_(kSlicesKept * config.chunkBytes),
      waits_(waitPolicyOf(config)),
      rank_(rank),
      size_(size) {}

Engine::~Engine() {
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true);
    workArrived_.notify_all();
  }
  poller_.wake();
  if (thread_.joinable()) thread_.join();
  {
    // A blocking call may still be driving on another thread (a C++ owner that destroys while
    // a watchdog's abort ends that call; the C API instead waits for its callers to leave):
    // it notices the abort at once, or finishes within its timeout.
    std::unique_lock lock(mutex_);
    driverReleased_.wait(lock, [&] { return !busy_; });
    // Still queued: operations that two threads' calls (a usage error) slipped in behind the
    // one the owner's drain waited for. They never run, and their requests must not wait for
    // ever.
    for (auto& queued : queue_) {
      queued->request->complete(Status::kInvalidUsage,
                                strCat(queued->describe(), " on rank ", rank_,
                                       " not started: the communicator was destroyed first"));
    }
    queue_.clear();
  }
  // Nobody drives any more, so the connections are ours. A broken engine (an abort nobody
  // acted on yet included) resets them and tells the peers why; a clean shutdown closes
  // gracefully: a completed send may still sit in the kernel's queue, and a reset would
  // discard it before the peer has read its last bytes.
  closeConnections();
  connections_.clear();
}

void Engine::start(ConnectionMap connections, StallDiagnosis* diagnosis) {
  connections_ = std::move(connections);
  idleProgress_ = std::any_of(connections_.begin(), connections_.end(),
                              [](const auto& entry) { return entry.second->needsIdleProgress(); });
  diagnosis_ = diagnosis;
  thread_ = std::thread([this] { progressThread(); });
}

void Engine::submit(std::unique_ptr<Operation> operation) {
  {
    std::lock_guard lock(mutex_);
    if (error_) {
      operation->request->complete(
          error_->status(),
          strCat(operation->describe(), " on rank ", rank_,
                 " not started: the communicator failed earlier: ", error_->what()));
      return;
    }
    try {
      queue_.push_back(std::move(operation));  // unchanged if this throws
    } catch (const std::bad_alloc&) {
      // The caller's drain may already wait on this request: it must complete.
      operation->request->complete(
          Status::kSystemError,
          strCat(operation->describe(), " on rank ", rank_, " not started: out of memory"));
      return;
    }
    queued_.fetch_add(1, std::memory_order_release);
  }
  workArrived_.notify_one();
}

void Engine::run(std::unique_ptr<Operation> operation) {
  {
    std::unique_lock lock(mutex_);
    // Idle progress gives the role back within microseconds: wait for it, rather than hand
    // the operation to the progress thread.
    driverReleased_.wait(lock, [&] { return !idling_; });
    if (error_ || busy_ || !queue_.empty()) {
      lock.unlock();
      auto request = operation->request;
      submit(std::move(operation));
      request->wait(waits_);
      return;
    }
    busy_ = true;
  }
  complete(*operation);
  releaseDriver();
}

void Engine::releaseDriver() {
  // Still the driver: an abort that came in while the operation finished (or while the
  // progress thread took the role) leaves connections to close, and only the driver may.
  closeConnections();
  // The rest under the mutex: the destructor waits for !busy_ under it and then frees the
  // condition variables, so nothing of this engine may be touched once it is released.
  std::lock_guard lock(mutex_);
  busy_ = false;
  idling_ = false;
  driverReleased_.notify_all();
  // An abort since closeConnections() above is the progress thread's to act on.
  if (!queue_.empty() || closePending()) workArrived_.notify_one();
}

void Engine::abort(const std::string& reason) {
  std::lock_guard lock(mutex_);
  breakDown(Error(Status::kInvalidUsage, strCat("rank ", rank_, " aborted: ", reason)),
            Status::kRemoteError);
  // The driver, if any, sees broken_ at its next step or wakes from the poller; an idle
  // progress thread wakes to close the connections, so that peers learn of it at once.
  workArrived_.notify_all();
  poller_.wake();
}

std::optional<Error> Engine::error() const {
  std::lock_guard lock(mutex_);
  if (!error_) return std::nullopt;
  // A copy that shares no storage with error_: copies of a std::runtime_error share the
  // message through a reference count inside libstdc++, which TSan does not see, and this
  // copy is read on another thread, possibly after the engine is gone.
  return Error(error_->status(), error_->what(), error_->origin());
}

void Engine::progressThread() {
  setLogRank(rank_);
  bool ranOperation = true;
  for (;;) {
    // Spinning pays after an operation (the next is often submitted at once), not after an
    // idle progress round.
    if (ranOperation) spinForWork();
    std::unique_ptr<Operation> operation;
    if (!awaitDriverRole(operation)) return;
    ranOperation = operation != nullptr;
    if (operation) {
      complete(*operation);
    } else {
      progressIdle();  // and the connections of a broken engine are closed on release
    }
    releaseDriver();
  }
}

bool Engine::awaitDriverRole(std::unique_ptr<Operation>& operation) {
  std::unique_lock lock(mutex_);
  // While another thread drives, neither a queued operation nor an abort is ours: waking for
  // them would spin this thread until the driver releases the role (it notifies then).
  const auto ours = [&] {
    return stopping_.load() || (!busy_ && (!queue_.empty() || closePending()));
  };
  for (;;) {
    if (!idleProgress_ || error_) {
      workArrived_.wait(lock, ours);
      break;
    }
    // Woken by the interval, the role is taken for idle progress unless someone drives.
    if (workArrived_.wait_for(lock, kIdleProgressInterval, ours) || !busy_) break;
  }
  if (stopping_.load()) return false;
  busy_ = true;
  idling_ = queue_.empty() && !closePending();
  if (!queue_.empty()) {
    operation = std::move(queue_.front());
    queue_.pop_front();
    queued_.fetch_sub(1, std::memory_order_relaxed);
  }
  return true;
}

// Returns early when work (or the stop) arrives: the next submission after a blocking call
// often comes within microseconds, and a condition-variable wake costs more than that.
void Engine::spinForWork() const {
  const auto spinUntil = Clock::now() + std::chrono::microseconds(waits_.spinUs);
  while (Clock::now() < spinUntil) {
    if (queued_.load(std::memory_order_acquire) > 0 || stopping_.load()) return;
    cpuRelax();
  }
}

void Engine::progressIdle() noexcept {
  if (broken_.load()) return;
  ++idleRounds_;
  for (auto& [peer, connection] : connections_) connection->progressIdle(idleRounds_);
}

bool Engine::closePending() const {
  return error_.has_value() && connectionsOpen_;
}

void Engine::complete(Operation& operation) noexcept {
  const std::optional<Error> failure = execute(operation);
  if (failure) {
    operation.request->complete(failure->status(), failure->what());
  } else {
    operation.request->complete(Status::kSuccess, "");
  }
}

Error Engine::located(const Operation& operation, std::exception_ptr thrown) const {
  Status status = Status::kInternalError;
  std::string message;
  std::string origin;
  try {
    std::rethrow_exception(thrown);
  } catch (const Error& e) {
    status = e.status();
    message = e.what();
    origin = e.origin();
  } catch (const std::bad_alloc&) {
    status = Status::kSystemError;
    message = "out of memory";
  } catch (const std::exception& e) {
    message = strCat("internal error: ", e.what());
  } catch (...) {
    message = "internal error: an unknown exception";
  }
  return Error(status,
               strCat(operation.describe(), " on rank ", rank_, " (of ", size_, "): ", message),
               origin);
}

// Nothing may escape: the request must complete and the driver role must be released, or
// callers would wait for ever.
std::optional<Error> Engine::execute(Operation& operation) noexcept {
  // Outside the try block, so that it outlives the handler: the connections are closed before
  // the execution (which owns the posted messages) dies — a peer thread of the in-process
  // transport must not find our messages in a shared lane afterwards, and a TCP failure
  // notice first finishes the message it cut off.
  std::optional<Execution> execution;
  try {
    if (operation.plan) {
      // Refused on every rank alike, before any message: the caller's mistake, which leaves
      // the connections as they were.
      if (std::optional<Error> refused = operation.plan(operation)) {
        return located(operation, std::make_exception_ptr(*refused));
      }
    }
    execution.emplace(operation, connections_, scratch_, work_, size_);
    drive(*execution);
    if (execution->sawNonFinite()) operation.request->setNonFinite();
    payloadBytesSent_.fetch_add(execution->sentBytes(), std::memory_order_relaxed);
    scratch_.trim(scratchKeepBytes_);
    work_.trim(scratchKeepBytes_);
    return std::nullopt;
  } catch (...) {
    Error error = located(operation, std::current_exception());
    // Whatever failed, this rank is not the silent one: a diagnosing peer whose chain of
    // waits runs through it follows on to whom it waited for (a timeout published already).
    if (diagnosis_ != nullptr && execution) {
      diagnosis_->publishWaiting(operation.sequence, execution->waitedPeers());
    }
    {
      std::lock_guard lock(mutex_);
      // A mismatched collective is the caller's mistake on every rank: peers report it as
      // such. Anything else (this rank's timeout, a peer gone) is remote to them.
      breakDown(error, error.status() == Status::kInvalidUsage ? Status::kInvalidUsage
                                                               : Status::kRemoteError);
    }
    closeConnections();
    return error;
  }
}

// Waits in three stages after the last progress: a busy-poll (a peer on another core answers
// within microseconds), a poll that yields the core at every turn (where ranks outnumber
// cores, the peer that has work runs after a context switch instead of a wake-up), a sleep.
//
// The clock is read only in turns without progress: the first such turn after progress
// stands for it (the stages and the timeout count from there, a step's time later), so an
// operation that never waits reads it not at all.
void Engine::drive(Execution& execution) {
  Clock::time_point lastProgress;
  WaitStages stages(waits_, lastProgress);
  bool progressed = true;  // the start counts as progress
  bool slept = false;
  while (!execution.finished()) {
    // Checked at every step, not only when stalled: a large operation that keeps moving
    // would otherwise run to its end after an abort.
    if (broken_.load(std::memory_order_relaxed)) throwBroken();
    if (execution.advance()) {
      progressed = true;
      continue;
    }
    const auto now = Clock::now();
    if (progressed) {
      progressed = false;
      lastProgress = now;
      stages.restart(now);
    }
    if (now - lastProgress > std::chrono::milliseconds(timeoutMs_)) timedOut(execution);
    if (stages.pause(now)) continue;
    execution.updatePoller(poller_);
    slept = true;
    poller_.wait(kMaxSleepMs);
  }
  // Nothing is pending now: clear the interest set, so that early data for the next operation
  // cannot make a later sleep return at once.
  if (slept) execution.updatePoller(poller_);
}

void Engine::timedOut(const Execution& execution) {
  const std::string peerLevel =
      strCat("no progress for ", timeoutMs_, " ms (GCCL_TIMEOUT_MS) waiting to ",
             execution.waitingOn(), ": the peer is stopped, hung or unreachable");
  if (diagnosis_ == nullptr) fail(Status::kTimeout, peerLevel);
  const std::string verdict =
      diagnosis_->diagnose(execution.sequence(), execution.waitedPeers(), peerLevel, broken_);
  if (broken_.load()) throwBroken();  // aborted meanwhile: the abort is the first error
  fail(Status::kTimeout, verdict);
}

// Only abort() breaks the engine from outside the driver: the running operation fails with it.
void Engine::throwBroken() const {
  std::lock_guard lock(mutex_);
  throw *error_;
}

void Engine::breakDown(const Error& error, Status noticeStatus) {
  if (error_) return;  // the first error is the one every rank reports
  error_ = error;
  noticeStatus_ = noticeStatus;
  broken_.store(true);
  for (auto& queued : queue_) {
    queued->request->complete(error.status(), strCat(queued->describe(), " on rank ", rank_,
                                                     " not started: ", error.what()));
  }
  queue_.clear();
  queued_.store(0);
}

void Engine::closeConnections() {
  // Without the mutex while nothing broke, as after every operation that succeeded: broken_ is
  // set under it together with error_, and a break that comes after this look is the
  // progress thread's to act on (releaseDriver's check), as one after the look below.
  if (!broken_.load(std::memory_order_acquire)) return;
  std::optional<Error> error;
  Status noticeStatus = Status::kRemoteError;
  {
    std::lock_guard lock(mutex_);
    if (!closePending()) return;
    connectionsOpen_ = false;
    error = error_;
    noticeStatus = noticeStatus_;
  }
  GCCL_WARN(LogSubsys::kColl, error->what());  // once per broken engine, and not under mutex_
  // Closing tells every neighbour at once; each of them fails and closes in turn, so the
  // whole job learns of the failure in microseconds instead of a timeout each. The notice
  // says why, in the words of the rank that failed first.
  const std::string notice = error->origin().empty() ? error->what() : error->origin();
  for (auto& [peer, connection] : connections_) {
    // Best effort, one connection after another: a notice that cannot go out (poll failing,
    // no memory for its text) must neither keep the other peers from hearing nor escape into
    // execute(), which may throw nothing (the process would terminate).
    try {
      connection->abort(noticeStatus, notice);
    } catch (...) {
    }
  }
}

}  // namespace gccl
