// The C boundary for communicators, requests and errors (collectives: collectives_api.cc).
#include <gccl/gccl.h>

#include <cstddef>
#include <cstring>
#include <new>
#include <type_traits>

#include "api/boundary.h"
#include "api/device_buffers.h"
#include "api/handles.h"
#include "base/logging.h"
#include "bootstrap/launch_environment.h"
#include "core/init.h"

using gccl::Error;
using gccl::Status;
using gccl::api::guarded;
using gccl::api::HandleCall;
using gccl::api::rawValue;
using gccl::api::requirePointer;

namespace {

gccl::Config environmentConfig() {
  gccl::Config config = gccl::configFromEnvironment(gccl::processEnvironment());
  gccl::configureLogging(config);
  return config;
}

gccl::Config mergedConfig(const gcclConfig_t* user) {
  gccl::Config config = environmentConfig();
  if (user == nullptr) return config;
  // Any struct at least as large as version 1's is accepted: newer callers append fields.
  constexpr size_t kVersion1Size = offsetof(gcclConfig_t, algorithm) + sizeof(const char*);
  if (user->magic != GCCL_CONFIG_MAGIC || user->size < kVersion1Size) {
    gccl::fail(Status::kInvalidArgument,
               "config was not initialized with GCCL_CONFIG_INITIALIZER (bad magic or size)");
  }
  if (user->timeoutMs < 0) gccl::fail(Status::kInvalidArgument, "config timeoutMs must be >= 0");
  if (user->chunkBytes != 0 && (user->chunkBytes < 64 || user->chunkBytes > (1 << 30))) {
    gccl::fail(Status::kInvalidArgument, "config chunkBytes ", user->chunkBytes,
               " must be 0 (default) or in [64, 2^30]");
  }
  if (user->timeoutMs > 0) config.timeoutMs = user->timeoutMs;
  if (user->chunkBytes > 0) config.chunkBytes = static_cast<size_t>(user->chunkBytes);
  if (user->algorithm != nullptr) config.algorithm = user->algorithm;
  return config;
}

void initRank(gcclComm_t* comm, int nranks, const gcclUniqueId& commId, int rank,
              const gccl::Config& config) {
  requirePointer(comm, "comm (output pointer)");
  *comm = nullptr;
  if (nranks < 1) gccl::fail(Status::kInvalidArgument, "nranks ", nranks, " must be >= 1");
  // Rank 0's bootstrap store serves every rank, and per-rank tables are sized at init: beyond
  // this a job is a mistake (a garbage nranks), not a size gccl's bootstrap can serve.
  constexpr int kMaxRanks = 1 << 20;
  if (nranks > kMaxRanks) {
    gccl::fail(Status::kInvalidArgument, "nranks ", nranks, " exceeds gccl's limit of ", kMaxRanks);
  }
  if (rank < 0 || rank >= nranks) {
    gccl::fail(Status::kInvalidArgument, "rank ", rank, " is out of range [0, ", nranks, ")");
  }
  gccl::setLogRank(rank);
  const gccl::UniqueId id = gccl::decodeUniqueId(commId.internal);
  auto handle = std::make_unique<gcclComm>();
  handle->communicator = gccl::createCommunicator(rank, nranks, id, config);
  gccl::api::registerHandle(handle.get());
  *comm = handle.release();
}

}  // namespace

extern "C" {

gcclResult_t gcclGetVersion(int* version) {
  return guarded(__func__, nullptr, [&] {
    requirePointer(version, "version");
    *version = GCCL_VERSION_CODE;
  });
}

const char* gcclGetErrorString(gcclResult_t result) {
  if (rawValue(result) < 0 || rawValue(result) >= gcclNumResults) return "unknown result code";
  return gccl::statusName(static_cast<Status>(result));
}

const char* gcclGetLastError(gcclComm_t comm) {
  return gccl::api::lastError(comm);
}

gcclResult_t gcclGetUniqueId(gcclUniqueId* uniqueId) {
  return guarded(__func__, nullptr, [&] {
    requirePointer(uniqueId, "uniqueId");
    gccl::encodeUniqueId(gccl::createUniqueId(environmentConfig()), uniqueId->internal);
  });
}

gcclResult_t gcclCommInitRank(gcclComm_t* comm, int nranks, gcclUniqueId commId, int rank) {
  return guarded(__func__, nullptr,
                 [&] { initRank(comm, nranks, commId, rank, environmentConfig()); });
}

gcclResult_t gcclCommInitRankConfig(gcclComm_t* comm, int nranks, gcclUniqueId commId, int rank,
                                    const gcclConfig_t* config) {
  return guarded(__func__, nullptr, [&] {
    requirePointer(comm, "comm (output pointer)");
    *comm = nullptr;  // also when the config is refused: a cleanup may destroy it
    requirePointer(config, "config");
    initRank(comm, nranks, commId, rank, mergedConfig(config));
  });
}

gcclResult_t gcclCommInitFromEnv(gcclComm_t* comm) {
  return guarded(__func__, nullptr, [&] {
    requirePointer(comm, "comm (output pointer)");
    *comm = nullptr;  // also when the launch cannot be resolved: a cleanup may destroy it
    const gccl::Config config = environmentConfig();
    const gccl::LaunchInfo launch = gccl::resolveLaunch(config, gccl::processEnvironment());
    gcclUniqueId id;
    gccl::encodeUniqueId(launch.id, id.internal);
    initRank(comm, launch.size, id, launch.rank, config);
  });
}

gcclResult_t gcclCommSplit(gcclComm_t comm, int color, int key, gcclComm_t* newcomm) {
  return guarded(__func__, comm, [&] {
    requirePointer(newcomm, "newcomm (output pointer)");
    *newcomm = nullptr;
    HandleCall call(comm, HandleCall::Admit::kUnlessClosing);
    gccl::api::finishDeviceCalls(*comm);  // the split's exchange goes after stream-ordered calls
    std::unique_ptr<gccl::Communicator> split;
    try {
      split = call.communicator().split(color, key);
    } catch (const gccl::Error& e) {
      gccl::fail(e.status(), "gcclCommSplit (color ", color, ", key ", key, ") on rank ",
                 call.communicator().rank(), ": ", e.what());
    }
    if (!split) return;  // a negative color: part of no new communicator
    auto handle = std::make_unique<gcclComm>();
    handle->communicator = std::move(split);
    gccl::api::registerHandle(handle.get());
    *newcomm = handle.release();
  });
}

gcclResult_t gcclCommDestroy(gcclComm_t comm) {
  if (comm == nullptr) return gcclSuccess;
  return guarded(__func__, nullptr, [&] {
    {
      HandleCall call(comm, HandleCall::Admit::kUnlessClosing);
      if (!call.claim()) {
        gccl::fail(Status::kInvalidUsage, "communicator ", static_cast<void*>(comm),
                   " is being destroyed or aborted by another thread");
      }
      // Drained while the handle is still registered, so that gcclCommAbort from another
      // thread can still enter and cut the wait short. A stream-ordered call's failure was
      // the communicator's asynchronous error already: destroy frees it all the same.
      // Whatever fails here (out of memory included), the handle claimed must be retired:
      // nobody else can any more.
      try {
        gccl::api::finishDeviceCalls(*comm);
      } catch (...) {
      }
      try {
        call.communicator().drain();
      } catch (...) {
      }
    }
    gccl::api::retire(comm);  // waits for collectives still inside on other threads
  });
}

gcclResult_t gcclCommAbort(gcclComm_t comm) {
  if (comm == nullptr) return gcclSuccess;
  return guarded(__func__, nullptr, [&] {
    bool claimed = false;
    {
      HandleCall call(comm, HandleCall::Admit::kUntilRetired);
      // Aborted before claiming: if the abort cannot even be built (out of memory), the
      // handle stays usable and may be aborted or destroyed again.
      call.communicator().abort("gcclCommAbort was called");
      claimed = call.claim();
    }
    // Calls inside now return within moments: their operations have failed. When a destroy
    // or abort on another thread claimed the handle first, that thread frees it (the abort
    // above has cut its drain short).
    if (claimed) gccl::api::retire(comm);
  });
}

gcclResult_t gcclCommCount(gcclComm_t comm, int* count) {
  return guarded(__func__, comm, [&] {
    requirePointer(count, "count");
    *count = HandleCall(comm, HandleCall::Admit::kUntilRetired).communicator().size();
  });
}

gcclResult_t gcclCommUserRank(gcclComm_t comm, int* rank) {
  return guarded(__func__, comm, [&] {
    requirePointer(rank, "rank");
    *rank = HandleCall(comm, HandleCall::Admit::kUntilRetired).communicator().rank();
  });
}

gcclResult_t gcclCommGetAsyncError(gcclComm_t comm, gcclResult_t* asyncError) {
  return guarded(__func__, comm, [&] {
    requirePointer(asyncError, "asyncError");
    const auto error =
        HandleCall(comm, HandleCall::Admit::kUntilRetired).communicator().asyncError();
    *asyncError = error ? static_cast<gcclResult_t>(error->status()) : gcclSuccess;
    if (error) gccl::api::recordError(comm, error->what());
  });
}

gcclResult_t gcclWait(gcclRequest_t request) {
  return guarded(__func__, nullptr, [&] {
    gccl::api::takeLive(request, gccl::api::HandleKind::kRequest, "request");
    std::unique_ptr<gcclRequest> owned(request);
    owned->request->wait(owned->waits);
    owned->request->rethrow();
  });
}

gcclResult_t gcclTest(gcclRequest_t request, int* done) {
  return guarded(__func__, nullptr, [&] {
    gccl::api::requireLive(request, gccl::api::HandleKind::kRequest, "request");
    requirePointer(done, "done");
    *done = request->request->isDone() ? 1 : 0;
    if (*done == 0) return;
    gccl::api::takeLive(request, gccl::api::HandleKind::kRequest, "request");
    std::unique_ptr<gcclRequest> owned(request);
    owned->request->rethrow();
  });
}

size_t gcclTypeSize(gcclDataType_t datatype) {
  if (rawValue(datatype) < 0 || rawValue(datatype) >= gcclNumTypes) return 0;
  return gccl::dataTypeSize(static_cast<gccl::DataType>(datatype));
}

}  // extern "C"
