// reduce_perf: gccl's reduce to -r ROOT (default 0); only the root's output is defined and checked.
// Flags, table and checking as allreduce_perf (perf_main.h, collective.h).
#include "perf_main.h"

int main(int argc, char** argv) {
  return gccl::perf::perfMain(gccl::perf::kReduceSpec, argc, argv);
}
