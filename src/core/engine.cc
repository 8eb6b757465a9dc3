#include "core/engine.h"

#include <algorithm>
#include <chrono>

#include "base/logging.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace gccl {

namespace {

void cpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

// The work buffer kept between operations, in slices: like the receive slots.
constexpr size_t kScratchSlots = ScratchPool::kSlots;

// The longest single sleep: bounds how late a timeout or an abort is noticed.
constexpr int kMaxSleepMs = 50;

}  // namespace

Engine::Engine(const Config& config, int rank, int size)
    : timeoutMs_(config.timeoutMs),
      scratchKeepBytes_(config.chunkBytes),
      spinUs_(std::max(0, config.spinUs)), rank_(rank), size_(size) {}

Engine::~Engine() {
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true);
  }
  workArrived_.notify_all();
  poller_.wake();
  if (thread_.joinable()) thread_.join();
  {
    // A blocking call may still be driving on another thread (gcclCommAbort from a watchdog):
    // it notices the abort within kMaxSleepMs, or finishes within its timeout.
    std::unique_lock lock(mutex_);
    driverReleased_.wait(lock, [&] { return !busy_; });
  }
  try {
    // An abort that nobody acted on yet still tells the peers.
    std::lock_guard lock(mutex_);
    if (abortRequested_.load() && !error_) breakDown(abortError());
  } catch (const std::exception&) {
    // Out of memory while telling them: the connections below still close.
  }
  // A clean shutdown closes gracefully: a completed send may still sit in the kernel's queue,
  // and a reset would discard it before the peer has read its last bytes.
  connections_.clear();
}

void Engine::start(ConnectionMap connections, StallDiagnosis* diagnosis) {
  connections_ = std::move(connections);
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
    queue_.push_back(std::move(operation));
    queued_.fetch_add(1, std::memory_order_release);
  }
  workArrived_.notify_one();
}

void Engine::run(std::unique_ptr<Operation> operation) {
  {
    std::unique_lock lock(mutex_);
    if (error_ || busy_ || !queue_.empty()) {
      lock.unlock();
      auto request = operation->request;
      submit(std::move(operation));
      request->wait(spinUs_);
      return;
    }
    busy_ = true;
  }
  complete(*operation);
  releaseDriver();
}

void Engine::releaseDriver() {
  bool more = false;
  {
    std::lock_guard lock(mutex_);
    busy_ = false;
    more = !queue_.empty();
  }
  driverReleased_.notify_all();
  if (more || abortRequested_.load()) workArrived_.notify_one();
}

void Engine::abort(const std::string& reason) {
  {
    std::lock_guard lock(mutex_);
    abortReason_ = reason;
    abortRequested_.store(true);
  }
  workArrived_.notify_all();
  poller_.wake();
}

std::optional<Error> Engine::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void Engine::progressThread() {
  setLogRank(rank_);
  while (!stopping_.load()) {
    if (abortRequested_.load()) {
      std::lock_guard lock(mutex_);
      // An abort while idle still closes the connections, so peers learn of it at once.
      if (!error_ && !busy_) breakDown(abortError());
    }
    std::unique_ptr<Operation> operation = nextQueued();
    if (!operation) {
      sleepUntilWork();
      continue;
    }
    complete(*operation);
    releaseDriver();
  }
}

std::unique_ptr<Operation> Engine::nextQueued() {
  std::lock_guard lock(mutex_);
  if (busy_ || queue_.empty()) return nullptr;
  std::unique_ptr<Operation> operation = std::move(queue_.front());
  queue_.pop_front();
  queued_.fetch_sub(1, std::memory_order_relaxed);
  busy_ = true;
  return operation;
}

// Nothing may escape: the request must complete and the driver role must be released, or
// callers would wait for ever.
void Engine::complete(Operation& operation) noexcept {
  try {
    execute(operation);
  } catch (...) {
    std::lock_guard lock(mutex_);
    if (!error_) breakDown(located(operation, std::current_exception()));  // failed to start
    operation.request->complete(error_->status(), error_->what());
    return;
  }
  operation.request->complete(Status::kSuccess, "");
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

Error Engine::abortError() const {
  return Error(Status::kInvalidUsage,
               strCat("rank ", rank_, " aborted: ", abortReason_.value_or("gcclCommAbort")));
}

void Engine::sleepUntilWork() {
  const auto spinUntil = Clock::now() + std::chrono::microseconds(spinUs_);
  while (Clock::now() < spinUntil) {
    if (queued_.load(std::memory_order_acquire) > 0 || stopping_.load()) return;
    cpuRelax();
  }
  std::unique_lock lock(mutex_);
  workArrived_.wait(lock, [&] {
    // An abort while another thread drives is that thread's to handle: waking for it here
    // would spin this thread until the driver notices.
    return (!queue_.empty() && !busy_) || stopping_.load() ||
           (abortRequested_.load() && !error_ && !busy_);
  });
}

void Engine::execute(Operation& operation) {
  Execution execution(operation, connections_, scratch_, work_, size_);
  try {
    drive(execution);
    scratch_.trim(scratchKeepBytes_);
    work_.trim(kScratchSlots * scratchKeepBytes_);
  } catch (...) {
    // Whatever failed, this rank is not the silent one: a diagnosing peer whose chain of
    // waits runs through it follows on to whom it waited for (a timeout published already).
    if (diagnosis_ != nullptr) diagnosis_->publishWaiting(operation.sequence, execution.waitedPeers());
    // Close before `execution` (which owns the posted messages) dies: a peer thread of the
    // in-process transport must not find our messages in a shared lane afterwards.
    std::lock_guard lock(mutex_);
    breakDown(located(operation, std::current_exception()));
    throw;
  }
}

void Engine::drive(Execution& execution) {
  auto lastProgress = Clock::now();
  auto spinUntil = lastProgress + std::chrono::microseconds(spinUs_);
  bool slept = false;
  while (!execution.finished()) {
    if (execution.advance()) {
      lastProgress = Clock::now();
      spinUntil = lastProgress + std::chrono::microseconds(spinUs_);
      continue;
    }
    const auto now = Clock::now();
    if (abortRequested_.load()) {
      std::lock_guard lock(mutex_);
      throw abortError();
    }
    if (now - lastProgress > std::chrono::milliseconds(timeoutMs_)) timedOut(execution);
    if (now < spinUntil) {
      cpuRelax();
      continue;
    }
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
  fail(Status::kTimeout,
       diagnosis_->diagnose(execution.sequence(), execution.waitedPeers(), peerLevel));
}

void Engine::breakDown(const Error& error) {
  GCCL_WARN(LogSubsys::kColl, error.what());
  error_ = error;
  broken_.store(true);
  // Closing tells every neighbour at once; each of them fails and closes in turn, so the
  // whole job learns of the failure in microseconds instead of a timeout each. The notice
  // says why: peers report a mismatched collective as a usage error, anything else as remote.
  const bool usageError = error.status() == Status::kInvalidUsage && !abortRequested_.load();
  const Status noticeStatus = usageError ? Status::kInvalidUsage : Status::kRemoteError;
  std::string notice = error.origin();
  if (notice.empty()) notice = error.what();
  for (auto& [peer, connection] : connections_) connection->abort(noticeStatus, notice);
  for (auto& queued : queue_) {
    queued->request->complete(error.status(), strCat(queued->describe(), " on rank ", rank_,
                                                     " not started: ", error.what()));
  }
  queue_.clear();
  queued_.store(0);
}

}  // namespace gccl
