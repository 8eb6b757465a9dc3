// reduce_scatter_perf: gccl's reduce-scatter; the size column is the bytes each rank contributes,
// the count its block. Flags, table and checking as allreduce_perf (perf_main.h, collective.h).
#include "perf_main.h"

int main(int argc, char** argv) {
  return gccl::perf::perfMain(gccl::perf::kReduceScatterSpec, argc, argv);
}
