// The column headers of the nccl-tests-shaped table, shared by allreduce_perf and the
// baselines so that their tables line up column for column.
#pragma once

#include <cstdio>

namespace gccl::perf {

// `algorithmColumn`: a last column names each row's algorithm (allreduce_perf -a A,B,...).
inline void printColumnHeaders(bool algorithmColumn = false) {
  const char* algo = algorithmColumn ? " algo" : "";
  std::printf("#\n");
  std::printf("#%47s%37s\n", "out-of-place", "in-place");
  std::printf("#%11s %12s %8s %6s %8s %8s %8s %7s %8s %8s %8s %7s%s\n", "size", "count", "type",
              "redop", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw", "#wrong",
              algo);
  std::printf("#%11s %12s %8s %6s %8s %8s %8s %7s %8s %8s %8s %7s\n", "(B)", "(elements)", "", "",
              "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "");
  std::fflush(stdout);
}

}  // namespace gccl::perf
