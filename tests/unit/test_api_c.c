/* The public header compiled as C99, and the C API's argument checking. Runs one rank. */
#define _POSIX_C_SOURCE 200112L /* setenv */
#include <gccl/gccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define EXPECT(cond)                                                      \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                         \
    }                                                                     \
  } while (0)

static int mentions(const char* text, const char* word) {
  return strstr(text, word) != NULL;
}

/* Every one of the n elements, not a sample: a call that wrote part of its output shows. */
static int holds(const float* got, const float* want, int n) {
  int i;
  for (i = 0; i < n; ++i) {
    if (got[i] != want[i]) return 0;
  }
  return 1;
}

/* Every message starts with the function that failed. */
static int startsWith(const char* text, const char* prefix) {
  return strncmp(text, prefix, strlen(prefix)) == 0;
}

int main(void) {
  int version = 0;
  EXPECT(gcclGetVersion(&version) == gcclSuccess && version == GCCL_VERSION_CODE);
  EXPECT(gcclGetVersion(NULL) == gcclInvalidArgument);
  EXPECT(strcmp(gcclGetErrorString(gcclTimeout), "timeout") == 0);
  EXPECT(gcclGetErrorString((gcclResult_t)99) != NULL);
  EXPECT(gcclTypeSize(gcclBfloat16) == 2 && gcclTypeSize((gcclDataType_t)42) == 0);

  /* Shareable memory: zeroed, usable, freed once; bad arguments refused, naming the call. */
  void* shared = (void*)&version;
  EXPECT(gcclMemAlloc(&shared, 0) == gcclInvalidArgument && shared == NULL);
  EXPECT(startsWith(gcclGetLastError(NULL), "gcclMemAlloc: size is 0"));
  EXPECT(gcclMemAlloc(NULL, 64) == gcclInvalidArgument);
  EXPECT(gcclMemAlloc(&shared, 3 * sizeof(float)) == gcclSuccess && shared != NULL);
  if (shared != NULL) {
    const float zeros[3] = {0, 0, 0};
    EXPECT(holds((const float*)shared, zeros, 3));
    ((float*)shared)[2] = 7;
    EXPECT(gcclMemFree((char*)shared + 4) == gcclInvalidArgument);
    EXPECT(mentions(gcclGetLastError(NULL), "is not the start of a buffer gcclMemAlloc returned"));
    EXPECT(gcclMemFree(shared) == gcclSuccess);
    EXPECT(gcclMemFree(shared) == gcclInvalidArgument);
  }
  EXPECT(gcclMemFree(NULL) == gcclSuccess);
  EXPECT(gcclMemFree(&version) == gcclInvalidArgument);

  float data[4] = {1, 2, 3, 4};
  EXPECT(gcclAllReduce(data, data, 4, gcclFloat32, gcclSum, NULL) == gcclInvalidArgument);
  EXPECT(startsWith(gcclGetLastError(NULL), "gcclAllReduce: communicator is NULL"));

  gcclUniqueId zero;
  memset(&zero, 0, sizeof zero);
  gcclComm_t comm = NULL;
  EXPECT(gcclCommInitRank(&comm, 1, zero, 0) == gcclInvalidArgument);
  EXPECT(comm == NULL);

  setenv("GCCL_SOCKET_ADDR", "127.0.0.1", 1);
  gcclUniqueId id;
  EXPECT(gcclGetUniqueId(&id) == gcclSuccess);
  EXPECT(gcclCommInitRank(&comm, 2, id, 2) == gcclInvalidArgument);
  EXPECT(gcclCommInitRank(&comm, 0, id, 0) == gcclInvalidArgument);
  EXPECT(gcclCommInitRank(&comm, 200000000, id, 0) == gcclInvalidArgument); /* no 6 GB tables */
  EXPECT(mentions(gcclGetLastError(NULL), "exceeds gccl's limit"));
  EXPECT(gcclCommInitRank(NULL, 1, id, 0) == gcclInvalidArgument);

  gcclConfig_t config = GCCL_CONFIG_INITIALIZER;
  config.timeoutMs = 5000;
  EXPECT(gcclCommInitRankConfig(&comm, 1, id, 0, &config) == gcclSuccess);
  int rank = -1, count = -1;
  EXPECT(gcclCommUserRank(comm, &rank) == gcclSuccess && rank == 0);
  EXPECT(gcclCommCount(comm, &count) == gcclSuccess && count == 1);
  EXPECT(gcclCommCount(comm, NULL) == gcclInvalidArgument);

  float out[4] = {0, 0, 0, 0};
  EXPECT(gcclAllReduce(data, out, 4, gcclFloat32, gcclSum, comm) == gcclSuccess);
  EXPECT(holds(out, data, 4));
  EXPECT(gcclAllReduce(NULL, out, 4, gcclFloat32, gcclSum, comm) == gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(comm), "null send buffer"));
  EXPECT(gcclAllReduce(data, NULL, 4, gcclFloat32, gcclSum, comm) == gcclInvalidArgument);
  EXPECT(gcclAllReduce(NULL, NULL, 0, gcclFloat32, gcclSum, comm) == gcclSuccess);
  EXPECT(gcclAllReduce(data, out, 4, (gcclDataType_t)77, gcclSum, comm) == gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(comm), "allreduce on rank 0: datatype 77"));
  EXPECT(gcclAllReduce(data, out, 4, gcclFloat32, (gcclRedOp_t)-1, comm) == gcclInvalidArgument);
  EXPECT(gcclAllReduce(data, out, (size_t)-1, gcclFloat32, gcclSum, comm) == gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(comm), "overflow"));
  EXPECT(gcclAllReduce(data, data + 1, 2, gcclFloat32, gcclSum, comm) == gcclInvalidArgument);

  gcclRequest_t request = NULL;
  EXPECT(gcclAllReduceAsync(data, data, 4, gcclFloat32, gcclMax, comm, &request) == gcclSuccess);
  EXPECT(gcclWait(request) == gcclSuccess);
  EXPECT(data[0] == 1.0f && data[1] == 2.0f && data[2] == 3.0f && data[3] == 4.0f);
  /* A request is freed by the wait (or the test) that completes it: using it again is an
   * error, not a crash. */
  EXPECT(gcclWait(request) == gcclInvalidArgument);
  EXPECT(startsWith(gcclGetLastError(NULL), "gcclWait: request "));
  EXPECT(mentions(gcclGetLastError(NULL), "not live"));
  {
    int done = 0;
    EXPECT(gcclAllReduceAsync(data, data, 4, gcclFloat32, gcclMax, comm, &request) == gcclSuccess);
    while (done == 0) EXPECT(gcclTest(request, &done) == gcclSuccess);
    EXPECT(gcclTest(request, &done) == gcclInvalidArgument);
    EXPECT(gcclWait(request) == gcclInvalidArgument);
    EXPECT(gcclWait((gcclRequest_t)&done) == gcclInvalidArgument); /* never a request */
  }
  EXPECT(gcclAllReduceAsync(data, data, 4, gcclFloat32, gcclMax, comm, NULL) ==
         gcclInvalidArgument);
  EXPECT(gcclWait(NULL) == gcclInvalidArgument);

  /* Every collective from C, one rank: each copies or reduces its input exactly. */
  float gathered[4] = {0, 0, 0, 0};
  EXPECT(gcclBroadcast(data, gathered, 4, gcclFloat32, 0, comm) == gcclSuccess);
  EXPECT(holds(gathered, data, 4));
  EXPECT(gcclBroadcast(data, gathered, 4, gcclFloat32, 1, comm) == gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(comm), "root 1"));
  /* The stream-ordered form checks its arguments first, GPU or not. */
  EXPECT(gcclBroadcastOnStream(data, gathered, 4, gcclFloat32, 7, comm, NULL) ==
         gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(comm), "broadcast on rank 0: root 7"));
  EXPECT(gcclAllReduceOnStream(NULL, gathered, 4, gcclFloat32, gcclSum, comm, NULL) ==
         gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(comm), "null send buffer"));
  memset(gathered, 0, sizeof gathered);
  EXPECT(gcclReduce(data, gathered, 4, gcclFloat32, gcclMax, 0, comm) == gcclSuccess);
  EXPECT(holds(gathered, data, 4));
  EXPECT(gcclReduce(data, NULL, 4, gcclFloat32, gcclMax, 0, comm) == gcclInvalidArgument);
  memset(gathered, 0, sizeof gathered);
  EXPECT(gcclAllGather(data, gathered, 4, gcclFloat32, comm) == gcclSuccess);
  EXPECT(holds(gathered, data, 4));
  EXPECT(gcclAllGather(data, data + 1, 2, gcclFloat32, comm) == gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(comm), "overlap"));
  size_t counts[1] = {3}, displs[1] = {1};
  memset(gathered, 0, sizeof gathered);
  EXPECT(gcclAllGatherV(data, 3, gathered, counts, displs, gcclFloat32, comm) == gcclSuccess);
  {
    const float shifted[4] = {0.0f, 1.0f, 2.0f, 3.0f}; /* the block at displacement 1 */
    EXPECT(holds(gathered, shifted, 4));
  }
  EXPECT(gcclAllGatherV(data, 2, gathered, counts, displs, gcclFloat32, comm) ==
         gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(comm), "sendcount 2"));
  EXPECT(gcclAllGatherV(data, 3, gathered, NULL, displs, gcclFloat32, comm) == gcclInvalidArgument);
  memset(gathered, 0, sizeof gathered);
  EXPECT(gcclReduceScatter(data, gathered, 4, gcclFloat32, gcclSum, comm) == gcclSuccess);
  EXPECT(holds(gathered, data, 4));
  EXPECT(gcclReduceScatter(data, gathered, 4, gcclFloat32, (gcclRedOp_t)9, comm) ==
         gcclInvalidArgument);
  memset(gathered, 0, sizeof gathered);
  EXPECT(gcclAllToAll(data, gathered, 4, gcclFloat32, comm) == gcclSuccess);
  EXPECT(holds(gathered, data, 4));
  EXPECT(gcclAllToAll(data, data + 1, 2, gcclFloat32, comm) == gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(comm), "alltoall on rank 0: send and receive buffers overlap"));
  EXPECT(gcclAllToAll(NULL, gathered, 4, gcclFloat32, comm) == gcclInvalidArgument);
  EXPECT(gcclAllToAllAsync(data, gathered, 4, gcclFloat32, comm, NULL) == gcclInvalidArgument);
  EXPECT(gcclAllToAllAsync(data, gathered, 4, gcclFloat32, comm, &request) == gcclSuccess);
  EXPECT(gcclWait(request) == gcclSuccess);
  {
    /* Alltoallv on one rank: its own block, from displacement 1 to displacement 0. */
    const size_t three[1] = {3}, one[1] = {1}, zero[1] = {0}, two[1] = {2};
    const float shifted[3] = {2.0f, 3.0f, 4.0f};
    memset(gathered, 0, sizeof gathered);
    EXPECT(gcclAllToAllV(data, three, one, gathered, three, zero, gcclFloat32, comm) ==
           gcclSuccess);
    EXPECT(holds(gathered, shifted, 3) && gathered[3] == 0.0f);
    EXPECT(gcclAllToAllV(data, two, one, gathered, three, zero, gcclFloat32, comm) ==
           gcclInvalidArgument);
    EXPECT(mentions(gcclGetLastError(comm), "alltoallv on rank 0: sends 2 elements to itself"));
    EXPECT(gcclAllToAllV(data, three, one, gathered, NULL, zero, gcclFloat32, comm) ==
           gcclInvalidArgument);
    EXPECT(mentions(gcclGetLastError(comm), "recvcounts is NULL"));
    EXPECT(gcclAllToAllV(data, NULL, one, gathered, three, zero, gcclFloat32, comm) ==
           gcclInvalidArgument);
    EXPECT(mentions(gcclGetLastError(comm), "sendcounts is NULL"));
    /* In place the send arrays are not read. */
    EXPECT(gcclAllToAllV(gathered, NULL, NULL, gathered, three, zero, gcclFloat32, comm) ==
           gcclSuccess);
    EXPECT(holds(gathered, shifted, 3));
    EXPECT(gcclAllToAllV(data, three, zero, data + 1, three, zero, gcclFloat32, comm) ==
           gcclInvalidArgument);
    EXPECT(mentions(gcclGetLastError(comm), "overlap"));
    EXPECT(gcclAllToAllVAsync(data, three, one, gathered, three, zero, gcclFloat32, comm,
                              &request) == gcclSuccess);
    EXPECT(gcclWait(request) == gcclSuccess);
    /* The stream-ordered form checks its arguments first, GPU or not. */
    EXPECT(gcclAllToAllVOnStream(data, two, one, gathered, three, zero, gcclFloat32, comm, NULL) ==
           gcclInvalidArgument);
    EXPECT(mentions(gcclGetLastError(comm), "alltoallv on rank 0: sends 2 elements to itself"));
  }
  EXPECT(gcclBarrier(comm) == gcclSuccess);
  EXPECT(gcclBarrierAsync(comm, &request) == gcclSuccess);
  EXPECT(gcclWait(request) == gcclSuccess);
  memset(gathered, 0, sizeof gathered);
  EXPECT(gcclBroadcastAsync(data, gathered, 4, gcclFloat32, 0, comm, &request) == gcclSuccess);
  EXPECT(gcclWait(request) == gcclSuccess);
  EXPECT(holds(gathered, data, 4));
  EXPECT(gcclBarrierAsync(comm, NULL) == gcclInvalidArgument);

  gcclResult_t async = gcclInternalError;
  EXPECT(gcclCommGetAsyncError(comm, &async) == gcclSuccess && async == gcclSuccess);

  gcclConfig_t bad = GCCL_CONFIG_INITIALIZER;
  bad.magic = 0;
  gcclComm_t other = NULL;
  EXPECT(gcclCommInitRankConfig(&other, 1, id, 0, &bad) == gcclInvalidArgument);

  EXPECT(gcclCommDestroy(comm) == gcclSuccess);
  /* Use after destroy is an error, not a crash. */
  EXPECT(gcclAllReduce(data, out, 4, gcclFloat32, gcclSum, comm) == gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(NULL), "not live"));
  EXPECT(gcclReduceScatterAsync(data, out, 1, gcclFloat32, gcclSum, comm, &request) ==
         gcclInvalidArgument);
  EXPECT(startsWith(gcclGetLastError(NULL), "gcclReduceScatterAsync: communicator "));
  EXPECT(gcclCommDestroy(comm) == gcclInvalidArgument);
  EXPECT(startsWith(gcclGetLastError(NULL), "gcclCommDestroy: "));
  EXPECT(gcclCommDestroy(NULL) == gcclSuccess);

  if (failures == 0) printf("test_api_c: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
