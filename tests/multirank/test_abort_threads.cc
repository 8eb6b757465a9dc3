// gcclCommAbort from a watchdog thread, as PyTorch uses it: one thread is blocked in a
// collective (or waits on non-blocking requests), another aborts the communicator, a third
// polls gcclCommGetAsyncError and gcclGetLastError. Ranks are threads of this process talking
// over loopback TCP through the public C API, so the handle registry, the engine and the
// transport all take part, and ASan and TSan see every thread.
//
// The abort lands at a random moment: before the first call, mid-collective, or after the
// last one completed. Whatever the moment, the blocked call returns within a bound with a
// sane result, and nothing is freed under a caller.
//
// The same rounds run through the C++ API over the in-process transport too: the engine's
// abort path without the handle layer, its connections closing while peer threads use the
// shared lanes.
//
// GCCL_TEST_ABORT_ITERATIONS sets the number of rounds of each (default 50);
// GCCL_TEST_ABORT_SEED replays the rounds of a failed run (its seed is printed).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <latch>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gccl/gccl.h>

#include "bootstrap/memory_store.h"
#include "bootstrap/tcp_store.h"
#include "core/communicator.h"
#include "transport/inproc/inproc_transport.h"

namespace gccl {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRanks = 3;
constexpr int kAborted = 0;  // the rank whose watchdog fires
constexpr double kMaxDelayUs = 30000;
// How long a call may take to return once the abort started: generous for a loaded machine
// and a sanitizer; the engine notices an abort within one poll.
constexpr auto kBound = std::chrono::seconds(2);
constexpr int kTimeoutMs = 30000;  // a hang shows as a broken bound, not as a timeout

unsigned envNumber(const char* name, unsigned fallback) {
  const char* text = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): before any thread
  return text != nullptr && *text != '\0' ? static_cast<unsigned>(std::stoul(text)) : fallback;
}

bool mentionsAbort(const std::string& message) {
  return message.find("abort") != std::string::npos;
}

// One collective of a rank's plan. Consecutive non-blocking steps are in flight together and
// waited for together.
struct Step {
  size_t count;
  bool async;
};
using Plan = std::vector<Step>;

Plan randomPlan(std::mt19937& random) {
  static constexpr size_t kCounts[] = {0, 1, 1000, size_t{1} << 16, size_t{1} << 18};
  Plan plan(std::uniform_int_distribution<size_t>(1, 5)(random));
  for (Step& step : plan) {
    step.count = kCounts[std::uniform_int_distribution<size_t>(0, std::size(kCounts) - 1)(random)];
    step.async = std::bernoulli_distribution(0.5)(random);
  }
  return plan;
}

// A tenth at once, the rest log-uniform up to kMaxDelayUs: as many aborts land within the
// first 100 us as between 3 and 30 ms, whether a collective takes microseconds (release) or
// milliseconds (sanitizers).
std::chrono::microseconds randomDelay(std::mt19937& random) {
  if (std::bernoulli_distribution(0.1)(random)) return std::chrono::microseconds(0);
  const double exponent =
      std::uniform_real_distribution<double>(std::log(10.0), std::log(kMaxDelayUs))(random);
  return std::chrono::microseconds(static_cast<int64_t>(std::exp(exponent)));
}

std::string describe(const Plan& plan) {
  std::string text;
  for (const Step& step : plan) {
    text += (step.async ? " async:" : " blocking:") + std::to_string(step.count);
  }
  return text;
}

struct Outcome {
  gcclResult_t result = gcclSuccess;  // the first failure, if any
  std::string message;
  Clock::time_point started, finished;

  void record(gcclResult_t failure, const std::string& text) {
    if (failure == gcclSuccess || result != gcclSuccess) return;
    result = failure;
    message = text;
  }
};

// A rank's buffers for a plan. Each rank contributes rank + 1: the sum is exact in float32.
class PlanBuffers {
 public:
  PlanBuffers(const Plan& plan, int rank) : buffers_(plan.size()), rank_(rank) {}

  float* fill(size_t index, size_t count) {
    // +1: never a null pointer, even for count 0.
    buffers_[index].assign(count + 1, static_cast<float>(rank_ + 1));
    return buffers_[index].data();
  }

  void check(size_t index) const {
    constexpr float kSum = kRanks * (kRanks + 1) / 2.0f;
    const std::vector<float>& data = buffers_[index];
    const auto wrong =
        std::count_if(data.begin(), data.end() - 1, [&](float x) { return x != kSum; });
    EXPECT_EQ(wrong, 0) << "rank " << rank_ << ", collective " << index;
  }

 private:
  std::vector<std::vector<float>> buffers_;
  int rank_;
};

// Runs the plan through the C API until the first failure, checking the result of every
// collective that succeeded. Requests already started are still waited for (and so freed)
// after a failure.
class PlanRunner {
 public:
  PlanRunner(gcclComm_t comm, const Plan& plan, int rank)
      : comm_(comm), plan_(plan), buffers_(plan, rank) {}

  Outcome run() {
    outcome_.started = Clock::now();
    for (size_t i = 0; i < plan_.size() && outcome_.result == gcclSuccess;) {
      if (!plan_[i].async) {
        float* data = buffers_.fill(i, plan_[i].count);
        finish(i, gcclAllReduce(data, data, plan_[i].count, gcclFloat32, gcclSum, comm_));
        ++i;
        continue;
      }
      std::vector<std::pair<size_t, gcclRequest_t>> pending;
      for (; i < plan_.size() && plan_[i].async && outcome_.result == gcclSuccess; ++i) {
        float* data = buffers_.fill(i, plan_[i].count);
        gcclRequest_t request = nullptr;
        record(
            gcclAllReduceAsync(data, data, plan_[i].count, gcclFloat32, gcclSum, comm_, &request));
        if (request != nullptr) pending.emplace_back(i, request);
      }
      for (auto [index, request] : pending) finish(index, gcclWait(request));
    }
    outcome_.finished = Clock::now();
    return outcome_;
  }

 private:
  void finish(size_t index, gcclResult_t result) {
    record(result);
    if (result == gcclSuccess) buffers_.check(index);
  }

  void record(gcclResult_t result) {
    if (result == gcclSuccess) return;
    // The thread's own last error: the handle's may be another thread's by now (the observer
    // records the asynchronous error on it), and gcclWait records none on the handle.
    outcome_.record(result, gcclGetLastError(nullptr));
    // Also read the handle's, which may be freed by now: the registry must say so, not crash.
    EXPECT_LT(std::strlen(gcclGetLastError(comm_)), size_t{1} << 20);
  }

  gcclComm_t comm_;
  const Plan& plan_;
  PlanBuffers buffers_;
  Outcome outcome_;
};

// The same through the C++ API: a blocking step alone, or a run of non-blocking ones in
// flight together, each waited for.
Outcome runInProcess(Communicator& comm, const Plan& plan, int rank) {
  PlanBuffers buffers(plan, rank);
  Outcome outcome;
  outcome.started = Clock::now();
  for (size_t i = 0; i < plan.size() && outcome.result == gcclSuccess;) {
    std::vector<std::pair<size_t, std::shared_ptr<Request>>> started;
    do {
      float* data = buffers.fill(i, plan[i].count);
      started.emplace_back(i, comm.allreduce(data, data, plan[i].count, DataType::kFloat32,
                                             ReduceOp::kSum, !plan[i].async));
      ++i;
    } while (plan[i - 1].async && i < plan.size() && plan[i].async);
    for (const auto& [index, request] : started) {
      request->wait();
      outcome.record(static_cast<gcclResult_t>(request->status()), request->message());
      if (request->status() == Status::kSuccess) buffers.check(index);
    }
  }
  outcome.finished = Clock::now();
  return outcome;
}

// What a watchdog reads between its checks; the handle may be freed at any moment.
void pollHandle(gcclComm_t comm) {
  gcclResult_t asyncError = gcclInternalError;
  const gcclResult_t result = gcclCommGetAsyncError(comm, &asyncError);
  if (result == gcclSuccess) {
    EXPECT_TRUE(asyncError == gcclSuccess || asyncError == gcclInvalidUsage ||
                asyncError == gcclRemoteError)
        << gcclGetErrorString(asyncError);
  } else {
    EXPECT_EQ(result, gcclInvalidArgument) << gcclGetLastError(nullptr);  // freed already
  }
  int count = 0;
  const gcclResult_t counted = gcclCommCount(comm, &count);
  EXPECT_TRUE(counted == gcclInvalidArgument || count == kRanks);
  EXPECT_LT(std::strlen(gcclGetLastError(comm)), size_t{1} << 20);
}

std::vector<gcclComm_t> initRanks() {
  gcclUniqueId id;
  EXPECT_EQ(gcclGetUniqueId(&id), gcclSuccess) << gcclGetLastError(nullptr);
  std::vector<gcclComm_t> comms(kRanks, nullptr);
  std::vector<std::thread> threads;
  threads.reserve(kRanks);
  for (int rank = 0; rank < kRanks; ++rank) {
    threads.emplace_back([&, rank] {
      gcclConfig_t config = GCCL_CONFIG_INITIALIZER;
      config.timeoutMs = kTimeoutMs;
      EXPECT_EQ(gcclCommInitRankConfig(&comms[rank], kRanks, id, rank, &config), gcclSuccess)
          << gcclGetLastError(nullptr);
    });
  }
  for (auto& thread : threads) thread.join();
  return comms;
}

class AbortThreads : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Before any thread starts. GCCL_DEBUG: every round would log the abort and its cascade.
    setenv("GCCL_SOCKET_ADDR", "127.0.0.1", 1);  // NOLINT(concurrency-mt-unsafe)
    setenv("GCCL_DEBUG", "NONE", 0);             // NOLINT(concurrency-mt-unsafe)
  }
};

// Where the abort landed, relative to the aborted rank's calls, and how long the call it
// interrupted took to return.
struct Landings {
  int before = 0, after = 0;
  std::vector<Clock::duration> returns;  // one per abort that landed during the calls

  std::string summary() {
    std::sort(returns.begin(), returns.end());
    auto us = [&](double quantile) {
      const size_t index = static_cast<size_t>(quantile * static_cast<double>(returns.size() - 1));
      return std::to_string(
          std::chrono::duration_cast<std::chrono::microseconds>(returns[index]).count());
    };
    std::string text = "the abort landed before the first call " + std::to_string(before) +
                       " times, after the last " + std::to_string(after) +
                       " times, during the calls " + std::to_string(returns.size()) + " times";
    if (returns.empty()) return text;
    return text + " (the interrupted call returned after " + us(0.5) + " us median, " + us(0.99) +
           " us p99, " + us(1.0) + " us at most)";
  }
};

void checkAbortedRank(const Outcome& outcome, Clock::time_point abortStarted) {
  switch (outcome.result) {
    case gcclSuccess: break;  // everything completed before the abort
    case gcclInvalidUsage:
    case gcclRemoteError: EXPECT_TRUE(mentionsAbort(outcome.message)) << outcome.message; break;
    case gcclInvalidArgument:  // the next call came after the handle was freed
      EXPECT_NE(outcome.message.find("not live"), std::string::npos) << outcome.message;
      break;
    default: ADD_FAILURE() << gcclGetErrorString(outcome.result) << ": " << outcome.message;
  }
  EXPECT_LT(outcome.finished - abortStarted, kBound) << "the aborted rank's call hung";
}

void checkSurvivor(int rank, const Outcome& outcome, Clock::time_point abortStarted) {
  // The abort reaches the survivors as a notice or a reset from rank 0, or from a survivor
  // that failed first.
  EXPECT_TRUE(outcome.result == gcclSuccess || outcome.result == gcclRemoteError)
      << "rank " << rank << ": " << gcclGetErrorString(outcome.result) << ": " << outcome.message;
  EXPECT_TRUE(outcome.result == gcclSuccess || !outcome.message.empty());
  EXPECT_LT(outcome.finished - abortStarted, kBound) << "rank " << rank << " hung";
}

// What a round does with one API.
struct RoundActions {
  std::function<Outcome(int rank)> run;  // the plan, on one rank's thread
  std::function<void()> abort;           // the aborted rank, from the watchdog
  std::function<void()> poll;            // the aborted rank, from the observer
};

// One round: every rank runs the plan on its own thread, the watchdog aborts rank 0 after
// `delay`, the observer polls rank 0 throughout. Counts where the abort landed.
void abortRound(const RoundActions& actions, std::chrono::microseconds delay, Landings& landings) {
  std::vector<Outcome> outcomes(kRanks);
  Clock::time_point abortStarted, abortReturned;
  std::atomic<bool> stopPolling{false};
  std::latch start(kRanks + 1);
  std::vector<std::thread> threads;
  threads.reserve(kRanks);
  for (int rank = 0; rank < kRanks; ++rank) {
    threads.emplace_back([&, rank] {
      start.arrive_and_wait();
      outcomes[rank] = actions.run(rank);
    });
  }
  std::thread watchdog([&] {
    start.arrive_and_wait();
    std::this_thread::sleep_for(delay);
    abortStarted = Clock::now();
    actions.abort();
    abortReturned = Clock::now();
  });
  std::thread observer([&] {
    while (!stopPolling.load()) {
      actions.poll();
      std::this_thread::yield();
    }
  });
  watchdog.join();
  for (auto& thread : threads) thread.join();
  stopPolling.store(true);
  observer.join();

  // gcclCommAbort frees the handle only after every call inside has left: it waits for them.
  EXPECT_LT(abortReturned - abortStarted, kBound) << "the abort hung";
  checkAbortedRank(outcomes[kAborted], abortStarted);
  for (int rank = 0; rank < kRanks; ++rank) {
    if (rank != kAborted) checkSurvivor(rank, outcomes[rank], abortStarted);
  }
  const Outcome& aborted = outcomes[kAborted];
  if (abortStarted < aborted.started) {
    ++landings.before;
  } else if (abortStarted > aborted.finished) {
    ++landings.after;
  } else {
    landings.returns.push_back(aborted.finished - abortStarted);
  }
}

// Runs GCCL_TEST_ABORT_ITERATIONS rounds of random plans and delays.
template <typename Round>
void randomRounds(Round round) {
  const unsigned iterations = envNumber("GCCL_TEST_ABORT_ITERATIONS", 50);
  const unsigned seed = envNumber("GCCL_TEST_ABORT_SEED", std::random_device{}());
  std::printf("GCCL_TEST_ABORT_SEED=%u, %u rounds\n", seed, iterations);
  std::mt19937 random(seed);
  Landings landings;
  for (unsigned i = 0; i < iterations && !testing::Test::HasFailure(); ++i) {
    const Plan plan = randomPlan(random);
    const std::chrono::microseconds delay = randomDelay(random);
    SCOPED_TRACE("seed " + std::to_string(seed) + ", round " + std::to_string(i) +
                 ", abort after " + std::to_string(delay.count()) + " us, plan" + describe(plan));
    round(plan, delay, landings);
  }
  std::printf("%s\n", landings.summary().c_str());
}

TEST_F(AbortThreads, AbortAtRandomMomentsEndsBlockedCallsPromptly) {
  randomRounds([](const Plan& plan, std::chrono::microseconds delay, Landings& landings) {
    std::vector<gcclComm_t> comms = initRanks();
    for (gcclComm_t comm : comms) ASSERT_NE(comm, nullptr);
    RoundActions actions;
    actions.run = [&](int rank) {
      Outcome outcome = PlanRunner(comms[rank], plan, rank).run();
      if (rank != kAborted) {
        EXPECT_EQ(gcclCommDestroy(comms[rank]), gcclSuccess) << gcclGetLastError(nullptr);
      }
      return outcome;
    };
    actions.abort = [&] {
      EXPECT_EQ(gcclCommAbort(comms[kAborted]), gcclSuccess) << gcclGetLastError(nullptr);
    };
    actions.poll = [&] { pollHandle(comms[kAborted]); };
    abortRound(actions, delay, landings);
  });
}

TEST_F(AbortThreads, InProcessAbortAtRandomMomentsEndsBlockedCallsPromptly) {
  randomRounds([](const Plan& plan, std::chrono::microseconds delay, Landings& landings) {
    Config config;
    config.timeoutMs = kTimeoutMs;
    const TransportRouter transport(std::make_shared<transport::inproc::InprocTransport>(
        std::make_shared<transport::inproc::InprocFabric>()));
    std::vector<std::unique_ptr<Communicator>> ranks;
    ranks.reserve(kRanks);
    for (int rank = 0; rank < kRanks; ++rank) {
      ranks.push_back(std::make_unique<Communicator>(
          rank, kRanks, config, JobToken{}, std::make_unique<MemoryStore>(), nullptr, transport));
    }
    RoundActions actions;
    actions.run = [&](int rank) { return runInProcess(*ranks[rank], plan, rank); };
    actions.abort = [&] { ranks[kAborted]->abort("the watchdog fired"); };
    actions.poll = [&] {
      if (const std::optional<Error> error = ranks[kAborted]->asyncError()) {
        EXPECT_TRUE(mentionsAbort(error->what())) << error->what();
      }
    };
    abortRound(actions, delay, landings);
    // Destroyed here, once no thread is inside: the C++ owner's duty (the C API waits).
  });
}

// A collective that never completes (its peer never calls it) holds up a destroy on another
// thread; an abort from a third thread cuts the destroy short and leaves the freeing to it.
// While the destroy runs, collectives and a second destroy are refused, and the asynchronous
// error can still be read.
TEST_F(AbortThreads, AbortCutsADestroyShortAndLeavesTheFreeingToIt) {
  std::vector<gcclComm_t> comms = initRanks();
  for (gcclComm_t comm : comms) ASSERT_NE(comm, nullptr);
  gcclComm_t comm = comms[0];
  std::vector<float> data(1000, 1.0f);
  gcclRequest_t hung = nullptr;
  ASSERT_EQ(
      gcclAllReduceAsync(data.data(), data.data(), data.size(), gcclFloat32, gcclSum, comm, &hung),
      gcclSuccess);

  gcclResult_t destroyed = gcclInternalError;
  Clock::time_point destroyReturned;
  std::thread destroyer([&] {
    destroyed = gcclCommDestroy(comm);
    destroyReturned = Clock::now();
  });
  // Probes until the destroy has claimed the handle; a probe that got in first is queued
  // behind the hung collective and fails with the abort below.
  std::vector<gcclRequest_t> probes;
  const auto giveUp = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    gcclRequest_t probe = nullptr;
    const gcclResult_t result =
        gcclAllReduceAsync(data.data(), data.data(), 0, gcclFloat32, gcclSum, comm, &probe);
    if (probe != nullptr) probes.push_back(probe);
    if (result != gcclSuccess) {
      EXPECT_EQ(result, gcclInvalidUsage);
      EXPECT_NE(std::string(gcclGetLastError(nullptr)).find("being destroyed or aborted"),
                std::string::npos)
          << gcclGetLastError(nullptr);
      break;
    }
    ASSERT_LT(Clock::now(), giveUp) << "the destroy never claimed the handle";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(gcclCommDestroy(comm), gcclInvalidUsage) << "a second destroy must free nothing";
  gcclResult_t asyncError = gcclInternalError;
  EXPECT_EQ(gcclCommGetAsyncError(comm, &asyncError), gcclSuccess);
  EXPECT_EQ(asyncError, gcclSuccess);

  const auto abortStarted = Clock::now();
  EXPECT_EQ(gcclCommAbort(comm), gcclSuccess) << gcclGetLastError(nullptr);
  destroyer.join();
  EXPECT_EQ(destroyed, gcclSuccess);
  EXPECT_LT(destroyReturned - abortStarted, kBound);
  EXPECT_EQ(gcclCommGetAsyncError(comm, &asyncError), gcclInvalidArgument) << "not freed";

  // The requests outlive the communicator and report the abort.
  EXPECT_EQ(gcclWait(hung), gcclInvalidUsage);
  EXPECT_TRUE(mentionsAbort(gcclGetLastError(nullptr))) << gcclGetLastError(nullptr);
  for (gcclRequest_t probe : probes) {
    EXPECT_EQ(gcclWait(probe), gcclInvalidUsage);
    EXPECT_TRUE(mentionsAbort(gcclGetLastError(nullptr))) << gcclGetLastError(nullptr);
  }
  for (size_t rank = 1; rank < comms.size(); ++rank) gcclCommAbort(comms[rank]);
}

// A watchdog may keep a copy of a handle that the main thread destroys and replaces at once:
// the stale copy stays "not live" for ever (no later handle gets its address, which the
// allocator would otherwise hand out again), so its abort never lands on a newer
// communicator, which goes on working.
TEST_F(AbortThreads, AStaleHandleNeverNamesANewerCommunicator) {
  std::vector<gcclComm_t> stale;
  for (int round = 0; round < 8; ++round) {
    gcclUniqueId id;
    ASSERT_EQ(gcclGetUniqueId(&id), gcclSuccess) << gcclGetLastError(nullptr);
    gcclComm_t comm = nullptr;
    ASSERT_EQ(gcclCommInitRank(&comm, 1, id, 0), gcclSuccess) << gcclGetLastError(nullptr);
    EXPECT_EQ(std::count(stale.begin(), stale.end(), comm), 0) << "round " << round;
    for (gcclComm_t old : stale) {
      EXPECT_EQ(gcclCommAbort(old), gcclInvalidArgument) << "round " << round;
      EXPECT_NE(std::string(gcclGetLastError(nullptr)).find("not live"), std::string::npos)
          << gcclGetLastError(nullptr);
    }
    float value = 3.0f;
    EXPECT_EQ(gcclAllReduce(&value, &value, 1, gcclFloat32, gcclSum, comm), gcclSuccess)
        << gcclGetLastError(comm);
    EXPECT_EQ(value, 3.0f);
    ASSERT_EQ(gcclCommDestroy(comm), gcclSuccess);
    stale.push_back(comm);
  }
}

}  // namespace
}  // namespace gccl
