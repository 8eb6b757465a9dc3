#include "grad_gloo.h"

#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace gccl::perf {

namespace {

std::string ownDirectory() {
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return ".";
  const std::string exe(path, static_cast<size_t>(n));
  const size_t slash = exe.rfind('/');
  return slash == std::string::npos ? "." : exe.substr(0, slash);
}

// Runs `argv` with its stdout captured (stderr passes through); returns the exit status, -1
// when it could not start.
int capture(const std::vector<std::string>& argv, std::string& out) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  char buffer[4096];
  ssize_t n = 0;
  while ((n = read(fds[0], buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The line gloo_grad_bench ends with, e.g.
//   gloo_per_tensor median_step_ms 812.5 wire_bytes 102228128 tensors 161 wrong 0
std::optional<GradResult> parseRow(const std::string& out) {
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    GradResult row;
    unsigned long long wire = 0, tensors = 0, wrong = 0;
    if (std::sscanf(line.c_str(),
                    "gloo_per_tensor median_step_ms %lf wire_bytes %llu tensors %llu "
                    "wrong %llu",
                    &row.stepMs, &wire, &tensors, &wrong) == 4) {
      std::snprintf(row.mode, sizeof row.mode, "gloo_per_tensor");
      row.wireBytes = wire;
      row.buckets = tensors;
      row.wrong = wrong;
      return row;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<GradResult> runGlooGradBench(const GradBenchOptions& options, int nranks) {
  const std::string exe = ownDirectory() + "/gloo_grad_bench";
  if (access(exe.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "grad_bench: %s not found (Gloo not built): gloo_per_tensor left out\n",
                 exe.c_str());
    return std::nullopt;
  }
  char backward[32];
  std::snprintf(backward, sizeof backward, "%g", options.backwardMs);
  const std::vector<std::string> argv = {exe,
                                         "--np",
                                         std::to_string(nranks),
                                         "-n",
                                         std::to_string(options.iterations),
                                         "-w",
                                         std::to_string(options.warmup),
                                         "--model",
                                         options.model,
                                         "--backward-ms",
                                         backward,
                                         "--timeout",
                                         std::to_string(options.timeoutSeconds),
                                         "--bind",
                                         cpu_binding::bindingName(options.binding)};
  std::string out;
  const int status = capture(argv, out);
  const std::optional<GradResult> row = status == 0 ? parseRow(out) : std::nullopt;
  if (!row) {
    std::fprintf(stderr, "grad_bench: %s failed (status %d): gloo_per_tensor left out\n%s",
                 exe.c_str(), status, out.c_str());
  }
  return row;
}

}  // namespace gccl::perf
