#include "local_ranks.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <exception>
#include <thread>
#include <vector>

namespace baselines {
namespace {

[[noreturn]] void runChild(int rank, const std::vector<int>& cpus,
                           const std::function<int(int)>& body) {
  // A rank must not outlive a launcher that was killed itself (say by compare.py's timeout).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  cpu_binding::bindRank(rank, cpus);  // before the library starts a thread
  int rc = 1;
  try {
    rc = body(rank);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
  }
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(rc);  // no atexit handlers or static destructors of the parent's copy
}

int exitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

void killAll(std::vector<pid_t>& pids) {
  for (pid_t pid : pids) {
    if (pid > 0) kill(pid, SIGKILL);
  }
  for (pid_t& pid : pids) {
    if (pid > 0) waitpid(pid, nullptr, 0);
    pid = 0;
  }
}

}  // namespace

int runLocalRanks(int nranks, std::chrono::seconds timeout, const cpu_binding::Placement& placement,
                  const std::function<int(int rank)>& body) {
  std::fflush(stdout);  // else buffered output would be printed once per child
  std::fflush(stderr);
  std::vector<pid_t> pids(nranks, 0);
  for (int rank = 0; rank < nranks; ++rank) {
    pids[rank] = fork();
    if (pids[rank] == 0) {
      const size_t r = static_cast<size_t>(rank);
      runChild(rank, r < placement.size() ? placement[r] : std::vector<int>{}, body);
    }
    if (pids[rank] < 0) {
      std::perror("fork");
      killAll(pids);
      return 1;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int running = nranks;
  while (running > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      const int rank = static_cast<int>(std::find(pids.begin(), pids.end(), pid) - pids.begin());
      pids[rank] = 0;
      --running;
      if (exitCode(status) != 0) {
        std::fprintf(stderr, "rank %d failed (status %d); killing %d ranks\n", rank,
                     exitCode(status), running);
        killAll(pids);  // its peers would only wait for it until their own timeout
        return exitCode(status);
      }
    } else if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "timed out after %lld s; killing %d ranks\n",
                   static_cast<long long>(timeout.count()), running);
      killAll(pids);
      return 124;
    } else {
      // The launcher only waits; a coarse poll keeps it off the ranks' cores.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return 0;
}

}  // namespace baselines
