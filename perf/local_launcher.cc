#include "local_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace gccl::perf {

namespace {

// Each child writes one record, its wrong-element count, to the shared pipe. A record is far
// below PIPE_BUF, so each write is atomic and records from different children never interleave.
using Record = uint64_t;
static_assert(sizeof(Record) <= PIPE_BUF);

// How long the other ranks get once one has failed: they fail within GCCL_TIMEOUT_MS plus the
// stall diagnosis's grace; only a rank that is itself stopped or hung is still running after.
constexpr auto kAfterFailure = std::chrono::seconds(70);

[[noreturn]] void runChild(int rank, int nranks, const gcclUniqueId& id, int reportFd,
                           const std::vector<int>& cpus,
                           const std::function<RankReport(const gcclUniqueId&, int, int)>& body) {
  cpu_binding::bindRank(rank, cpus);  // before init: gccl's threads inherit the mask
  const RankReport report = body(id, rank, nranks);
  const Record record = report.wrongElements;
  const bool sent = write(reportFd, &record, sizeof record) == static_cast<ssize_t>(sizeof record);
  std::fflush(stdout);
  std::_Exit(sent ? report.exitStatus : 1);
}

// Adds up the records that have arrived. The read end is non-blocking.
void readRecords(int fd, LocalRun& run) {
  Record record = 0;
  while (read(fd, &record, sizeof record) == static_cast<ssize_t>(sizeof record)) {
    ++run.reported;
    run.wrongElements += record;
  }
}

}  // namespace

LocalRun runLocalRanks(const char* tool, int nranks, int timeoutSeconds,
                       const cpu_binding::Placement& placement,
                       const std::function<RankReport(const gcclUniqueId&, int, int)>& rankMain) {
  LocalRun run;
  // Local ranks talk over loopback only.
  setenv("GCCL_SOCKET_ADDR", "127.0.0.1", 0);
  gcclUniqueId id;
  if (gcclGetUniqueId(&id) != gcclSuccess) {
    std::fprintf(stderr, "%s: %s\n", tool, gcclGetLastError(nullptr));
    return run;
  }
  int reports[2];
  if (pipe(reports) != 0) {
    std::perror("pipe");
    return run;
  }
  fcntl(reports[0], F_SETFL, O_NONBLOCK);
  std::fflush(stdout);
  std::vector<pid_t> children;
  for (int rank = 0; rank < nranks; ++rank) {
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("fork");
      for (pid_t child : children) kill(child, SIGKILL);
      break;
    }
    if (pid == 0) {
      close(reports[0]);
      const size_t r = static_cast<size_t>(rank);
      runChild(rank, nranks, id, reports[1],
               r < placement.size() ? placement[r] : std::vector<int>{}, rankMain);
    }
    children.push_back(pid);
  }
  close(reports[1]);
  int failures = static_cast<int>(nranks - children.size());
  size_t remaining = children.size();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
  bool shortened = false;
  while (remaining > 0) {
    readRecords(reports[0], run);  // keeps the pipe from filling up with many ranks
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      --remaining;
      // Never signalled again: its pid may be reused by another process once it is reaped.
      std::erase(children, pid);
      // One rank failed: the others fail within GCCL_TIMEOUT_MS (and name the rank that went
      // silent); a rank that is stopped never exits, so it gets a bounded time, not the run's.
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ++failures;
        deadline = std::min(deadline, std::chrono::steady_clock::now() + kAfterFailure);
        shortened = true;
      }
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "%s: %zu rank(s) still running %s; killing them\n", tool, remaining,
                   shortened ? "70 s after another rank failed (stopped or hung?)"
                             : ("after " + std::to_string(timeoutSeconds) + " s").c_str());
      for (pid_t child : children) kill(child, SIGKILL);
      while (waitpid(-1, &status, 0) > 0) {
      }
      ++failures;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  readRecords(reports[0], run);
  close(reports[0]);
  run.allSucceeded = failures == 0 && run.reported == nranks;
  return run;
}

}  // namespace gccl::perf
