/* The gradient sync API from C99: argument and call-order errors on one rank, then two ranks as
 * threads over TCP marking their gradients ready in different orders, fp16 on the wire, and
 * a step whose communicator is destroyed before its wait. */
#define _POSIX_C_SOURCE 200112L /* setenv */
#include <gccl/gccl.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
static pthread_mutex_t failuresMutex = PTHREAD_MUTEX_INITIALIZER;

#define EXPECT(cond)                                                      \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
      pthread_mutex_lock(&failuresMutex);                                 \
      ++failures;                                                         \
      pthread_mutex_unlock(&failuresMutex);                               \
    }                                                                     \
  } while (0)

static int mentions(const char* text, const char* word) {
  return strstr(text, word) != NULL;
}

static void configErrors(gcclComm_t comm) {
  gcclGradSync_t sync = NULL;
  gcclGradSyncConfig_t config = GCCL_GRAD_SYNC_CONFIG_INITIALIZER;
  config.magic = 0;
  EXPECT(gcclGradSyncCreate(comm, &config, &sync) == gcclInvalidArgument && sync == NULL);
  EXPECT(mentions(gcclGetLastError(comm), "GCCL_GRAD_SYNC_CONFIG_INITIALIZER"));
  gcclGradSyncConfig_t wire = GCCL_GRAD_SYNC_CONFIG_INITIALIZER;
  wire.compression = (gcclWireFormat_t)7;
  EXPECT(gcclGradSyncCreate(comm, &wire, &sync) == gcclInvalidArgument);
  gcclGradSyncConfig_t divide = GCCL_GRAD_SYNC_CONFIG_INITIALIZER;
  divide.average = 0;
  divide.preDivide = 1;
  EXPECT(gcclGradSyncCreate(comm, &divide, &sync) == gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(comm), "preDivide"));
  gcclGradSyncConfig_t align = GCCL_GRAD_SYNC_CONFIG_INITIALIZER;
  align.alignment = 3;
  EXPECT(gcclGradSyncCreate(comm, &align, &sync) == gcclInvalidArgument);
  {
    gcclGradSyncConfig_t sparse = GCCL_GRAD_SYNC_CONFIG_INITIALIZER;
    sparse.sparse = 1;
    sparse.sparseDensity = 0.0;
    EXPECT(gcclGradSyncCreate(comm, &sparse, &sync) == gcclInvalidArgument);
    EXPECT(mentions(gcclGetLastError(comm), "density"));
    sparse.sparseDensity = 0.5;
    sparse.sparseMomentum = 1.0f;
    EXPECT(gcclGradSyncCreate(comm, &sparse, &sync) == gcclInvalidArgument);
    sparse.sparseMomentum = 0.9f;
    sparse.sparsePayload = gcclWireBfloat16;
    EXPECT(gcclGradSyncCreate(comm, &sparse, &sync) == gcclInvalidArgument);
    EXPECT(mentions(gcclGetLastError(comm), "sparsePayload"));
    /* A revision-1 caller's struct ends before the sparse fields: whatever follows is ignored. */
    sparse.size = offsetof(gcclGradSyncConfig_t, sparse);
    EXPECT(gcclGradSyncCreate(comm, &sparse, &sync) == gcclSuccess);
    EXPECT(gcclGradSyncDestroy(sync) == gcclSuccess);
    sync = NULL;
  }
  EXPECT(gcclGradSyncCreate(NULL, NULL, &sync) == gcclInvalidArgument);
  EXPECT(gcclGradSyncCreate(comm, NULL, NULL) == gcclInvalidArgument);
  EXPECT(gcclGradSyncRegister(NULL, "x", 1, gcclFloat32, NULL) == gcclInvalidArgument);
}

/* Communicators made after `destroyed` was freed, until one lands at its address (the
 * allocator reuses the block at once; ASan's quarantine never does, and then every new one is
 * elsewhere and marking still fails as "not live"): marking must not run on it. */
static void markingFailsOnANewCommunicatorAtTheSameAddress(gcclGradSync_t sync, size_t w,
                                                           gcclComm_t destroyed) {
  gcclComm_t made[16];
  int count = 0;
  int reused = 0;
  int i;
  while (count < 16 && !reused) {
    gcclUniqueId id;
    EXPECT(gcclGetUniqueId(&id) == gcclSuccess);
    EXPECT(gcclCommInitRank(&made[count], 1, id, 0) == gcclSuccess);
    reused = made[count++] == destroyed;
  }
  EXPECT(gcclGradSyncMarkReady(sync, w, NULL) == gcclInvalidArgument);
  if (reused) {
    EXPECT(mentions(gcclGetLastError(NULL), "was destroyed"));
  } else {
    EXPECT(mentions(gcclGetLastError(NULL), "not live"));
  }
  for (i = 0; i < count; ++i) EXPECT(gcclCommDestroy(made[i]) == gcclSuccess);
}

/* Call order, unknown and repeated tensors on one rank; nothing is corrupted by a refusal. */
static void usageErrors(gcclComm_t comm) {
  gcclGradSync_t sync = NULL;
  size_t w = 99, b = 99, index = 0;
  void* pool = NULL;
  size_t poolBytes = 0;
  gcclGradSyncStats_t stats;
  void* view = NULL;
  float* wv;
  float* bv;
  EXPECT(gcclGradSyncCreate(comm, NULL, &sync) == gcclSuccess && sync != NULL);
  {
    /* A request passed as a gradient sync is refused, not freed as one. */
    float value = 1.0f;
    gcclRequest_t request = NULL;
    EXPECT(gcclAllReduceAsync(&value, &value, 1, gcclFloat32, gcclSum, comm, &request) ==
           gcclSuccess);
    EXPECT(gcclGradSyncDestroy((gcclGradSync_t)request) == gcclInvalidArgument);
    EXPECT(gcclWait(request) == gcclSuccess);
  }
  EXPECT(gcclGradSyncRegister(sync, "w", 4, gcclFloat32, &w) == gcclSuccess && w == 0);
  EXPECT(gcclGradSyncRegister(sync, "w", 4, gcclFloat32, &index) == gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(comm), "already registered"));
  EXPECT(gcclGradSyncRegister(sync, "x", 4, (gcclDataType_t)42, &index) == gcclInvalidArgument);
  EXPECT(gcclGradSyncRegister(sync, "x", 4, gcclFloat32, NULL) == gcclInvalidArgument);
  EXPECT(gcclGradSyncRegister(sync, NULL, 2, gcclFloat32, &b) == gcclSuccess && b == 1);
  EXPECT(gcclGradSyncMarkReady(sync, w, NULL) == gcclInvalidUsage);
  EXPECT(mentions(gcclGetLastError(comm), "before finalize"));
  EXPECT(gcclGradSyncGetTensor(sync, w, &view) == gcclInvalidUsage);
  EXPECT(gcclGradSyncFinalize(sync, &pool, &poolBytes) == gcclSuccess);
  EXPECT(pool != NULL && poolBytes == 64 + 2 * sizeof(float));
  EXPECT(gcclGradSyncFinalize(sync, NULL, NULL) == gcclInvalidUsage);
  EXPECT(gcclGradSyncRegister(sync, "late", 1, gcclFloat32, &index) == gcclInvalidUsage);
  EXPECT(mentions(gcclGetLastError(comm), "after finalize"));
  EXPECT(gcclGradSyncGetTensor(sync, 2, &view) == gcclInvalidArgument);
  EXPECT(gcclGradSyncGetTensor(sync, w, &view) == gcclSuccess && view == pool);
  wv = (float*)view;
  EXPECT(gcclGradSyncGetTensor(sync, b, &view) == gcclSuccess);
  bv = (float*)view;
  wv[0] = 3.0f;
  bv[1] = 4.0f;
  EXPECT(gcclGradSyncMarkReady(sync, 7, NULL) == gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(comm), "unknown"));
  EXPECT(gcclGradSyncMarkReady(sync, w, bv) == gcclInvalidArgument); /* not its view */
  EXPECT(gcclGradSyncMarkReady(sync, w, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncMarkReady(sync, w, NULL) == gcclInvalidUsage);
  EXPECT(mentions(gcclGetLastError(comm), "twice"));
  EXPECT(gcclGradSyncWait(sync, &stats) == gcclInvalidUsage);
  EXPECT(mentions(gcclGetLastError(comm), "tensor 1"));
  EXPECT(gcclGradSyncMarkReady(sync, b, bv) == gcclSuccess);
  EXPECT(gcclGradSyncWait(sync, &stats) == gcclSuccess);
  EXPECT(stats.buckets == 1 && stats.nonFinite == 0 && stats.wireBytes == poolBytes);
  EXPECT(wv[0] == 3.0f && bv[1] == 4.0f);
  EXPECT(gcclGradSyncMarkReady(sync, b, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncReset(sync) == gcclSuccess);

  /* The handle outlives its communicator: marking fails, wait and destroy still work. */
  EXPECT(gcclCommDestroy(comm) == gcclSuccess);
  EXPECT(gcclGradSyncMarkReady(sync, w, NULL) == gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(NULL), "not live"));
  markingFailsOnANewCommunicatorAtTheSameAddress(sync, w, comm);
  /* The step ends with the refusal's error: nothing could be marked any more. */
  EXPECT(gcclGradSyncWait(sync, NULL) == gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(NULL), "not live"));
  EXPECT(gcclGradSyncDestroy(sync) == gcclSuccess);
  EXPECT(gcclGradSyncDestroy(NULL) == gcclSuccess);
  /* Destroyed: another destroy, or any call, is an error, not a double free. */
  EXPECT(gcclGradSyncDestroy(sync) == gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(NULL), "not live"));
  EXPECT(gcclGradSyncReset(sync) == gcclInvalidArgument);
}

static void writeRamp(float* w, float start) {
  int i;
  for (i = 0; i < 16; ++i) w[i] = start * (float)i;
}

/* Sparse on one rank, fp32 payload. One bucket of 18 elements (w: 16, b: 2, exempt), chunks of
 * 4: norms of w = i are 6, 22, 38, 54 (chunk 4 is b's); ceil(0.25 * 5) = 2 chunks of w are
 * sent, the rest stays in the residual until sent or cleared by gcclGradSyncReset. */
static void sparseOneRank(gcclComm_t comm) {
  gcclGradSync_t sync = NULL;
  gcclGradSyncConfig_t config = GCCL_GRAD_SYNC_CONFIG_INITIALIZER;
  size_t w = 0, b = 0, sent = 0, chunks = 0;
  void* view = NULL;
  float* wv;
  float* bv;
  int i;
  config.sparse = 1;
  config.sparseChunk = 4;
  config.sparseDensity = 0.25;
  config.sparsePayload = gcclWireNone;
  EXPECT(gcclGradSyncCreate(comm, &config, &sync) == gcclSuccess);
  EXPECT(gcclGradSyncRegister(sync, "w", 16, gcclFloat32, &w) == gcclSuccess);
  EXPECT(gcclGradSyncRegister(sync, "b", 2, gcclFloat32, &b) == gcclSuccess);
  EXPECT(gcclGradSyncSetExempt(sync, 2) == gcclInvalidArgument);
  EXPECT(gcclGradSyncSetExempt(sync, b) == gcclSuccess);
  EXPECT(gcclGradSyncFinalize(sync, NULL, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncSetExempt(sync, w) == gcclInvalidUsage);
  EXPECT(gcclGradSyncGetTensor(sync, w, &view) == gcclSuccess);
  wv = (float*)view;
  EXPECT(gcclGradSyncGetTensor(sync, b, &view) == gcclSuccess);
  bv = (float*)view;

  writeRamp(wv, 1.0f);
  bv[0] = 5.0f;
  bv[1] = 6.0f;
  EXPECT(gcclGradSyncMarkReady(sync, w, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncMarkReady(sync, b, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncWait(sync, NULL) == gcclSuccess);
  for (i = 0; i < 16; ++i) EXPECT(wv[i] == (i < 8 ? 0.0f : (float)i));
  EXPECT(bv[0] == 5.0f && bv[1] == 6.0f);
  EXPECT(gcclGradSyncGetSparseStats(sync, &sent, &chunks) == gcclSuccess);
  EXPECT(sent == 3 && chunks == 5);

  /* Zero gradients: the residual (chunks 0 and 1) is what goes out now. */
  writeRamp(wv, 0.0f);
  bv[0] = bv[1] = 0.0f;
  EXPECT(gcclGradSyncMarkReady(sync, w, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncMarkReady(sync, b, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncWait(sync, NULL) == gcclSuccess);
  for (i = 0; i < 16; ++i) EXPECT(wv[i] == (i < 8 ? (float)i : 0.0f));

  /* A step abandoned by reset (its bucket never started), then zeros: nothing left over. */
  writeRamp(wv, 1.0f);
  EXPECT(gcclGradSyncMarkReady(sync, w, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncReset(sync) == gcclSuccess);
  writeRamp(wv, 1.0f);
  EXPECT(gcclGradSyncMarkReady(sync, w, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncMarkReady(sync, b, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncWait(sync, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncGetSparseStats(sync, &sent, &chunks) == gcclSuccess);
  EXPECT(sent == 3 && chunks == 5);
  EXPECT(gcclGradSyncReset(sync) == gcclSuccess); /* clears chunks 0 and 1 */
  /* No step completed since: no figures, not the last completed step's. */
  EXPECT(gcclGradSyncGetSparseStats(sync, &sent, &chunks) == gcclSuccess);
  EXPECT(sent == 0 && chunks == 0);
  writeRamp(wv, 0.0f);
  EXPECT(gcclGradSyncMarkReady(sync, w, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncMarkReady(sync, b, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncWait(sync, NULL) == gcclSuccess);
  for (i = 0; i < 16; ++i) EXPECT(wv[i] == 0.0f);
  EXPECT(gcclGradSyncGetSparseStats(NULL, &sent, &chunks) == gcclInvalidArgument);
  EXPECT(gcclGradSyncDestroy(sync) == gcclSuccess);
}

/* From 1 MiB of dense fp32 a step, the ranks combine their non-finite flags on the
 * communicator at the end of the wait: with the communicator destroyed before the wait (its
 * destroy finished the gradients' allreduce), the wait ends the step and says why. */
static void destroyedBeforeWait(gcclComm_t comm) {
  enum { kLarge = 300000 }; /* 1.2 MB */
  gcclGradSync_t sync = NULL;
  gcclGradSyncConfig_t config = GCCL_GRAD_SYNC_CONFIG_INITIALIZER;
  size_t index = 0, i;
  void* view = NULL;
  EXPECT(gcclGradSyncCreate(comm, &config, &sync) == gcclSuccess);
  EXPECT(gcclGradSyncRegister(sync, NULL, kLarge, gcclFloat32, &index) == gcclSuccess);
  EXPECT(gcclGradSyncFinalize(sync, NULL, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncGetTensor(sync, index, &view) == gcclSuccess);
  for (i = 0; i < kLarge; ++i) ((float*)view)[i] = 1.0f;
  EXPECT(gcclGradSyncMarkReady(sync, index, NULL) == gcclSuccess);
  EXPECT(gcclCommDestroy(comm) == gcclSuccess);
  EXPECT(gcclGradSyncWait(sync, NULL) == gcclInvalidUsage);
  EXPECT(mentions(gcclGetLastError(NULL), "destroyed (or aborted) before wait"));
  EXPECT(gcclGradSyncDestroy(sync) == gcclSuccess);
}

/* A watchdog aborts the communicator in the middle of a step: the tensors left can no longer
 * be marked, and wait ends the step with that error (not "wait before ... was marked ready",
 * which would keep the step open for marks that cannot come). The failed step leaves no
 * sparse figures: a step before it had 13 of 25 chunks sent per tensor. */
static void abortedMidStep(gcclComm_t comm) {
  gcclGradSync_t sync = NULL;
  gcclGradSyncConfig_t config = GCCL_GRAD_SYNC_CONFIG_INITIALIZER;
  size_t first = 0, second = 0, sent = 0, chunks = 0;
  char refusal[256];
  config.bucketBytes = 0; /* a bucket per tensor: the first starts alone */
  config.sparse = 1;
  config.sparseChunk = 4;     /* 25 chunks per tensor */
  config.sparseDensity = 0.5; /* ceil(12.5) = 13 sent */
  config.sparsePayload = gcclWireNone;
  EXPECT(gcclGradSyncCreate(comm, &config, &sync) == gcclSuccess);
  EXPECT(gcclGradSyncRegister(sync, NULL, 100, gcclFloat32, &first) == gcclSuccess);
  EXPECT(gcclGradSyncRegister(sync, NULL, 100, gcclFloat32, &second) == gcclSuccess);
  EXPECT(gcclGradSyncFinalize(sync, NULL, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncMarkReady(sync, first, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncMarkReady(sync, second, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncWait(sync, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncGetSparseStats(sync, &sent, &chunks) == gcclSuccess);
  EXPECT(sent == 26 && chunks == 50);

  EXPECT(gcclGradSyncMarkReady(sync, first, NULL) == gcclSuccess);
  EXPECT(gcclCommAbort(comm) == gcclSuccess);
  EXPECT(gcclGradSyncMarkReady(sync, second, NULL) == gcclInvalidArgument);
  snprintf(refusal, sizeof refusal, "%s", gcclGetLastError(NULL));
  EXPECT(mentions(refusal, "not live"));
  EXPECT(gcclGradSyncWait(sync, NULL) == gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(NULL), "not live"));
  EXPECT(!mentions(gcclGetLastError(NULL), "was marked ready"));
  EXPECT(gcclGradSyncGetSparseStats(sync, &sent, &chunks) == gcclSuccess);
  EXPECT(sent == 0 && chunks == 0);
  EXPECT(gcclGradSyncDestroy(sync) == gcclSuccess);
}

#define TENSORS 3
static const size_t kCounts[TENSORS] = {5, 1000, 77};

typedef struct {
  gcclUniqueId id;
  int rank;
} RankArgs;

static void* runRank(void* argument) {
  const RankArgs* args = (const RankArgs*)argument;
  gcclComm_t comm = NULL;
  gcclGradSync_t sync = NULL;
  gcclGradSyncConfig_t config = GCCL_GRAD_SYNC_CONFIG_INITIALIZER;
  float* views[TENSORS];
  size_t t, i, index, wire = 0;
  int step;
  config.bucketBytes = 0;
  config.compression = gcclWireFloat16;
  EXPECT(gcclCommInitRank(&comm, 2, args->id, args->rank) == gcclSuccess);
  EXPECT(gcclGradSyncCreate(comm, &config, &sync) == gcclSuccess);
  for (t = 0; t < TENSORS; ++t) {
    EXPECT(gcclGradSyncRegister(sync, NULL, kCounts[t], gcclFloat32, &index) == gcclSuccess);
    wire += kCounts[t] * 2;
  }
  EXPECT(gcclGradSyncFinalize(sync, NULL, NULL) == gcclSuccess);
  for (t = 0; t < TENSORS; ++t) {
    void* view = NULL;
    EXPECT(gcclGradSyncGetTensor(sync, t, &view) == gcclSuccess);
    views[t] = (float*)view;
  }
  for (step = 0; step < 2; ++step) {
    gcclGradSyncStats_t stats;
    /* Small integers that differ from tensor to tensor: a tensor landing in another's place, or
     * an odd-length fp16 tail lost, shows. */
    for (t = 0; t < TENSORS; ++t) {
      for (i = 0; i < kCounts[t]; ++i) {
        views[t][i] = (float)((args->rank + 1) * (int)((i + 3 * t) % 7));
      }
    }
    if (step == 1 && args->rank == 1) views[1][500] = (float)HUGE_VAL;
    /* Rank 0 marks forwards, rank 1 backwards: the buckets still start in one order. */
    for (t = 0; t < TENSORS; ++t) {
      const size_t mark = args->rank == 0 ? t : TENSORS - 1 - t;
      EXPECT(gcclGradSyncMarkReady(sync, mark, NULL) == gcclSuccess);
    }
    EXPECT(gcclGradSyncWait(sync, &stats) == gcclSuccess);
    EXPECT(stats.buckets == TENSORS && stats.wireBytes == wire);
    EXPECT(stats.nonFinite == (step == 1));
    /* Every element of every tensor on both ranks is the average, (1 + 2) / 2 times the
     * pattern (exact in fp16); the infinity of step 1 stays where it was. */
    for (t = 0; t < TENSORS; ++t) {
      for (i = 0; i < kCounts[t]; ++i) {
        const int inf = step == 1 && t == 1 && i == 500;
        EXPECT(inf ? views[t][i] == (float)HUGE_VAL
                   : views[t][i] == 1.5f * (float)((i + 3 * t) % 7));
      }
    }
  }
  EXPECT(gcclGradSyncDestroy(sync) == gcclSuccess);
  destroyedBeforeWait(comm); /* destroys comm */
  return NULL;
}

/* A bucket one collective could not move is refused at finalize, before anything is
 * allocated, naming what to change: at one rank with 64-byte slices a collective moves at most
 * 4 MiB, and four 2 MiB gradients make one 8 MiB bucket at the default threshold. A smaller
 * threshold then plans buckets that fit. */
static void oversizedBucket(void) {
  gcclUniqueId id;
  gcclComm_t comm = NULL;
  gcclGradSync_t sync = NULL;
  gcclGradSyncConfig_t config = GCCL_GRAD_SYNC_CONFIG_INITIALIZER;
  size_t index = 0;
  int t;
  setenv("GCCL_CHUNK_BYTES", "64", 1);
  EXPECT(gcclGetUniqueId(&id) == gcclSuccess);
  EXPECT(gcclCommInitRank(&comm, 1, id, 0) == gcclSuccess);
  unsetenv("GCCL_CHUNK_BYTES");
  EXPECT(gcclGradSyncCreate(comm, &config, &sync) == gcclSuccess);
  for (t = 0; t < 4; ++t) {
    EXPECT(gcclGradSyncRegister(sync, NULL, (size_t)1 << 19, gcclFloat32, &index) == gcclSuccess);
  }
  EXPECT(gcclGradSyncFinalize(sync, NULL, NULL) == gcclInvalidArgument);
  EXPECT(mentions(gcclGetLastError(comm), "GCCL_CHUNK_BYTES"));
  EXPECT(mentions(gcclGetLastError(comm), "bucket 0"));
  EXPECT(gcclGradSyncDestroy(sync) == gcclSuccess);
  config.bucketBytes = (size_t)2 << 20;
  EXPECT(gcclGradSyncCreate(comm, &config, &sync) == gcclSuccess);
  for (t = 0; t < 4; ++t) {
    EXPECT(gcclGradSyncRegister(sync, NULL, (size_t)1 << 19, gcclFloat32, &index) == gcclSuccess);
  }
  EXPECT(gcclGradSyncFinalize(sync, NULL, NULL) == gcclSuccess);
  EXPECT(gcclGradSyncDestroy(sync) == gcclSuccess);
  EXPECT(gcclCommDestroy(comm) == gcclSuccess);
}

int main(void) {
  gcclUniqueId id;
  gcclComm_t comm = NULL;
  RankArgs args[2];
  pthread_t threads[2];
  int r;
  setenv("GCCL_SOCKET_ADDR", "127.0.0.1", 1);
  EXPECT(gcclGetUniqueId(&id) == gcclSuccess);
  EXPECT(gcclCommInitRank(&comm, 1, id, 0) == gcclSuccess);
  configErrors(comm);
  sparseOneRank(comm);
  usageErrors(comm); /* destroys comm */
  EXPECT(gcclGetUniqueId(&id) == gcclSuccess);
  EXPECT(gcclCommInitRank(&comm, 1, id, 0) == gcclSuccess);
  abortedMidStep(comm); /* aborts comm */
  oversizedBucket();

  EXPECT(gcclGetUniqueId(&id) == gcclSuccess);
  for (r = 0; r < 2; ++r) {
    args[r].id = id;
    args[r].rank = r;
    pthread_create(&threads[r], NULL, runRank, &args[r]);
  }
  for (r = 0; r < 2; ++r) pthread_join(threads[r], NULL);

  if (failures == 0) printf("test_grad_sync_c: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
