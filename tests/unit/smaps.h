// This process's mappings as /proc/self/smaps lists them: where each lies, what it maps, and
// how much of it is dirty (pages this process wrote through its page table since they were
// mapped, or pages the kernel holds dirty). For tests that check what touched a mapping.
#pragma once

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace gccl::testing_support {

struct Mapping {
  uintptr_t low = 0, high = 0;
  std::string name;   // the file, "[heap]", or empty for anonymous memory
  long dirtyKib = 0;  // Shared_Dirty + Private_Dirty
  bool holds(const void* address) const {
    const auto at = reinterpret_cast<uintptr_t>(address);
    return low <= at && at < high;
  }
};

inline std::vector<Mapping> selfMappings() {
  std::vector<Mapping> mappings;
  std::ifstream smaps("/proc/self/smaps");
  for (std::string line; std::getline(smaps, line);) {
    Mapping next;
    int nameAt = -1;
    // A mapping's first line: "low-high perms offset dev inode [name]"; the rest "Key: value".
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR " %*s %*s %*s %*s %n", &next.low,
                    &next.high, &nameAt) == 2 &&
        nameAt > 0) {
      next.name = line.substr(static_cast<size_t>(nameAt));
      mappings.push_back(next);
      continue;
    }
    long kib = 0;
    if (!mappings.empty() && (std::sscanf(line.c_str(), "Shared_Dirty: %ld kB", &kib) == 1 ||
                              std::sscanf(line.c_str(), "Private_Dirty: %ld kB", &kib) == 1)) {
      mappings.back().dirtyKib += kib;
    }
  }
  return mappings;
}

// KiB that smaps counts dirty of the mapping holding `address`, or -1 when none holds it.
inline long dirtyKibAt(const void* address) {
  for (const Mapping& mapping : selfMappings()) {
    if (mapping.holds(address)) return mapping.dirtyKib;
  }
  return -1;
}

}  // namespace gccl::testing_support
