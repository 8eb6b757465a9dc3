// Benchmark ranks started on one machine, each pinned to one CPU: rank r runs on the r-th CPU
// this process may use, wrapping round when there are more ranks than CPUs (as mpirun's
// --map-by core --bind-to core). Unbound, the scheduler places and moves ranks as it likes, and
// with more ranks than CPUs which ranks share a CPU changes from one launch to the next: on a
// 2-vCPU VM one launch of 4 ranks ran recursive doubling at 64 us a call and the next at 135
// (docs/benchmarks.md, "Ranks bound to CPUs"). Bound, every launch places its ranks alike, so
// that two launches, or two libraries, can be compared.
//
// Header only and free of gccl: gccl's perf tools and the Gloo and MPI baselines share it, so
// that every library runs under the same placement.
#pragma once

#include <sched.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cpu_binding {

enum class Binding { kNone, kCore };

// "core" or "none" (a --bind flag's value); nullopt for anything else.
inline std::optional<Binding> parseBinding(std::string_view text) {
  if (text == "core") return Binding::kCore;
  if (text == "none") return Binding::kNone;
  return std::nullopt;
}

inline const char* bindingName(Binding binding) {
  return binding == Binding::kCore ? "core" : "none";
}

// The CPUs this process may run on, ascending; empty if the kernel does not say.
inline std::vector<int> allowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

// The CPU for `rank` (0 or more): the rank-th of `cpus`, round robin; -1 when `cpus` is empty.
inline int cpuForRank(const std::vector<int>& cpus, int rank) {
  if (cpus.empty() || rank < 0) return -1;
  return cpus[static_cast<size_t>(rank) % cpus.size()];
}

// Pins the calling thread, and the threads it starts afterwards, to `cpu`, then reads the
// mask back. Returns why it did not, or an empty string.
inline std::string bindTo(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) return "no CPU " + std::to_string(cpu);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    return "sched_setaffinity(CPU " + std::to_string(cpu) + "): " + std::strerror(errno);
  }
  cpu_set_t now;
  CPU_ZERO(&now);
  if (sched_getaffinity(0, sizeof now, &now) != 0 || !CPU_EQUAL(&now, &set)) {
    return "CPU " + std::to_string(cpu) + " was not the only one left in the affinity mask";
  }
  return "";
}

// In a forked rank, before its library starts any thread (they all inherit the CPU): pins it to
// `cpu`, or says on stderr why not; nothing for -1 (unbound). A rank left unbound still
// measures correctly, only less repeatably, so this warns rather than fails.
inline void bindRank(int rank, int cpu) {
  if (cpu < 0) return;
  if (const std::string why = bindTo(cpu); !why.empty()) {
    std::fprintf(stderr, "rank %d: not bound: %s\n", rank, why.c_str());
  }
}

// For a tool's header: "ranks bound to CPUs 0 1 0 1" (rank 0's first), or that they are not.
inline std::string describe(Binding binding, int nranks) {
  const std::vector<int> cpus = binding == Binding::kCore ? allowedCpus() : std::vector<int>{};
  if (cpus.empty()) return "ranks not bound to CPUs";
  std::string text = "ranks bound to CPUs";
  for (int rank = 0; rank < nranks; ++rank) {
    text.append(" ").append(std::to_string(cpuForRank(cpus, rank)));
  }
  return text;
}

}  // namespace cpu_binding
