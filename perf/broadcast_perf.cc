// broadcast_perf: gccl's broadcast from -r ROOT (default 0); every rank's output is checked.
// Flags, table and checking as allreduce_perf (perf_main.h, collective.h).
#include "perf_main.h"

int main(int argc, char** argv) {
  return gccl::perf::perfMain(gccl::perf::kBroadcastSpec, argc, argv);
}
