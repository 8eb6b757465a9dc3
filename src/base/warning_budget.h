// How many warnings of one kind reach the log: the first `free`, then one in `every`, saying
// how many were held back since. Refusing a stranger warns once per stranger, and a flood of
// strangers must not flood the log (or the disk, under GCCL_DEBUG_FILE).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <source_location>
#include <string>

#include "base/logging.h"

namespace gccl {

class WarningBudget {
 public:
  // Refused strangers, wherever gccl listens: the first 20 are each logged, then one in 100.
  static constexpr uint64_t kFreeStrangerWarnings = 20;
  static constexpr uint64_t kStrangerWarningsEvery = 100;

  WarningBudget(uint64_t free, uint64_t every) : free_(free), every_(every < 1 ? 1 : every) {}

  // For the next warning: nullopt to drop it, else how many were dropped since the last one
  // that was logged.
  std::optional<uint64_t> admit() {
    const uint64_t n = count_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n <= free_) return 0;
    if ((n - free_) % every_ != 0) return std::nullopt;
    return every_ - 1;
  }

 private:
  const uint64_t free_;
  const uint64_t every_;
  std::atomic<uint64_t> count_{0};
};

// "… (99 more like it not logged)", or nothing.
inline std::string heldBack(uint64_t held) {
  return held == 0 ? std::string() : strCat(" (", held, " more like it not logged)");
}

}  // namespace gccl

// GCCL_WARN within a WarningBudget.
#define GCCL_WARN_WITHIN(budget, subsys, ...)                               \
  do {                                                                      \
    if (const auto gcclHeld = (budget).admit()) {                           \
      ::gccl::logWarn(subsys, std::source_location::current(), __VA_ARGS__, \
                      ::gccl::heldBack(*gcclHeld));                         \
    }                                                                       \
  } while (0)
