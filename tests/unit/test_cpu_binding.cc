// The perf tools' placement of local ranks (perf/cpu_binding.h): rank r on the r-th allowed CPU,
// and a bound process, with every thread it starts afterwards, left with exactly that CPU.
// Binding happens in forked children, so the test process keeps its own mask.
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "cpu_binding.h"

namespace cpu_binding {
namespace {

// Runs `check` in a forked child; its return value is the child's exit status.
int inChild(int (*check)(int), int argument) {
  const pid_t pid = fork();
  if (pid == 0) _exit(check(argument));
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

TEST(CpuBinding, ParsesCoreAndNoneOnly) {
  EXPECT_EQ(parseBinding("core"), Binding::kCore);
  EXPECT_EQ(parseBinding("none"), Binding::kNone);
  EXPECT_FALSE(parseBinding("socket").has_value());
  EXPECT_FALSE(parseBinding("").has_value());
}

TEST(CpuBinding, RanksGoRoundTheAllowedCpus) {
  const std::vector<int> cpus = {2, 5, 7};
  const int expected[] = {2, 5, 7, 2, 5, 7, 2};
  for (int rank = 0; rank < 7; ++rank) EXPECT_EQ(cpuForRank(cpus, rank), expected[rank]) << rank;
  EXPECT_EQ(cpuForRank({}, 0), -1);
  EXPECT_EQ(cpuForRank(cpus, -1), -1);
}

TEST(CpuBinding, TheAllowedCpusAreThisProcesssMask) {
  const std::vector<int> cpus = allowedCpus();
  ASSERT_FALSE(cpus.empty());
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(static_cast<int>(cpus.size()), CPU_COUNT(&set));
  for (int cpu : cpus) EXPECT_TRUE(CPU_ISSET(cpu, &set)) << cpu;
}

// Exit status 0 when binding to `cpu` left exactly that CPU, for this thread and a new one.
int bindsAndThreadsInherit(int cpu) {
  if (!bindTo(cpu).empty()) return 1;
  if (allowedCpus() != std::vector<int>{cpu}) return 2;
  std::vector<int> seenByThread;
  std::thread([&] { seenByThread = allowedCpus(); }).join();
  return seenByThread == std::vector<int>{cpu} ? 0 : 3;
}

TEST(CpuBinding, ABoundProcessAndItsLaterThreadsHaveOnlyThatCpu) {
  const std::vector<int> cpus = allowedCpus();
  ASSERT_FALSE(cpus.empty());
  // The last allowed CPU: with more than one, a binding that did nothing would keep them all.
  EXPECT_EQ(inChild(bindsAndThreadsInherit, cpus.back()), 0);
  EXPECT_EQ(inChild(bindsAndThreadsInherit, cpus.front()), 0);
}

// Exit status 0 when binding to `cpu` was refused with a reason and the mask is unchanged.
int isRefused(int cpu) {
  const std::vector<int> before = allowedCpus();
  if (bindTo(cpu).empty()) return 1;
  return allowedCpus() == before ? 0 : 2;
}

TEST(CpuBinding, ACpuThatDoesNotExistIsRefusedAndTheMaskKept) {
  EXPECT_EQ(inChild(isRefused, -1), 0);
  EXPECT_EQ(inChild(isRefused, CPU_SETSIZE), 0);
  // Within the set's range but no CPU of this machine's: the kernel refuses it.
  const int absent = CPU_SETSIZE - 1;
  if (sysconf(_SC_NPROCESSORS_CONF) <= absent) {
    EXPECT_EQ(inChild(isRefused, absent), 0);
  }
}

TEST(CpuBinding, TheHeaderLineNamesEachRanksCpu) {
  EXPECT_EQ(describe(Binding::kNone, 3), "ranks not bound to CPUs");
  const std::vector<int> cpus = allowedCpus();
  std::string expected = "ranks bound to CPUs";
  for (int rank = 0; rank < 5; ++rank)
    expected.append(" ").append(std::to_string(cpuForRank(cpus, rank)));
  EXPECT_EQ(describe(Binding::kCore, 5), expected);
}

}  // namespace
}  // namespace cpu_binding
