// The perf tools' placement of local ranks (perf/cpu_binding.h): each rank its own block of the
// allowed CPUs, one CPU round robin when there are more ranks than CPUs, and a bound process,
// with every thread it starts afterwards, left with exactly its CPUs. Binding happens in forked
// children, so the test process keeps its own mask.
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "cpu_binding.h"

namespace cpu_binding {
namespace {

// Runs `check(cpus)` in a forked child; its return value is the child's exit status.
int inChild(int (*check)(const std::vector<int>&), const std::vector<int>& cpus) {
  const pid_t pid = fork();
  if (pid == 0) _exit(check(cpus));
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

TEST(CpuBinding, ParsesCpusAndNoneOnly) {
  EXPECT_EQ(parseBinding("cpus"), Binding::kCpus);
  EXPECT_EQ(parseBinding("none"), Binding::kNone);
  EXPECT_FALSE(parseBinding("core").has_value());
  EXPECT_FALSE(parseBinding("").has_value());
}

TEST(CpuBinding, EnoughCpusGiveEachRankItsOwnBlock) {
  const std::vector<int> cpus = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  // 10 CPUs, 4 ranks: 2 each, the last 2 unused.
  EXPECT_EQ(placement(cpus, 4), (Placement{{0, 1}, {2, 3}, {4, 5}, {6, 7}}));
  EXPECT_EQ(placement(cpus, 10), (Placement{{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}}));
  EXPECT_EQ(placement({3, 5, 8, 13}, 2), (Placement{{3, 5}, {8, 13}}));
  EXPECT_EQ(placement(cpus, 1), Placement{cpus});
}

TEST(CpuBinding, MoreRanksThanCpusGoRoundRobin) {
  EXPECT_EQ(placement({2, 5, 7}, 7), (Placement{{2}, {5}, {7}, {2}, {5}, {7}, {2}}));
  EXPECT_EQ(placement({0, 1}, 4), (Placement{{0}, {1}, {0}, {1}}));
}

TEST(CpuBinding, NoCpusOrNoBindingLeaveEveryRankUnbound) {
  EXPECT_EQ(placement({}, 3), (Placement{{}, {}, {}}));
  EXPECT_EQ(placementFor(Binding::kNone, 2), (Placement{{}, {}}));
  EXPECT_TRUE(placement({0, 1}, 0).empty());
}

TEST(CpuBinding, TheAllowedCpusAreThisProcesssMask) {
  const std::vector<int> cpus = allowedCpus();
  ASSERT_FALSE(cpus.empty());
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(static_cast<int>(cpus.size()), CPU_COUNT(&set));
  for (int cpu : cpus) EXPECT_TRUE(CPU_ISSET(cpu, &set)) << cpu;
  EXPECT_EQ(placementFor(Binding::kCpus, 1), Placement{cpus});
}

// Exit status 0 when binding to `cpus` left exactly those, for this thread and a new one.
int bindsAndThreadsInherit(const std::vector<int>& cpus) {
  if (!bindTo(cpus).empty()) return 1;
  if (allowedCpus() != cpus) return 2;
  std::vector<int> seenByThread;
  std::thread([&] { seenByThread = allowedCpus(); }).join();
  return seenByThread == cpus ? 0 : 3;
}

TEST(CpuBinding, ABoundProcessAndItsLaterThreadsHaveOnlyItsCpus) {
  const std::vector<int> cpus = allowedCpus();
  ASSERT_FALSE(cpus.empty());
  // One CPU, the last and the first: with more than one, a binding that did nothing would
  // keep them all.
  EXPECT_EQ(inChild(bindsAndThreadsInherit, {cpus.back()}), 0);
  EXPECT_EQ(inChild(bindsAndThreadsInherit, {cpus.front()}), 0);
  EXPECT_EQ(inChild(bindsAndThreadsInherit, cpus), 0);
}

// Exit status 0 when binding to `cpus` was refused with a reason and the mask is unchanged.
int isRefused(const std::vector<int>& cpus) {
  const std::vector<int> before = allowedCpus();
  if (bindTo(cpus).empty()) return 1;
  return allowedCpus() == before ? 0 : 2;
}

TEST(CpuBinding, CpusThatDoNotExistAreRefusedAndTheMaskKept) {
  EXPECT_EQ(inChild(isRefused, {}), 0);
  EXPECT_EQ(inChild(isRefused, {-1}), 0);
  // Beyond glibc's fixed 1024-CPU set, and beyond this machine's CPUs: the kernel refuses it.
  const int absent = 4000;
  if (sysconf(_SC_NPROCESSORS_CONF) <= absent) {
    EXPECT_EQ(inChild(isRefused, {absent}), 0);
  }
}

TEST(CpuBinding, TheHeaderLineNamesEachRanksCpusAsRanges) {
  EXPECT_EQ(describe(Placement{{}, {}}), "ranks not bound to CPUs");
  EXPECT_EQ(describe(Placement{}), "ranks not bound to CPUs");
  EXPECT_EQ(describe(Placement{{0}, {1}, {0}, {1}}), "ranks bound to CPUs 0 1 0 1");
  EXPECT_EQ(describe(Placement{{0, 1, 2, 3}, {4, 5, 6, 7}}), "ranks bound to CPUs 0-3 4-7");
  EXPECT_EQ(describe(Placement{{0, 2, 3, 4, 9}}), "ranks bound to CPUs 0,2-4,9");
}

}  // namespace
}  // namespace cpu_binding
