#include "base/simd.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define GCCL_X86 1
#endif

namespace gccl {
namespace {

#if GCCL_X86
bool bit(uint32_t reg, int index) {
  return (reg >> index) & 1u;
}

// Extended register state the OS saves on context switch; without it the registers are unusable
// even if CPUID advertises the instructions.
uint64_t enabledXsaveState() {
  uint32_t lo = 0;
  uint32_t hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

SimdLevel detectFromCpuid() {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return SimdLevel::kScalar;
  const bool osxsave = bit(ecx, 27);
  const bool avx = bit(ecx, 28);
  const bool f16c = bit(ecx, 29);
  if (!osxsave || !avx || !f16c) return SimdLevel::kScalar;
  constexpr uint64_t kYmmState = 0x6;   // SSE + AVX
  constexpr uint64_t kZmmState = 0xe6;  // + opmask, ZMM0-15 high halves, ZMM16-31
  const uint64_t state = enabledXsaveState();
  if ((state & kYmmState) != kYmmState) return SimdLevel::kScalar;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return SimdLevel::kScalar;
  const bool avx2 = bit(ebx, 5);
  if (!avx2) return SimdLevel::kScalar;
  const bool avx512 = bit(ebx, 16) && bit(ebx, 17) && bit(ebx, 30) && bit(ebx, 31);  // F DQ BW VL
  if (avx512 && (state & kZmmState) == kZmmState) return SimdLevel::kAvx512;
  return SimdLevel::kAvx2;
}
#else
SimdLevel detectFromCpuid() {
  return SimdLevel::kScalar;
}
#endif

SimdLevel clampToCpu(SimdLevel level) {
  return std::min(level, detectSimdLevel());
}

std::atomic<SimdLevel>& activeLevel() {
  static std::atomic<SimdLevel> level{detectSimdLevel()};
  return level;
}

// Whether setSimdLevel has chosen the level. The two writers take the mutex: read, then
// written, without it an "auto" adoption that had just seen "not forced" could overwrite a
// level forced in between. Kernels read the atomic level alone.
struct LevelChoice {
  std::mutex mutex;
  bool forced = false;
};

LevelChoice& levelChoice() {
  static LevelChoice choice;
  return choice;
}

}  // namespace

SimdLevel detectSimdLevel() {
  static const SimdLevel detected = detectFromCpuid();
  return detected;
}

SimdLevel activeSimdLevel() {
  return activeLevel().load(std::memory_order_relaxed);
}

SimdLevel setSimdLevel(SimdLevel level) {
  const SimdLevel clamped = clampToCpu(level);
  std::lock_guard lock(levelChoice().mutex);
  levelChoice().forced = true;
  activeLevel().store(clamped, std::memory_order_relaxed);
  return clamped;
}

SimdLevel adoptDefaultSimdLevel(SimdLevel level) {
  std::lock_guard lock(levelChoice().mutex);
  if (!levelChoice().forced) activeLevel().store(clampToCpu(level), std::memory_order_relaxed);
  return activeSimdLevel();
}

std::optional<SimdLevel> parseSimdLevel(std::string_view name) {
  if (name == "avx512") return SimdLevel::kAvx512;
  if (name == "avx2") return SimdLevel::kAvx2;
  if (name == "scalar") return SimdLevel::kScalar;
  return std::nullopt;
}

std::string_view simdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar: return "scalar";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "unknown";
}

}  // namespace gccl
