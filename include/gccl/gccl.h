/**
 * @file gccl.h
 * @brief gccl: collective communication for deep-learning gradients (C99 API).
 *
 * Every function returns a ::gcclResult_t. On failure, gcclGetLastError() returns a
 * human-readable message naming the rank, the peer and the operation involved.
 * No function blocks forever: waits on peers are bounded by GCCL_TIMEOUT_MS.
 *
 * Threads: gcclCommAbort, gcclCommGetAsyncError, gcclGetLastError, gcclCommCount and
 * gcclCommUserRank may be called from any thread at any moment, also while another thread is
 * blocked in a call on the same communicator. Collectives on one communicator must be issued
 * by one thread at a time (docs/api.md, "Threads").
 */
#ifndef GCCL_GCCL_H_
#define GCCL_GCCL_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GCCL_MAJOR 0
#define GCCL_MINOR 1
#define GCCL_PATCH 0
/** Version as one integer: major * 10000 + minor * 100 + patch. */
#define GCCL_VERSION_CODE (GCCL_MAJOR * 10000 + GCCL_MINOR * 100 + GCCL_PATCH)

#if defined(__GNUC__)
#define GCCL_EXPORT __attribute__((visibility("default")))
#else
#define GCCL_EXPORT
#endif

/** Result of every gccl call. */
typedef enum {
  gcclSuccess = 0,         /**< The call completed. */
  gcclInvalidArgument = 1, /**< A null pointer, bad size, bad datatype/op or out-of-range rank. */
  gcclInvalidUsage = 2,  /**< Wrong call order, or a collective that does not match on all ranks. */
  gcclSystemError = 3,   /**< The operating system refused (socket, memory, thread). */
  gcclRemoteError = 4,   /**< A peer died, closed its connection or sent a malformed message. */
  gcclTimeout = 5,       /**< A peer stopped answering for GCCL_TIMEOUT_MS. */
  gcclInternalError = 6, /**< A bug in gccl; please report it with the message. */
  gcclInProgress = 7,    /**< A non-blocking operation has not completed yet (gcclTest). */
  gcclNumResults = 8
} gcclResult_t;

/** Element types. Half types are IEEE binary16 and bfloat16, reduced in fp32. */
typedef enum {
  gcclInt8 = 0,
  gcclUint8 = 1,
  gcclInt32 = 2,
  gcclUint32 = 3,
  gcclInt64 = 4,
  gcclUint64 = 5,
  gcclFloat16 = 6,
  gcclBfloat16 = 7,
  gcclFloat32 = 8,
  gcclFloat64 = 9,
  gcclNumTypes = 10
} gcclDataType_t;

/** Reduction operations. Avg is a sum followed by one division by the rank count. */
typedef enum {
  gcclSum = 0,
  gcclProd = 1,
  gcclMin = 2,
  gcclMax = 3,
  gcclAvg = 4,
  gcclNumOps = 5
} gcclRedOp_t;

/** Opaque communicator handle. */
typedef struct gcclComm* gcclComm_t;
/** Opaque handle of a non-blocking operation. */
typedef struct gcclRequest* gcclRequest_t;

#define GCCL_UNIQUE_ID_BYTES 128
/** Rendezvous token: the root's address and a random job secret. Share it out of band. */
typedef struct {
  char internal[GCCL_UNIQUE_ID_BYTES];
} gcclUniqueId;

#define GCCL_CONFIG_MAGIC 0x6763636cu /* "gccl" */
/**
 * Per-communicator settings. Always start from GCCL_CONFIG_INITIALIZER: fields left at
 * their initial value fall back to the GCCL_* environment, then to the built-in default.
 */
typedef struct {
  size_t size;           /**< sizeof(gcclConfig_t), set by the initializer. */
  unsigned int magic;    /**< GCCL_CONFIG_MAGIC, set by the initializer. */
  unsigned int version;  /**< GCCL_VERSION_CODE, set by the initializer. */
  int timeoutMs;         /**< Peer silence that becomes gcclTimeout; 0 = GCCL_TIMEOUT_MS. */
  int chunkBytes;        /**< Pipeline slice size in bytes; 0 = GCCL_CHUNK_BYTES. */
  const char* algorithm; /**< "ring", ...; NULL = GCCL_ALGO or automatic. */
} gcclConfig_t;

#define GCCL_CONFIG_INITIALIZER \
  { sizeof(gcclConfig_t), GCCL_CONFIG_MAGIC, GCCL_VERSION_CODE, 0, 0, NULL }

/** @brief Writes the library version (GCCL_VERSION_CODE layout) to @p version. */
GCCL_EXPORT gcclResult_t gcclGetVersion(int* version);

/** @brief Returns a static string describing @p result. Never NULL. */
GCCL_EXPORT const char* gcclGetErrorString(gcclResult_t result);

/**
 * @brief Returns the message of the last failed call on @p comm (from any thread), or of the
 * calling thread's last failed call when @p comm is NULL (e.g. a failed init) or no longer
 * live (destroyed or aborted). Empty string if none. Safe from any thread at any moment: the
 * text is copied into a buffer of the calling thread, so the pointer stays valid until that
 * thread's next gccl call, whatever other threads do.
 */
GCCL_EXPORT const char* gcclGetLastError(gcclComm_t comm);

/**
 * @brief Allocates @p size bytes (nonzero) of host memory that the other ranks of this machine
 * can map: a collective whose buffers come from here goes zero-copy over shared memory (a peer
 * reads or reduces straight out of them, instead of copying through the kernel). Any buffer
 * works with every call; these are only faster. Zeroed, page aligned. Free with gcclMemFree.
 * Like NCCL's ncclMemAlloc. A child process forked afterwards shares the memory, not a copy.
 */
GCCL_EXPORT gcclResult_t gcclMemAlloc(void** ptr, size_t size);

/** @brief Frees what gcclMemAlloc returned; NULL is a no-op. Not while a collective uses it. */
GCCL_EXPORT gcclResult_t gcclMemFree(void* ptr);

/**
 * @brief Creates a unique id on the root rank: starts nothing yet, but reserves the root's
 * address (GCCL_SOCKET_ADDR or the host's first non-loopback IPv4, else 127.0.0.1, with port
 * GCCL_ROOT_PORT or an ephemeral one) and draws a random job token. The reservations of the last
 * 8 ids made in a process are kept; an older id still works, but its port is bound again by
 * rank 0's init and could have been taken meanwhile.
 */
GCCL_EXPORT gcclResult_t gcclGetUniqueId(gcclUniqueId* uniqueId);

/**
 * @brief Joins the communicator described by @p commId as @p rank of @p nranks.
 * Collective: all ranks must call it. Rank 0 serves the bootstrap store.
 */
GCCL_EXPORT gcclResult_t gcclCommInitRank(gcclComm_t* comm, int nranks, gcclUniqueId commId,
                                          int rank);

/** @brief Like gcclCommInitRank with explicit settings (see ::gcclConfig_t). */
GCCL_EXPORT gcclResult_t gcclCommInitRankConfig(gcclComm_t* comm, int nranks, gcclUniqueId commId,
                                                int rank, const gcclConfig_t* config);

/**
 * @brief Joins a communicator described by the environment: GCCL_RANK/GCCL_WORLD_SIZE/
 * GCCL_ROOT_ADDR/GCCL_ROOT_PORT, torchrun's RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT, Open MPI's
 * OMPI_COMM_WORLD_RANK/SIZE or Slurm's SLURM_PROCID/SLURM_NTASKS. The root address comes from
 * GCCL_ROOT_ADDR or MASTER_ADDR (127.0.0.1 when OMPI_COMM_WORLD_LOCAL_SIZE or
 * SLURM_NTASKS_PER_NODE says every rank is on this host), the store's port from GCCL_ROOT_PORT,
 * else MASTER_PORT + 1, else 29511. The job token is GCCL_JOB_TOKEN when set.
 */
GCCL_EXPORT gcclResult_t gcclCommInitFromEnv(gcclComm_t* comm);

/**
 * @brief Splits @p comm (MPI_Comm_split): collective over @p comm. Ranks that pass the same
 * @p color >= 0 form a new communicator, ranked by @p key and then by their rank in @p comm;
 * a negative color is part of none (@p newcomm is set to NULL). The new communicator needs no
 * rendezvous from the caller (it meets in @p comm's bootstrap store) and is independent of
 * @p comm afterwards: both may be used concurrently, and destroyed in any order.
 */
GCCL_EXPORT gcclResult_t gcclCommSplit(gcclComm_t comm, int color, int key, gcclComm_t* newcomm);

/**
 * @brief Waits for outstanding operations, then frees @p comm. NULL is accepted.
 * Collectives started on other threads afterwards fail with gcclInvalidUsage; one already
 * running on another thread is waited for (bounded by GCCL_TIMEOUT_MS). gcclCommAbort from
 * another thread cuts the wait short. Returns gcclInvalidUsage, freeing nothing, when another
 * thread is already destroying or aborting @p comm.
 */
GCCL_EXPORT gcclResult_t gcclCommDestroy(gcclComm_t comm);

/**
 * @brief Fails every outstanding operation with gcclRemoteError/gcclInvalidUsage, closes
 * connections without waiting for peers, and frees @p comm. NULL is accepted.
 * Safe from any thread at any moment (a watchdog): a call blocked on @p comm in another thread
 * returns within milliseconds with gcclInvalidUsage and "aborted" in its message (a peer that
 * does not read its failure notice adds up to 100 ms per connection), and @p comm is freed
 * only once every call inside it has returned. Outstanding requests stay valid for
 * gcclWait/gcclTest. When another thread is already destroying or aborting @p comm, this call
 * cuts that short and leaves the freeing to it.
 */
GCCL_EXPORT gcclResult_t gcclCommAbort(gcclComm_t comm);

/** @brief Writes the number of ranks of @p comm to @p count. */
GCCL_EXPORT gcclResult_t gcclCommCount(gcclComm_t comm, int* count);

/** @brief Writes the rank of the caller in @p comm to @p rank. */
GCCL_EXPORT gcclResult_t gcclCommUserRank(gcclComm_t comm, int* rank);

/**
 * @brief Writes the error raised in the background (progress thread) to @p asyncError, or
 * gcclSuccess if none. Does not block. Safe from any thread at any moment.
 */
GCCL_EXPORT gcclResult_t gcclCommGetAsyncError(gcclComm_t comm, gcclResult_t* asyncError);

/**
 * @brief Reduces @p count elements of @p sendbuf across all ranks into @p recvbuf on every
 * rank and returns when done. In place when sendbuf == recvbuf. Buffers may not overlap
 * otherwise.
 */
GCCL_EXPORT gcclResult_t gcclAllReduce(const void* sendbuf, void* recvbuf, size_t count,
                                       gcclDataType_t datatype, gcclRedOp_t op, gcclComm_t comm);

/**
 * @brief Starts the same operation as gcclAllReduce and returns at once with @p request.
 * Buffers must stay valid and untouched until gcclWait or a successful gcclTest.
 * Operations on one communicator complete in the order they were started.
 */
GCCL_EXPORT gcclResult_t gcclAllReduceAsync(const void* sendbuf, void* recvbuf, size_t count,
                                            gcclDataType_t datatype, gcclRedOp_t op,
                                            gcclComm_t comm, gcclRequest_t* request);

/**
 * @brief Copies @p count elements of @p sendbuf on rank @p root into @p recvbuf on every rank.
 * @p sendbuf is read on the root only (NULL elsewhere is fine); in place when the root passes
 * sendbuf == recvbuf. A root out of [0, nranks) is gcclInvalidArgument; ranks that disagree on
 * the count fail with gcclInvalidUsage. Ranks that disagree on the root fail where data crosses
 * the disagreement: a rank that wrongly believes it is the root receives nothing in this call
 * and returns with its own data, and learns of it in its next call (docs/api.md).
 */
GCCL_EXPORT gcclResult_t gcclBroadcast(const void* sendbuf, void* recvbuf, size_t count,
                                       gcclDataType_t datatype, int root, gcclComm_t comm);
/** @brief gcclBroadcast started as a request (see gcclAllReduceAsync). */
GCCL_EXPORT gcclResult_t gcclBroadcastAsync(const void* sendbuf, void* recvbuf, size_t count,
                                            gcclDataType_t datatype, int root, gcclComm_t comm,
                                            gcclRequest_t* request);

/**
 * @brief Reduces @p count elements of every rank's @p sendbuf into @p recvbuf on rank @p root.
 * @p recvbuf is written on the root only (NULL elsewhere is fine); in place when the root
 * passes sendbuf == recvbuf. No rank's @p sendbuf is modified.
 */
GCCL_EXPORT gcclResult_t gcclReduce(const void* sendbuf, void* recvbuf, size_t count,
                                    gcclDataType_t datatype, gcclRedOp_t op, int root,
                                    gcclComm_t comm);
/** @brief gcclReduce started as a request (see gcclAllReduceAsync). */
GCCL_EXPORT gcclResult_t gcclReduceAsync(const void* sendbuf, void* recvbuf, size_t count,
                                         gcclDataType_t datatype, gcclRedOp_t op, int root,
                                         gcclComm_t comm, gcclRequest_t* request);

/**
 * @brief Gathers @p sendcount elements from every rank: @p recvbuf (nranks x sendcount
 * elements) holds rank r's @p sendbuf at element r x sendcount, on every rank. In place when
 * sendbuf == recvbuf + rank x sendcount (in elements).
 */
GCCL_EXPORT gcclResult_t gcclAllGather(const void* sendbuf, void* recvbuf, size_t sendcount,
                                       gcclDataType_t datatype, gcclComm_t comm);
/** @brief gcclAllGather started as a request (see gcclAllReduceAsync). */
GCCL_EXPORT gcclResult_t gcclAllGatherAsync(const void* sendbuf, void* recvbuf, size_t sendcount,
                                            gcclDataType_t datatype, gcclComm_t comm,
                                            gcclRequest_t* request);

/**
 * @brief Allgather of blocks of different lengths (Horovod's allgather): rank r contributes
 * recvcounts[r] elements, which land at element displs[r] of @p recvbuf on every rank.
 * @p recvcounts and @p displs hold one entry per rank and must be the same on every rank (a
 * difference is gcclInvalidUsage); @p sendcount must equal recvcounts[rank]; blocks may not
 * overlap. In place when sendbuf == recvbuf + displs[rank] (in elements).
 */
GCCL_EXPORT gcclResult_t gcclAllGatherV(const void* sendbuf, size_t sendcount, void* recvbuf,
                                        const size_t* recvcounts, const size_t* displs,
                                        gcclDataType_t datatype, gcclComm_t comm);
/** @brief gcclAllGatherV started as a request (see gcclAllReduceAsync). */
GCCL_EXPORT gcclResult_t gcclAllGatherVAsync(const void* sendbuf, size_t sendcount, void* recvbuf,
                                             const size_t* recvcounts, const size_t* displs,
                                             gcclDataType_t datatype, gcclComm_t comm,
                                             gcclRequest_t* request);

/**
 * @brief Reduces nranks x @p recvcount elements of every rank's @p sendbuf and leaves block r
 * (recvcount elements at r x recvcount) of the result in rank r's @p recvbuf. In place when
 * recvbuf == sendbuf + rank x recvcount (in elements); @p sendbuf is otherwise not modified.
 */
GCCL_EXPORT gcclResult_t gcclReduceScatter(const void* sendbuf, void* recvbuf, size_t recvcount,
                                           gcclDataType_t datatype, gcclRedOp_t op,
                                           gcclComm_t comm);
/** @brief gcclReduceScatter started as a request (see gcclAllReduceAsync). */
GCCL_EXPORT gcclResult_t gcclReduceScatterAsync(const void* sendbuf, void* recvbuf,
                                                size_t recvcount, gcclDataType_t datatype,
                                                gcclRedOp_t op, gcclComm_t comm,
                                                gcclRequest_t* request);

/**
 * @brief Exchanges a block of @p count elements with every rank: @p sendbuf holds nranks
 * blocks, block p for rank p (at element p x count); @p recvbuf (nranks x count elements) gets
 * rank p's block for this rank at element p x count. Every rank passes the same @p count. In
 * place when sendbuf == recvbuf (then through a copy of the buffer in gccl's work memory);
 * other overlaps are gcclInvalidArgument.
 */
GCCL_EXPORT gcclResult_t gcclAllToAll(const void* sendbuf, void* recvbuf, size_t count,
                                      gcclDataType_t datatype, gcclComm_t comm);
/** @brief gcclAllToAll started as a request (see gcclAllReduceAsync). */
GCCL_EXPORT gcclResult_t gcclAllToAllAsync(const void* sendbuf, void* recvbuf, size_t count,
                                           gcclDataType_t datatype, gcclComm_t comm,
                                           gcclRequest_t* request);

/**
 * @brief All-to-all of blocks of any length (MPI_Alltoallv): sendcounts[p] elements at element
 * sdispls[p] of @p sendbuf go to rank p, and rank p's block for this rank, recvcounts[p]
 * elements, lands at element rdispls[p] of @p recvbuf. Each array holds one entry per rank;
 * sendcounts[p] on this rank must equal recvcounts[this rank] on rank p (a difference is
 * gcclInvalidUsage on both); received blocks may not overlap. In place when sendbuf ==
 * recvbuf (MPI_IN_PLACE's meaning): each received block replaces the block sent to that rank,
 * @p sendcounts and @p sdispls are ignored (may be NULL). Up to 1024 ranks. Up to 16 ranks,
 * on any hosts, each block goes straight to its rank; above (or with
 * GCCL_ALGO=recursive_doubling) every rank first gathers every pair's count and the blocks
 * travel through relays (Bruck's); a pair whose counts disagree then fails the call on every
 * rank with gcclInvalidUsage, naming the pair, and blocks too large for GCCL_CHUNK_BYTES
 * slices with gcclInvalidArgument, before any block moves. Above 1024 ranks every rank
 * refuses it with gcclInvalidUsage. Device buffers: as every collective (below), after an
 * allreduce of the ranks' longest block, which sets how many slices every rank stages; a
 * disagreeing pair then aborts the communicator. Every rank passes device buffers (a rank with
 * nothing to move and NULL buffers takes gcclAllToAllVOnStream). docs/api.md.
 */
GCCL_EXPORT gcclResult_t gcclAllToAllV(const void* sendbuf, const size_t* sendcounts,
                                       const size_t* sdispls, void* recvbuf,
                                       const size_t* recvcounts, const size_t* rdispls,
                                       gcclDataType_t datatype, gcclComm_t comm);
/** @brief gcclAllToAllV started as a request (see gcclAllReduceAsync). */
GCCL_EXPORT gcclResult_t gcclAllToAllVAsync(const void* sendbuf, const size_t* sendcounts,
                                            const size_t* sdispls, void* recvbuf,
                                            const size_t* recvcounts, const size_t* rdispls,
                                            gcclDataType_t datatype, gcclComm_t comm,
                                            gcclRequest_t* request);

/** @brief Returns once every rank of @p comm has entered the barrier. */
GCCL_EXPORT gcclResult_t gcclBarrier(gcclComm_t comm);
/** @brief gcclBarrier started as a request (see gcclAllReduceAsync). */
GCCL_EXPORT gcclResult_t gcclBarrierAsync(gcclComm_t comm, gcclRequest_t* request);

/**
 * @name Device buffers (CUDA)
 * Every collective above also takes CUDA device memory, told from host memory per call. Both
 * buffers of a call are then device memory (for their whole length); they travel through a
 * bounded pinned host staging area in slices (GCCL_GPU_STAGING_BYTES, GCCL_GPU_SLICE_BYTES),
 * copies overlapping the wire. The blocking forms start after the work queued on the legacy
 * default stream (and so on every blocking stream) and return once the result is in device
 * memory. The Async forms take host buffers only (gcclInvalidUsage otherwise).
 *
 * The OnStream forms order the call on @p stream, a cudaStream_t passed as void* so that this
 * header needs no CUDA header (NULL: the legacy default stream), as NCCL does: the call
 * starts after the work already queued on the stream, later work on the stream sees its result,
 * and the function returns at once (or, on a GPU without stream memory operations, once the
 * call is done). Argument errors are returned at once; a failure later in the call is the
 * communicator's asynchronous error (gcclCommGetAsyncError) and fails the next call on it.
 * A host-buffer call (and gcclCommSplit, gcclGradSyncMarkReady) waits for the stream-ordered
 * calls made before it to finish. A stream capturing a CUDA graph is gcclInvalidUsage. A
 * communicator serves one device: that of its first device call's buffers.
 * A gccl built without CUDA returns gcclSystemError for a device buffer. docs/api.md, "GPU
 * buffers".
 * @{
 */
GCCL_EXPORT gcclResult_t gcclAllReduceOnStream(const void* sendbuf, void* recvbuf, size_t count,
                                               gcclDataType_t datatype, gcclRedOp_t op,
                                               gcclComm_t comm, void* stream);
GCCL_EXPORT gcclResult_t gcclBroadcastOnStream(const void* sendbuf, void* recvbuf, size_t count,
                                               gcclDataType_t datatype, int root, gcclComm_t comm,
                                               void* stream);
GCCL_EXPORT gcclResult_t gcclReduceOnStream(const void* sendbuf, void* recvbuf, size_t count,
                                            gcclDataType_t datatype, gcclRedOp_t op, int root,
                                            gcclComm_t comm, void* stream);
GCCL_EXPORT gcclResult_t gcclAllGatherOnStream(const void* sendbuf, void* recvbuf, size_t sendcount,
                                               gcclDataType_t datatype, gcclComm_t comm,
                                               void* stream);
GCCL_EXPORT gcclResult_t gcclAllGatherVOnStream(const void* sendbuf, size_t sendcount,
                                                void* recvbuf, const size_t* recvcounts,
                                                const size_t* displs, gcclDataType_t datatype,
                                                gcclComm_t comm, void* stream);
GCCL_EXPORT gcclResult_t gcclReduceScatterOnStream(const void* sendbuf, void* recvbuf,
                                                   size_t recvcount, gcclDataType_t datatype,
                                                   gcclRedOp_t op, gcclComm_t comm, void* stream);
GCCL_EXPORT gcclResult_t gcclAllToAllOnStream(const void* sendbuf, void* recvbuf, size_t count,
                                              gcclDataType_t datatype, gcclComm_t comm,
                                              void* stream);
GCCL_EXPORT gcclResult_t gcclAllToAllVOnStream(const void* sendbuf, const size_t* sendcounts,
                                               const size_t* sdispls, void* recvbuf,
                                               const size_t* recvcounts, const size_t* rdispls,
                                               gcclDataType_t datatype, gcclComm_t comm,
                                               void* stream);
/** @} */

/** @brief Blocks until @p request completes, returns its result and frees it. */
GCCL_EXPORT gcclResult_t gcclWait(gcclRequest_t request);

/**
 * @brief Polls @p request: writes 1 to @p done and frees the request once it completed
 * (returning its result); otherwise writes 0 and returns gcclSuccess.
 */
GCCL_EXPORT gcclResult_t gcclTest(gcclRequest_t request, int* done);

/* ---------------------------------------------------------------------------------------------
 * Gradient sync: lazy, bucketed allreduce of a model's gradients (docs/api.md, "Gradient sync").
 *
 *   create -> register (backward order) ... -> finalize -> per step: markReady ... -> wait
 *
 * The gradients live in one contiguous pool of aligned views (or, in copy mode, in the
 * framework's own buffers, copied through the pool). A static plan groups them into buckets of
 * about bucketBytes; a bucket starts as an asynchronous allreduce once its gradients and every
 * earlier bucket are marked ready, so the collectives are the same on every rank whatever order
 * gradients arrive in, and overlap the rest of backward.
 * ------------------------------------------------------------------------------------------- */

/** Opaque gradient sync handle. */
typedef struct gcclGradSync* gcclGradSync_t;

/** How fp32 gradients travel: as they are, or encoded to 16 bits (accumulated in fp32). */
typedef enum {
  gcclWireNone = 0,
  gcclWireFloat16 = 1,
  gcclWireBfloat16 = 2,
  gcclNumWireFormats = 3
} gcclWireFormat_t;

#define GCCL_GRAD_SYNC_CONFIG_MAGIC 0x67726164u /* "grad" */
/** Gradient sync settings. Always start from GCCL_GRAD_SYNC_CONFIG_INITIALIZER. */
typedef struct {
  size_t size;                  /**< sizeof(gcclGradSyncConfig_t), set by the initializer. */
  unsigned int magic;           /**< GCCL_GRAD_SYNC_CONFIG_MAGIC, set by the initializer. */
  unsigned int version;         /**< GCCL_VERSION_CODE, set by the initializer. */
  size_t bucketBytes;           /**< Threshold theta: a bucket closes at the first gradient
                                     where its span reaches it; 0 = one bucket per gradient.
                                     Default 25 MiB. */
  size_t alignment;             /**< Of each gradient's offset in the pool, a power of 2 up to
                                     4096; 0 = 64 (the default). */
  gcclWireFormat_t compression; /**< fp32 buckets on the wire; default gcclWireNone. */
  int average;                  /**< Nonzero (default): divide the sum by nranks. */
  int preDivide;                /**< Nonzero: divide by nranks before the allreduce (needs
                                     average), so that loss-scaled fp16 sums stay in range;
                                     integer gradients are divided after the sum. */
  int copyMode;                 /**< Nonzero: gradients stay in the caller's buffers, given to
                                     gcclGradSyncMarkReady and written back by gcclGradSyncWait.
                                     A buffer may be CUDA device memory: copied in after the
                                     work queued on the legacy default stream, back in wait. */
  /* Revision 2 (recognised by size: a revision-1 struct still works, sparse off). Sparse
   * gradients, coarse-grained with error feedback (docs/api.md, "Sparse gradients"). */
  int sparse;                     /**< Nonzero: fp32 buckets send only their largest chunks and
                                       keep the rest in a residual; default 0 (dense). */
  size_t sparseChunk;             /**< Chunk size C in elements; 0 = 1024 (the default). */
  double sparseDensity;           /**< rho in (0, 1]: ceil(rho K) of a bucket's K chunks are sent
                                       per step (plus exempt ones); default 0.01. */
  size_t sparseWarmupSteps;       /**< W: the first W steps are dense; default 0. */
  float sparseMomentum;           /**< m in [0, 1): momentum correction when > 0; default 0. */
  gcclWireFormat_t sparsePayload; /**< gcclWireFloat16 (default) or gcclWireNone (fp32). */
} gcclGradSyncConfig_t;

#define GCCL_GRAD_SYNC_CONFIG_INITIALIZER                                                    \
  {                                                                                          \
    sizeof(gcclGradSyncConfig_t), GCCL_GRAD_SYNC_CONFIG_MAGIC, GCCL_VERSION_CODE,            \
        (size_t)25 << 20, 64, gcclWireNone, 1, 0, 0, 0, 1024, 0.01, 0, 0.0f, gcclWireFloat16 \
  }

/** What one step did: the same on every rank. */
typedef struct {
  size_t wireBytes; /**< Bytes this rank handed to allreduce, in the wire format (a ring sends
                         2 (n-1)/n of them). */
  size_t buckets;   /**< Buckets reduced (a sparse bucket issues two allreduces). */
  int nonFinite;    /**< 1 if any reduced gradient is inf or NaN (an fp16 overflow included):
                         every rank sees the same value, so all can skip the same step. */
} gcclGradSyncStats_t;

/**
 * @brief Creates a gradient sync on @p comm (NULL @p config: the defaults). The handle outlives
 * the communicator: after it is destroyed or aborted, markReady fails, while wait, reset and
 * destroy still work. A bad config is gcclInvalidArgument.
 */
GCCL_EXPORT gcclResult_t gcclGradSyncCreate(gcclComm_t comm, const gcclGradSyncConfig_t* config,
                                            gcclGradSync_t* sync);

/**
 * @brief Registers the next gradient in backward order (the order backward produces them) and
 * writes its index (0, 1, ...) to @p index. @p name may be NULL; a name registered before is
 * gcclInvalidArgument. After gcclGradSyncFinalize: gcclInvalidUsage. Every rank must register
 * the same gradients in the same order.
 */
GCCL_EXPORT gcclResult_t gcclGradSyncRegister(gcclGradSync_t sync, const char* name, size_t count,
                                              gcclDataType_t datatype, size_t* index);

/**
 * @brief Lays out the pool and plans the buckets; writes the pool's address and size when
 * @p pool / @p poolBytes are not NULL. The pool is zeroed; its padding must stay zero. Once.
 */
GCCL_EXPORT gcclResult_t gcclGradSyncFinalize(gcclGradSync_t sync, void** pool, size_t* poolBytes);

/**
 * @brief Sparse mode: gradient @p index is always sent whole (biases, norm weights). Between
 * register and finalize (after finalize: gcclInvalidUsage); an unknown index is
 * gcclInvalidArgument. Every rank must mark the same gradients. No effect in dense mode.
 */
GCCL_EXPORT gcclResult_t gcclGradSyncSetExempt(gcclGradSync_t sync, size_t index);

/**
 * @brief Sparse mode: of the last step completed by gcclGradSyncWait, the chunks sent and the
 * chunks there were, summed over the sparse buckets (both 0 in dense and warm-up steps, and
 * after a step that failed or was reset); the same on every rank. Either pointer may be NULL.
 */
GCCL_EXPORT gcclResult_t gcclGradSyncGetSparseStats(gcclGradSync_t sync, size_t* chunksSent,
                                                    size_t* chunks);

/** @brief Writes the address of gradient @p index in the pool (after finalize) to @p data. */
GCCL_EXPORT gcclResult_t gcclGradSyncGetTensor(gcclGradSync_t sync, size_t index, void** data);

/**
 * @brief Gradient @p index is written for this step. View mode: @p buffer is NULL (or the
 * gradient's view). Copy mode: @p buffer holds the gradient; it is copied now and the result is
 * written back into it by gcclGradSyncWait, so it must stay valid until then. Starts every
 * bucket that became ready, in plan order, and returns without waiting. Before finalize, or
 * twice in one step: gcclInvalidUsage; an unknown index or a bad buffer: gcclInvalidArgument.
 */
GCCL_EXPORT gcclResult_t gcclGradSyncMarkReady(gcclGradSync_t sync, size_t index, void* buffer);

/**
 * @brief Waits until every bucket is reduced (averaged, decoded, copied back) and begins the
 * next step; writes the step's figures to @p stats when not NULL. Before every gradient was
 * marked ready: gcclInvalidUsage, and nothing changes, unless a bucket failed to start in
 * markReady or markReady was refused because the communicator is gone (destroyed, aborted):
 * that error then ends the step. A failed allreduce returns its error after every
 * bucket has finished, and the step is over. Where the ranks combine their flags (copy mode,
 * large dense steps: docs/api.md), a step that failed on one rank fails on all of them.
 */
GCCL_EXPORT gcclResult_t gcclGradSyncWait(gcclGradSync_t sync, gcclGradSyncStats_t* stats);

/**
 * @brief Abandons the current step: waits for the buckets in flight and forgets which
 * gradients were marked ready; in sparse mode, also zeroes every residual (the warm-up is not
 * repeated). Every rank must reset at the same point, having started the same buckets: the
 * ranks' later collectives would otherwise pair up wrongly.
 */
GCCL_EXPORT gcclResult_t gcclGradSyncReset(gcclGradSync_t sync);

/** @brief Waits for the buckets in flight, then frees @p sync. NULL is accepted. */
GCCL_EXPORT gcclResult_t gcclGradSyncDestroy(gcclGradSync_t sync);

/** @brief Returns the size in bytes of one element of @p datatype, or 0 if invalid. */
GCCL_EXPORT size_t gcclTypeSize(gcclDataType_t datatype);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GCCL_GCCL_H_ */
