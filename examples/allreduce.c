/* The smallest gccl program: every rank adds its rank+1 into a buffer.
 * Run it under any launcher that sets the environment gcclCommInitFromEnv reads, e.g.
 *   export GCCL_WORLD_SIZE=2 GCCL_ROOT_ADDR=127.0.0.1 GCCL_ROOT_PORT=29700
 *   GCCL_RANK=0 ./example_allreduce & GCCL_RANK=1 ./example_allreduce
 * or: mpirun -np 4 ./example_allreduce
 */
#include <gccl/gccl.h>
#include <stdio.h>

#define COUNT 1024

int main(void) {
  gcclComm_t comm;
  if (gcclCommInitFromEnv(&comm) != gcclSuccess) {
    fprintf(stderr, "init failed: %s\n", gcclGetLastError(NULL));
    return 1;
  }
  int rank = 0, size = 0;
  gcclCommUserRank(comm, &rank);
  gcclCommCount(comm, &size);

  static float data[COUNT];
  for (int i = 0; i < COUNT; ++i) data[i] = (float)(rank + 1);
  gcclResult_t result = gcclAllReduce(data, data, COUNT, gcclFloat32, gcclSum, comm);
  if (result != gcclSuccess) {
    fprintf(stderr, "rank %d: %s: %s\n", rank, gcclGetErrorString(result), gcclGetLastError(comm));
    gcclCommAbort(comm);
    return 1;
  }
  const float expected = (float)size * (float)(size + 1) / 2.0f;
  int wrong = 0;
  for (int i = 0; i < COUNT; ++i) wrong += data[i] != expected;
  printf("rank %d of %d: sum = %g (expected %g), %d wrong\n", rank, size, data[0], expected, wrong);
  gcclCommDestroy(comm);
  return wrong == 0 ? 0 : 1;
}
