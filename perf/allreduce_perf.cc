// allreduce_perf: the nccl-tests-shaped benchmark of gccl's allreduce, with result checking.
//   allreduce_perf --np 4 -b 8 -e 64M -f 2        four local ranks
//   mpirun -np 4 allreduce_perf -b 8 -e 64M       one rank per process, from the environment
// The other <collective>_perf tools are the same program over another descriptor
// (collective.h).
#include "perf_main.h"

int main(int argc, char** argv) {
  return gccl::perf::perfMain(gccl::perf::kAllreduceSpec, argc, argv);
}
