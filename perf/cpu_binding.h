// Where benchmark ranks started on one machine run: each rank pinned to its own share of the
// CPUs the launcher may use. With at least as many CPUs as ranks, rank r gets the r-th block of
// floor(cpus / ranks) of them (its own CPUs for the caller's thread, gccl's progress thread
// and whatever else it starts, as mpirun's --map-by slot:PE=k); with more ranks than CPUs, the
// r-th CPU, round robin (as --map-by hwthread --bind-to hwthread:overload-allowed). Unbound,
// the scheduler places and moves ranks as it likes, and with more ranks than CPUs which ranks
// share one changes from launch to launch: on a 2-vCPU VM one launch of 4 ranks ran recursive
// doubling at 64 us a call and the next at 135 (docs/benchmarks.md, "Ranks bound to CPUs").
// Bound, every launch places its ranks alike, so that two launches, or two libraries, compare.
//
// Header only and free of gccl: gccl's perf tools and the Gloo and TCP-stream baselines share
// it, so that every library that forks its ranks runs under the same placement (compare.py
// gives mpirun the same).
#pragma once

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cpu_binding {

enum class Binding { kNone, kCpus };

// Per rank, the CPUs it is pinned to; an empty set for a rank left to the scheduler.
using Placement = std::vector<std::vector<int>>;

// "cpus" or "none" (a --bind flag's value); nullopt for anything else.
inline std::optional<Binding> parseBinding(std::string_view text) {
  if (text == "cpus") return Binding::kCpus;
  if (text == "none") return Binding::kNone;
  return std::nullopt;
}

inline const char* bindingName(Binding binding) {
  return binding == Binding::kCpus ? "cpus" : "none";
}

namespace detail {

// The largest CPU count a set is grown to (the kernel's own limit is far below).
constexpr int kMaxCpus = 1 << 20;

// A CPU set able to name `cpus` CPUs (glibc's cpu_set_t stops at 1024; machines go further).
struct CpuSet {
  explicit CpuSet(int cpus)
      : set(CPU_ALLOC(cpus), [](cpu_set_t* s) { CPU_FREE(s); }), bytes(CPU_ALLOC_SIZE(cpus)) {
    if (set) CPU_ZERO_S(bytes, set.get());
  }
  std::unique_ptr<cpu_set_t, void (*)(cpu_set_t*)> set;
  size_t bytes;
};

}  // namespace detail

// The CPUs this process may run on, ascending; empty if the kernel does not say.
inline std::vector<int> allowedCpus() {
  // The kernel refuses a set smaller than its own CPU count (EINVAL): grow until it fits.
  for (int size = 1024; size <= detail::kMaxCpus; size *= 2) {
    detail::CpuSet mask(size);
    if (!mask.set) break;
    if (sched_getaffinity(0, mask.bytes, mask.set.get()) != 0) {
      if (errno == EINVAL) continue;
      break;
    }
    std::vector<int> cpus;
    for (int cpu = 0; cpu < size; ++cpu) {
      if (CPU_ISSET_S(cpu, mask.bytes, mask.set.get())) cpus.push_back(cpu);
    }
    return cpus;
  }
  return {};
}

// Each of `nranks` ranks' CPUs out of `cpus` (see the top of this file); every set empty when
// `cpus` is.
inline Placement placement(const std::vector<int>& cpus, int nranks) {
  Placement ranks(static_cast<size_t>(std::max(nranks, 0)));
  const size_t n = ranks.size();
  if (cpus.empty() || n == 0) return ranks;
  const size_t block = n <= cpus.size() ? cpus.size() / n : 1;
  for (size_t rank = 0; rank < n; ++rank) {
    for (size_t i = 0; i < block; ++i)
      ranks[rank].push_back(cpus[(rank * block + i) % cpus.size()]);
  }
  return ranks;
}

// The placement a launcher of `nranks` ranks applies for `binding`.
inline Placement placementFor(Binding binding, int nranks) {
  return placement(binding == Binding::kCpus ? allowedCpus() : std::vector<int>{}, nranks);
}

// Pins the calling thread, and the threads it starts afterwards, to `cpus`, then reads the
// mask back. Returns why it did not, or an empty string.
inline std::string bindTo(const std::vector<int>& cpus) {
  int highest = -1;
  for (int cpu : cpus) {
    if (cpu < 0 || cpu >= detail::kMaxCpus) return "no CPU " + std::to_string(cpu);
    highest = std::max(highest, cpu);
  }
  if (highest < 0) return "no CPUs to bind to";
  detail::CpuSet mask(highest + 1);
  if (!mask.set) return "no memory for a CPU set";
  for (int cpu : cpus) CPU_SET_S(cpu, mask.bytes, mask.set.get());
  if (sched_setaffinity(0, mask.bytes, mask.set.get()) != 0) {
    const int error = errno;
    return "sched_setaffinity(CPU " + std::to_string(cpus.front()) +
           "...): " + std::strerror(error);
  }
  std::vector<int> wanted = cpus;
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  if (allowedCpus() != wanted) return "the affinity mask read back differs from the one set";
  return "";
}

// In a forked rank, before its library starts any thread (they all inherit the mask): pins it
// to `cpus`, or says on stderr why not; nothing for an empty set (unbound). A rank left unbound
// still measures correctly, only less repeatably, so this warns rather than fails.
inline void bindRank(int rank, const std::vector<int>& cpus) {
  if (cpus.empty()) return;
  if (const std::string why = bindTo(cpus); !why.empty()) {
    std::fprintf(stderr, "rank %d: not bound: %s\n", rank, why.c_str());
  }
}

// "0-3,6": a set of CPUs, consecutive runs as ranges.
inline std::string cpuList(const std::vector<int>& cpus) {
  std::string text;
  for (size_t i = 0; i < cpus.size();) {
    size_t end = i + 1;
    while (end < cpus.size() && cpus[end] == cpus[end - 1] + 1) ++end;
    if (!text.empty()) text += ',';
    text += std::to_string(cpus[i]);
    if (end - i > 1) text.append("-").append(std::to_string(cpus[end - 1]));
    i = end;
  }
  return text;
}

// For a tool's header: "ranks bound to CPUs 0-3 4-7" (rank 0's first), or that they are not.
inline std::string describe(const Placement& ranks) {
  std::string text;
  for (const std::vector<int>& cpus : ranks) {
    if (cpus.empty()) return "ranks not bound to CPUs";
    text.append(" ").append(cpuList(cpus));
  }
  return text.empty() ? "ranks not bound to CPUs" : "ranks bound to CPUs" + text;
}

}  // namespace cpu_binding
