// Sizes on the command line of allreduce_perf and the baselines: "64M", "4K", "1.5G", "512B"
// (powers of 1024), shared so every tool reads a sweep the same way.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <optional>
#include <string>

namespace gccl::perf {

inline std::optional<size_t> parseByteSize(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || value < 0) return std::nullopt;
  double scale = 1;
  if (*end == 'K' || *end == 'k') scale = 1024.0;
  if (*end == 'M' || *end == 'm') scale = 1024.0 * 1024;
  if (*end == 'G' || *end == 'g') scale = 1024.0 * 1024 * 1024;
  if (scale != 1) ++end;
  if (*end == 'B') ++end;
  if (*end != '\0') return std::nullopt;
  return static_cast<size_t>(value * scale);
}

}  // namespace gccl::perf
