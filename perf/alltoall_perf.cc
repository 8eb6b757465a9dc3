// alltoall_perf: gccl's all-to-all; the size column is a rank's whole buffer (nranks blocks),
// the count one block. Flags, table and checking as allreduce_perf (perf_main.h, collective.h).
#include "perf_main.h"

int main(int argc, char** argv) {
  return gccl::perf::perfMain(gccl::perf::kAllToAllSpec, argc, argv);
}
