// A rank that runs collectives until something fails, and the report it leaves: what the fault
// and silent-rank tests start in every process and read back in the parent.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "multiproc/process_group.h"

namespace gccl::testing_support {

// A killed peer fails every survivor "at once": within kAtOnceSeconds, under a
// GCCL_TIMEOUT_MS of kLongTimeoutMs. The timeout is far beyond the bound, so a survivor that
// waited for it fails the test, while a loaded sanitizer run keeps seconds of slack.
constexpr int kLongTimeoutMs = 20000;
constexpr double kAtOnceSeconds = 5.0;

// How a survivor lets go of its communicator after the failure: even ranks destroy it, odd
// ranks abort it, so every fault test covers both.
inline bool destroysAfterFailure(int rank) {
  return rank % 2 == 0;
}

// Each rank allreduces `count` floats (4 MiB by default) with `op` over and over until an
// error, then destroys or aborts its communicator; reports "<result> <failure time> <teardown
// result> <teardown seconds> <message>". Exit 0 only when it saw the expected kind of error.
// `whenReady` runs once, after the first allreduce. Under GCCL_TEST_SHARED_BUFFERS=1 the floats
// live in a gcclMemAlloc buffer, which shm peers read zero-copy.
inline int allreduceUntilFailure(int rank, int nranks, const gcclUniqueId& id, std::string& report,
                                 size_t count = size_t{1} << 20, gcclRedOp_t op = gcclMin,
                                 const std::function<void()>& whenReady = {}) {
  gcclComm_t comm = nullptr;
  if (gcclCommInitRank(&comm, nranks, id, rank) != gcclSuccess) {
    report = std::string("init failed: ") + gcclGetLastError(nullptr);
    return 1;
  }
  const char* shared = std::getenv("GCCL_TEST_SHARED_BUFFERS");
  std::vector<float> heap;
  float* data = nullptr;
  if (shared != nullptr && std::string(shared) == "1") {
    void* memory = nullptr;
    if (gcclMemAlloc(&memory, count * sizeof(float)) != gcclSuccess) {
      report = std::string("gcclMemAlloc failed: ") + gcclGetLastError(nullptr);
      return 1;
    }
    data = static_cast<float*>(memory);
  } else {
    heap.resize(count);
    data = heap.data();
  }
  std::fill(data, data + count, 1.0f);
  const double giveUp = monotonicSeconds() + 60;
  gcclResult_t result = gcclSuccess;
  for (int call = 0; result == gcclSuccess && monotonicSeconds() < giveUp; ++call) {
    result = gcclAllReduce(data, data, count, gcclFloat32, op, comm);
    if (call == 0 && result == gcclSuccess) {
      if (whenReady) whenReady();
      ProcessGroup::say("ready");
    }
  }
  const double failedAt = monotonicSeconds();
  const std::string message = gcclGetLastError(comm);
  const gcclResult_t teardown =
      destroysAfterFailure(rank) ? gcclCommDestroy(comm) : gcclCommAbort(comm);
  const double teardownSeconds = monotonicSeconds() - failedAt;
  if (heap.empty()) gcclMemFree(data);
  std::ostringstream out;
  out << std::fixed << result << " " << failedAt << " " << teardown << " " << teardownSeconds << " "
      << message;
  report = out.str();
  return result == gcclRemoteError || result == gcclTimeout ? 0 : 1;
}

struct Outcome {
  int result = -1;
  double failedAt = 0;
  int teardownResult = -1;
  double teardownSeconds = -1;
  std::string message;
};

inline Outcome parse(ChildReport report) {
  Outcome outcome;
  const std::string ready = "ready\n";
  if (report.text.rfind(ready, 0) == 0) report.text.erase(0, ready.size());
  std::istringstream in(report.text);
  in >> outcome.result >> outcome.failedAt >> outcome.teardownResult >> outcome.teardownSeconds;
  if (!in) return Outcome{};
  in.get();  // the space before the message
  std::getline(in, outcome.message, '\0');
  return outcome;
}

}  // namespace gccl::testing_support
