// Forked ranks for multi-process tests: each child runs a body with the shared unique id and
// writes a one-line report to a pipe; the parent can signal children and collects reports
// within a time bound (stragglers are killed and reported as such).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gccl/gccl.h>

namespace gccl::testing_support {

inline double monotonicSeconds() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

struct ChildReport {
  int exitCode = -1;
  bool killedByParent = false;
  std::string text;  // what the child wrote
};

class ProcessGroup {
 public:
  // body(rank, nranks, id, report) runs in the child; its return value is the exit code.
  using Body =
      std::function<int(int rank, int nranks, const gcclUniqueId& id, std::string& report)>;

  // In a child: sends a line to the parent at once (e.g. "ready"), ahead of the final report.
  static void say(const std::string& line) {
    const std::string text = line + "\n";
    [[maybe_unused]] ssize_t n = write(childPipe(), text.data(), text.size());
  }

  ProcessGroup(int nranks, const Body& body) {
    setenv("GCCL_SOCKET_ADDR", "127.0.0.1", 1);
    gcclUniqueId id;
    if (gcclGetUniqueId(&id) != gcclSuccess) std::abort();
    const pid_t parent = getpid();
    for (int rank = 0; rank < nranks; ++rank) {
      int fds[2];
      if (pipe(fds) != 0) std::abort();
      std::fflush(nullptr);
      const pid_t pid = fork();
      if (pid == 0) {
        // A parent that dies without its destructor (ctest's kill at the time limit, a
        // sanitizer's abort) takes its ranks along, so no rank loops on, or stays stopped,
        // beside the tests that follow.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1);
        close(fds[0]);
        childPipe() = fds[1];
        std::string report;
        const int code = body(rank, nranks, id, report);
        [[maybe_unused]] ssize_t n = write(fds[1], report.data(), report.size());
        close(fds[1]);
        _exit(code);
      }
      close(fds[1]);
      fcntl(fds[0], F_SETFL, O_NONBLOCK);
      children_.push_back({pid, fds[0], {}, false, false});
    }
  }

  ~ProcessGroup() {
    for (Child& child : children_) {
      if (!child.reaped) {
        kill(child.pid, SIGKILL);
        kill(child.pid, SIGCONT);
        waitpid(child.pid, nullptr, 0);
      }
      close(child.pipe);
    }
  }

  void signal(int rank, int signal) { kill(children_[rank].pid, signal); }

  // Waits until every child has said `line`; false after timeoutMs.
  bool waitForLine(const std::string& line, int timeoutMs) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    for (;;) {
      bool all = true;
      for (Child& child : children_) {
        drain(child);
        all &= child.output.find(line + "\n") != std::string::npos;
      }
      if (all) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  // Waits up to timeoutMs for every child not in `skip`; kills the rest.
  std::vector<ChildReport> collect(int timeoutMs, std::vector<int> skip = {}) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    std::vector<ChildReport> reports(children_.size());
    for (size_t r = 0; r < children_.size(); ++r) {
      Child& child = children_[r];
      bool skipped = false;
      for (int s : skip) skipped |= static_cast<size_t>(s) == r;
      if (skipped) continue;
      int status = 0;
      while (!child.reaped) {
        drain(child);
        if (waitpid(child.pid, &status, WNOHANG) == child.pid) {
          child.reaped = true;
          reports[r].exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        } else if (std::chrono::steady_clock::now() > deadline) {
          kill(child.pid, SIGKILL);
          waitpid(child.pid, nullptr, 0);
          child.reaped = true;
          reports[r].killedByParent = true;
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
      }
      drain(child);
      reports[r].text = child.output;
    }
    return reports;
  }

 private:
  static int& childPipe() {
    static int fd = -1;
    return fd;
  }

  struct Child {
    pid_t pid;
    int pipe;
    std::string output;
    bool reaped;
    bool unused;
  };

  static void drain(Child& child) {
    char buffer[4096];
    ssize_t n;
    while ((n = read(child.pipe, buffer, sizeof buffer)) > 0)
      child.output.append(buffer, static_cast<size_t>(n));
  }

  std::vector<Child> children_;
};

}  // namespace gccl::testing_support
