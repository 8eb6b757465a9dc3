#include "local_launcher.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace gccl::perf {

int runLocalRanks(int nranks, int timeoutSeconds,
                  const std::function<int(const gcclUniqueId&, int, int)>& rankMain) {
  // Local ranks talk over loopback only.
  setenv("GCCL_SOCKET_ADDR", "127.0.0.1", 0);
  gcclUniqueId id;
  if (gcclGetUniqueId(&id) != gcclSuccess) {
    std::fprintf(stderr, "allreduce_perf: %s\n", gcclGetLastError(nullptr));
    return 1;
  }
  std::fflush(stdout);
  std::vector<pid_t> children;
  for (int rank = 0; rank < nranks; ++rank) {
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("fork");
      for (pid_t child : children) kill(child, SIGKILL);
      return 1;
    }
    if (pid == 0) {
      const int status = rankMain(id, rank, nranks);
      std::fflush(stdout);
      std::_Exit(status);
    }
    children.push_back(pid);
  }
  int failures = 0;
  size_t remaining = children.size();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
  while (remaining > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      --remaining;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ++failures;
        // One rank failed: the others fail within GCCL_TIMEOUT_MS; no need to kill them.
      }
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "allreduce_perf: ranks still running after %d s; killing them\n",
                   timeoutSeconds);
      for (pid_t child : children) kill(child, SIGKILL);
      while (waitpid(-1, &status, 0) > 0) {
      }
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace gccl::perf
