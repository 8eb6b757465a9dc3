// The C boundary of the gradient sync (lazy/gradient_sync.h). The handle keeps the
// communicator's handle, not the communicator: each call that needs it enters it like any
// collective, so a destroyed or aborted communicator is an error, never a dangling pointer,
// while wait, reset and destroy (which only wait for requests) keep working.
#include <gccl/gccl.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/boundary.h"
#include "api/device_buffers.h"
#include "api/handles.h"
#include "core/collective_call.h"
#include "lazy/gradient_sync.h"

using gccl::GradientSync;
using gccl::GradientSyncOptions;
using gccl::Status;
using gccl::WireFormat;
using gccl::api::guarded;
using gccl::api::HandleCall;
using gccl::api::rawValue;
using gccl::api::requirePointer;

struct gcclGradSync {
  gcclComm* comm;
  uint64_t commSerial;  // comm->serial at create: a new handle at the same address is not ours
  std::unique_ptr<GradientSync> sync;
  size_t maxBucketBytes;  // the most one collective on comm moves (GradientSync::finalize)
  std::mutex lastMutex;   // GetSparseStats may run while another thread waits
  gccl::StepStats last;   // of the last wait(), for gcclGradSyncGetSparseStats
};

namespace {

void sparseOptionsOf(const gcclGradSyncConfig_t& config, gccl::SparseOptions& sparse) {
  sparse.enabled = config.sparse != 0;
  if (config.sparseChunk != 0) sparse.chunkElements = config.sparseChunk;
  sparse.density = config.sparseDensity;
  sparse.warmupSteps = config.sparseWarmupSteps;
  sparse.momentum = config.sparseMomentum;
  const int payload = rawValue(config.sparsePayload);
  if (payload == gcclWireFloat16) {
    sparse.payload = gccl::SparsePayload::kFloat16;
  } else if (payload == gcclWireNone) {
    sparse.payload = gccl::SparsePayload::kFloat32;
  } else {
    gccl::fail(Status::kInvalidArgument, "gradient sync sparsePayload ", payload,
               " is invalid (gcclWireFloat16 or gcclWireNone)");
  }
}

// The sparse figures of a step that ended without any (failed, or reset).
void forgetLastStep(gcclGradSync& sync) {
  std::lock_guard lock(sync.lastMutex);
  sync.last = gccl::StepStats{};
}

GradientSyncOptions optionsOf(const gcclGradSyncConfig_t* config) {
  GradientSyncOptions options;
  if (config == nullptr) return options;
  // Any struct at least as large as version 1's is accepted: newer callers append fields.
  constexpr size_t kVersion1Size = offsetof(gcclGradSyncConfig_t, copyMode) + sizeof(int);
  if (config->magic != GCCL_GRAD_SYNC_CONFIG_MAGIC || config->size < kVersion1Size) {
    gccl::fail(Status::kInvalidArgument, "gradient sync config was not initialized with ",
               "GCCL_GRAD_SYNC_CONFIG_INITIALIZER (bad magic or size)");
  }
  const int compression = rawValue(config->compression);
  if (compression < 0 || compression >= gcclNumWireFormats) {
    gccl::fail(Status::kInvalidArgument, "gradient sync compression ", compression, " is invalid");
  }
  options.thetaBytes = config->bucketBytes;
  if (config->alignment != 0) options.alignment = config->alignment;
  options.wire = static_cast<WireFormat>(compression);
  options.average = config->average != 0;
  options.preDivide = config->preDivide != 0;
  options.copyMode = config->copyMode != 0;
  constexpr size_t kVersion2Size =
      offsetof(gcclGradSyncConfig_t, sparsePayload) + sizeof(gcclWireFormat_t);
  if (config->size >= kVersion2Size) sparseOptionsOf(*config, options.sparse);
  gccl::checkOptions(options);
  return options;
}

// Null for a handle that is not live: its error is then the thread's only.
gcclComm* commOf(gcclGradSync_t sync) {
  return gccl::api::isLiveHandle(sync, gccl::api::HandleKind::kGradientSync) ? sync->comm : nullptr;
}

GradientSync& syncOf(gcclGradSync_t sync) {
  gccl::api::requireLive(sync, gccl::api::HandleKind::kGradientSync, "gradient sync");
  return *sync->sync;
}

}  // namespace

static_assert(static_cast<int>(WireFormat::kFloat16) == gcclWireFloat16);
static_assert(static_cast<int>(WireFormat::kBfloat16) == gcclWireBfloat16);

extern "C" {

gcclResult_t gcclGradSyncCreate(gcclComm_t comm, const gcclGradSyncConfig_t* config,
                                gcclGradSync_t* sync) {
  return guarded(__func__, comm, [&] {
    requirePointer(sync, "sync (output pointer)");
    *sync = nullptr;
    GradientSyncOptions options = optionsOf(config);
    HandleCall call(comm, HandleCall::Admit::kUnlessClosing);
    if (options.copyMode) gccl::api::useDeviceAwareCopies(comm, options);
    const gccl::Communicator& communicator = call.communicator();
    options.shareablePool = communicator.hasZeroCopyPeers();
    auto handle = std::make_unique<gcclGradSync>();
    handle->comm = comm;
    handle->commSerial = comm->serial;
    handle->maxBucketBytes =
        gccl::mostBytesPerCollective(communicator.size(), communicator.config().chunkBytes);
    handle->sync = std::make_unique<GradientSync>(communicator.rank(), communicator.size(),
                                                  waitPolicyOf(communicator.config()), options);
    gccl::api::registerLive(handle.get(), gccl::api::HandleKind::kGradientSync);
    *sync = handle.release();
  });
}

gcclResult_t gcclGradSyncRegister(gcclGradSync_t sync, const char* name, size_t count,
                                  gcclDataType_t datatype, size_t* index) {
  return guarded(__func__, commOf(sync), [&] {
    GradientSync& gradients = syncOf(sync);
    requirePointer(index, "index (output pointer)");
    const int type = rawValue(datatype);
    if (type < 0 || type >= gcclNumTypes) {
      gccl::fail(Status::kInvalidArgument, "datatype ", type, " is invalid");
    }
    *index = gradients.registerTensor(name == nullptr ? std::string() : std::string(name), count,
                                      static_cast<gccl::DataType>(type));
  });
}

gcclResult_t gcclGradSyncFinalize(gcclGradSync_t sync, void** pool, size_t* poolBytes) {
  return guarded(__func__, commOf(sync), [&] {
    GradientSync& gradients = syncOf(sync);
    gradients.finalize(sync->maxBucketBytes);
    if (pool != nullptr) *pool = gradients.pool();
    if (poolBytes != nullptr) *poolBytes = gradients.poolBytes();
  });
}

gcclResult_t gcclGradSyncSetExempt(gcclGradSync_t sync, size_t index) {
  return guarded(__func__, commOf(sync), [&] { syncOf(sync).setExempt(index); });
}

gcclResult_t gcclGradSyncGetSparseStats(gcclGradSync_t sync, size_t* chunksSent, size_t* chunks) {
  return guarded(__func__, commOf(sync), [&] {
    syncOf(sync);
    std::lock_guard lock(sync->lastMutex);
    if (chunksSent != nullptr) *chunksSent = sync->last.sparseChunks;
    if (chunks != nullptr) *chunks = sync->last.sparseChunksTotal;
  });
}

gcclResult_t gcclGradSyncGetTensor(gcclGradSync_t sync, size_t index, void** data) {
  return guarded(__func__, commOf(sync), [&] {
    GradientSync& gradients = syncOf(sync);
    requirePointer(data, "data (output pointer)");
    *data = gradients.tensorData(index);
  });
}

gcclResult_t gcclGradSyncMarkReady(gcclGradSync_t sync, size_t index, void* buffer) {
  return guarded(__func__, commOf(sync), [&] {
    GradientSync& gradients = syncOf(sync);
    std::optional<HandleCall> call;
    try {
      call.emplace(sync->comm, HandleCall::Admit::kUnlessClosing);
      if (sync->comm->serial != sync->commSerial) {
        gccl::fail(Status::kInvalidArgument,
                   "the communicator of this gradient sync was destroyed (a newer one lives at "
                   "its address)");
      }
    } catch (const gccl::Error& e) {
      // No later tensor of this step can be marked: wait() ends the step with this error (and
      // the started buckets'), rather than waiting for marks that cannot come.
      gradients.failStep(e);
      throw;
    }
    gccl::api::finishDeviceCalls(*sync->comm);  // stream-ordered calls made before go first
    gradients.markReady(call->communicator(), index, buffer);
  });
}

gcclResult_t gcclGradSyncWait(gcclGradSync_t sync, gcclGradSyncStats_t* stats) {
  return guarded(__func__, commOf(sync), [&] {
    GradientSync& gradients = syncOf(sync);
    // Inside the communicator like a collective, so that it is not freed under the flags'
    // allreduce (and an abort can still cut that short); once it is destroyed or being
    // destroyed, the step still ends (its requests outlive it).
    std::optional<HandleCall> call;
    try {
      call.emplace(sync->comm, HandleCall::Admit::kUnlessClosing);
    } catch (const gccl::Error&) {
    }
    const bool ours = call && sync->comm->serial == sync->commSerial;
    const uint64_t stepsBefore = gradients.stepsEnded();
    gccl::StepStats step;
    try {
      step = gradients.wait(ours ? &call->communicator() : nullptr);
    } catch (const gccl::Error&) {
      // A wait that ends its step with an error leaves no figures (an earlier step's would
      // pass for this one's); one refused with the step still open keeps the last.
      if (gradients.stepsEnded() != stepsBefore) forgetLastStep(*sync);
      throw;
    }
    {
      std::lock_guard lock(sync->lastMutex);
      sync->last = step;
    }
    if (stats == nullptr) return;
    stats->wireBytes = step.wireBytes;
    stats->buckets = step.buckets;
    stats->nonFinite = step.nonFinite ? 1 : 0;
  });
}

gcclResult_t gcclGradSyncReset(gcclGradSync_t sync) {
  return guarded(__func__, commOf(sync), [&] {
    syncOf(sync).reset();
    forgetLastStep(*sync);
  });
}

gcclResult_t gcclGradSyncDestroy(gcclGradSync_t sync) {
  if (sync == nullptr) return gcclSuccess;
  return guarded(__func__, commOf(sync), [&] {
    gccl::api::takeLive(sync, gccl::api::HandleKind::kGradientSync, "gradient sync");
    delete sync;
  });
}

}  // extern "C"
