// alltoallv_perf: gccl's alltoallv with every block the same size, alltoall_perf's rows, data
// and checks: its cost over the all-to-all. Flags as allreduce_perf.
#include "perf_main.h"

int main(int argc, char** argv) {
  return gccl::perf::perfMain(gccl::perf::kAllToAllVSpec, argc, argv);
}
