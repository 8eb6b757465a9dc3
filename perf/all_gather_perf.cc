// all_gather_perf: gccl's allgather; the size column is the gathered bytes, the count a rank's
// block. Flags, table and checking as allreduce_perf (perf_main.h, collective.h).
#include "perf_main.h"

int main(int argc, char** argv) {
  return gccl::perf::perfMain(gccl::perf::kAllgatherSpec, argc, argv);
}
