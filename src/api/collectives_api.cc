// The C entry points of the collectives: each builds a CollectiveCall and runs it, blocking, as
// a request, or on a stream; calls with device buffers go through the staging path. Argument rules
// are the core's (core/collective_call.cc); only what C can get wrong beyond them (enum values,
// NULL arrays, counts that disagree) is checked here.
#include <gccl/gccl.h>

#include <memory>
#include <vector>

#include "api/boundary.h"
#include "api/device_buffers.h"
#include "api/handles.h"
#include "base/error.h"
#include "core/collective_call.h"

using gccl::CollectiveCall;
using gccl::CollectiveKind;
using gccl::Status;
using gccl::api::checkTypeAndOp;
using gccl::api::guarded;
using gccl::api::HandleCall;
using gccl::api::rawValue;
using gccl::api::requirePointer;

namespace {

// The enum arguments as the integers the caller passed (see rawValue: a C caller may pass any
// value, and loading an out-of-range enum is undefined in C++), checked; collectives without
// an op pass gcclSum.
CollectiveCall callOf(const gccl::Communicator& communicator, CollectiveKind kind,
                      const void* sendbuf, void* recvbuf, size_t count, int datatype, int op,
                      int root = 0) {
  try {
    checkTypeAndOp(datatype, op);
  } catch (const gccl::Error& e) {
    gccl::fail(e.status(), gccl::collectiveName(kind), " on rank ", communicator.rank(), ": ",
               e.what());
  }
  CollectiveCall call;
  call.kind = kind;
  call.input = sendbuf;
  call.output = recvbuf;
  call.count = count;
  call.type = static_cast<gccl::DataType>(datatype);
  call.op = static_cast<gccl::ReduceOp>(op);
  call.root = root;
  return call;
}

enum class Form {
  kBlocking,  // gcclAllReduce
  kAsync,     // gcclAllReduceAsync: host buffers only
  kOnStream,  // gcclAllReduceOnStream: device buffers only
};

// The device path: the staging pipeline, in the order of the caller's stream.
void runOnDevice(gcclComm& comm, const CollectiveCall& call, Form form, void* stream) {
  if (form == Form::kAsync) {
    gccl::fail(Status::kInvalidUsage, gccl::collectiveName(call.kind), " on rank ",
               comm.communicator->rank(),
               ": the Async form takes host buffers; device buffers take the blocking form or the "
               "OnStream form");
  }
  // The arguments first, as for host buffers (the staging checks them again, with its device
  // ranges): a machine without a GPU must not hide a bad root or a NULL buffer behind its own.
  const gccl::Communicator& communicator = *comm.communicator;
  gccl::checkCall(call, communicator.rank(), communicator.size(),
                  communicator.config().gpuSliceBytes);
  gccl::DeviceCollectives* device = nullptr;
  try {
    device = &gccl::api::deviceCollectives(comm, call);
  } catch (const gccl::Error& e) {
    gccl::fail(e.status(), gccl::collectiveName(call.kind), " on rank ", communicator.rank(),
               ": device buffers: ", e.what());
  }
  if (form == Form::kOnStream) {
    device->enqueue(call, stream);
  } else {
    device->run(call, nullptr);
  }
}

// Runs the call `describe` builds (once the handle is known to be live) in `form`: to
// completion, as a request handed back in `request`, or on `stream`.
template <typename Describe>
gcclResult_t run(const char* entry, gcclComm_t comm, Form form, gcclRequest_t* request,
                 void* stream, Describe&& describe) {
  return guarded(entry, comm, [&] {
    if (form == Form::kAsync) {
      requirePointer<gcclRequest_t>(request, "request (output pointer)");
      *request = nullptr;
    }
    HandleCall handle(comm, HandleCall::Admit::kUnlessClosing);
    const CollectiveCall call = describe(handle.communicator());
    const gccl::api::DeviceState device = gccl::api::deviceState(*comm);
    if (form == Form::kOnStream || device.holdsBufferOf(call)) {
      runOnDevice(*comm, call, form, stream);
      return;
    }
    device.finishEarlierCalls();  // stream-ordered calls made before this one go first
    if (form == Form::kBlocking) {
      handle.communicator().start(call, true)->rethrow();
      return;
    }
    // Allocated and registered first: once started, the operation must reach the caller.
    auto owned = std::make_unique<gcclRequest>();
    owned->waits = gccl::waitPolicyOf(handle.communicator().config());
    gccl::api::registerLive(owned.get(), gccl::api::HandleKind::kRequest);
    try {
      owned->request = handle.communicator().start(call, false);
    } catch (...) {
      gccl::api::unregisterLive(owned.get());
      throw;
    }
    *request = owned.release();
  });
}

template <typename Describe>
gcclResult_t runBlocking(const char* entry, gcclComm_t comm, Describe&& describe) {
  return run(entry, comm, Form::kBlocking, nullptr, nullptr, std::forward<Describe>(describe));
}

template <typename Describe>
gcclResult_t runAsync(const char* entry, gcclComm_t comm, gcclRequest_t* request,
                      Describe&& describe) {
  return run(entry, comm, Form::kAsync, request, nullptr, std::forward<Describe>(describe));
}

template <typename Describe>
gcclResult_t runOnStream(const char* entry, gcclComm_t comm, void* stream, Describe&& describe) {
  return run(entry, comm, Form::kOnStream, nullptr, stream, std::forward<Describe>(describe));
}

// Rank r's block of an allgatherv: recvcounts[r] elements at displs[r].
std::vector<gccl::Range> blocksOf(const gccl::Communicator& communicator, size_t sendcount,
                                  const size_t* recvcounts, const size_t* displs) {
  requirePointer(recvcounts, "recvcounts");
  requirePointer(displs, "displs");
  std::vector<gccl::Range> blocks;
  for (int r = 0; r < communicator.size(); ++r) blocks.push_back({displs[r], recvcounts[r]});
  const size_t mine = recvcounts[communicator.rank()];
  if (sendcount != mine) {
    gccl::fail(Status::kInvalidArgument, "allgatherv on rank ", communicator.rank(), ": sendcount ",
               sendcount, " differs from recvcounts[", communicator.rank(), "] = ", mine);
  }
  return blocks;
}

CollectiveCall allgatherVCall(const gccl::Communicator& communicator, const void* sendbuf,
                              size_t sendcount, void* recvbuf, const size_t* recvcounts,
                              const size_t* displs, int datatype) {
  CollectiveCall call = callOf(communicator, CollectiveKind::kAllgatherV, sendbuf, recvbuf,
                               sendcount, datatype, gcclSum);
  call.blocks = blocksOf(communicator, sendcount, recvcounts, displs);
  return call;
}

// An alltoallv: the receive blocks always, the send blocks out of place.
CollectiveCall allToAllVCall(const gccl::Communicator& communicator, const void* sendbuf,
                             const size_t* sendcounts, const size_t* sdispls, void* recvbuf,
                             const size_t* recvcounts, const size_t* rdispls, int datatype) {
  CollectiveCall call =
      callOf(communicator, CollectiveKind::kAllToAllV, sendbuf, recvbuf, 0, datatype, gcclSum);
  const auto blocks = [&](const size_t* counts, const size_t* displs) {
    std::vector<gccl::Range> out;
    for (int r = 0; r < communicator.size(); ++r) out.push_back({displs[r], counts[r]});
    return out;
  };
  requirePointer(recvcounts, "recvcounts");
  requirePointer(rdispls, "rdispls");
  call.blocks = blocks(recvcounts, rdispls);
  if (sendbuf != recvbuf) {
    requirePointer(sendcounts, "sendcounts");
    requirePointer(sdispls, "sdispls");
    call.sendBlocks = blocks(sendcounts, sdispls);
  }
  return call;
}

}  // namespace

extern "C" {

gcclResult_t gcclAllReduce(const void* sendbuf, void* recvbuf, size_t count,
                           gcclDataType_t datatype, gcclRedOp_t op, gcclComm_t comm) {
  return runBlocking(__func__, comm, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kAllreduce, sendbuf, recvbuf, count,
                  rawValue(datatype), rawValue(op));
  });
}

gcclResult_t gcclAllReduceAsync(const void* sendbuf, void* recvbuf, size_t count,
                                gcclDataType_t datatype, gcclRedOp_t op, gcclComm_t comm,
                                gcclRequest_t* request) {
  return runAsync(__func__, comm, request, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kAllreduce, sendbuf, recvbuf, count,
                  rawValue(datatype), rawValue(op));
  });
}

gcclResult_t gcclBroadcast(const void* sendbuf, void* recvbuf, size_t count,
                           gcclDataType_t datatype, int root, gcclComm_t comm) {
  return runBlocking(__func__, comm, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kBroadcast, sendbuf, recvbuf, count,
                  rawValue(datatype), gcclSum, root);
  });
}

gcclResult_t gcclBroadcastAsync(const void* sendbuf, void* recvbuf, size_t count,
                                gcclDataType_t datatype, int root, gcclComm_t comm,
                                gcclRequest_t* request) {
  return runAsync(__func__, comm, request, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kBroadcast, sendbuf, recvbuf, count,
                  rawValue(datatype), gcclSum, root);
  });
}

gcclResult_t gcclReduce(const void* sendbuf, void* recvbuf, size_t count, gcclDataType_t datatype,
                        gcclRedOp_t op, int root, gcclComm_t comm) {
  return runBlocking(__func__, comm, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kReduce, sendbuf, recvbuf, count,
                  rawValue(datatype), rawValue(op), root);
  });
}

gcclResult_t gcclReduceAsync(const void* sendbuf, void* recvbuf, size_t count,
                             gcclDataType_t datatype, gcclRedOp_t op, int root, gcclComm_t comm,
                             gcclRequest_t* request) {
  return runAsync(__func__, comm, request, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kReduce, sendbuf, recvbuf, count,
                  rawValue(datatype), rawValue(op), root);
  });
}

gcclResult_t gcclAllGather(const void* sendbuf, void* recvbuf, size_t sendcount,
                           gcclDataType_t datatype, gcclComm_t comm) {
  return runBlocking(__func__, comm, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kAllgather, sendbuf, recvbuf, sendcount,
                  rawValue(datatype), gcclSum);
  });
}

gcclResult_t gcclAllGatherAsync(const void* sendbuf, void* recvbuf, size_t sendcount,
                                gcclDataType_t datatype, gcclComm_t comm, gcclRequest_t* request) {
  return runAsync(__func__, comm, request, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kAllgather, sendbuf, recvbuf, sendcount,
                  rawValue(datatype), gcclSum);
  });
}

gcclResult_t gcclAllGatherV(const void* sendbuf, size_t sendcount, void* recvbuf,
                            const size_t* recvcounts, const size_t* displs, gcclDataType_t datatype,
                            gcclComm_t comm) {
  return runBlocking(__func__, comm, [&](const gccl::Communicator& communicator) {
    return allgatherVCall(communicator, sendbuf, sendcount, recvbuf, recvcounts, displs,
                          rawValue(datatype));
  });
}

gcclResult_t gcclAllGatherVAsync(const void* sendbuf, size_t sendcount, void* recvbuf,
                                 const size_t* recvcounts, const size_t* displs,
                                 gcclDataType_t datatype, gcclComm_t comm, gcclRequest_t* request) {
  return runAsync(__func__, comm, request, [&](const gccl::Communicator& communicator) {
    return allgatherVCall(communicator, sendbuf, sendcount, recvbuf, recvcounts, displs,
                          rawValue(datatype));
  });
}

gcclResult_t gcclReduceScatter(const void* sendbuf, void* recvbuf, size_t recvcount,
                               gcclDataType_t datatype, gcclRedOp_t op, gcclComm_t comm) {
  return runBlocking(__func__, comm, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kReduceScatter, sendbuf, recvbuf, recvcount,
                  rawValue(datatype), rawValue(op));
  });
}

gcclResult_t gcclReduceScatterAsync(const void* sendbuf, void* recvbuf, size_t recvcount,
                                    gcclDataType_t datatype, gcclRedOp_t op, gcclComm_t comm,
                                    gcclRequest_t* request) {
  return runAsync(__func__, comm, request, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kReduceScatter, sendbuf, recvbuf, recvcount,
                  rawValue(datatype), rawValue(op));
  });
}

gcclResult_t gcclAllToAll(const void* sendbuf, void* recvbuf, size_t count, gcclDataType_t datatype,
                          gcclComm_t comm) {
  return runBlocking(__func__, comm, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kAllToAll, sendbuf, recvbuf, count,
                  rawValue(datatype), gcclSum);
  });
}

gcclResult_t gcclAllToAllAsync(const void* sendbuf, void* recvbuf, size_t count,
                               gcclDataType_t datatype, gcclComm_t comm, gcclRequest_t* request) {
  return runAsync(__func__, comm, request, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kAllToAll, sendbuf, recvbuf, count,
                  rawValue(datatype), gcclSum);
  });
}

gcclResult_t gcclAllReduceOnStream(const void* sendbuf, void* recvbuf, size_t count,
                                   gcclDataType_t datatype, gcclRedOp_t op, gcclComm_t comm,
                                   void* stream) {
  return runOnStream(__func__, comm, stream, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kAllreduce, sendbuf, recvbuf, count,
                  rawValue(datatype), rawValue(op));
  });
}

gcclResult_t gcclBroadcastOnStream(const void* sendbuf, void* recvbuf, size_t count,
                                   gcclDataType_t datatype, int root, gcclComm_t comm,
                                   void* stream) {
  return runOnStream(__func__, comm, stream, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kBroadcast, sendbuf, recvbuf, count,
                  rawValue(datatype), gcclSum, root);
  });
}

gcclResult_t gcclReduceOnStream(const void* sendbuf, void* recvbuf, size_t count,
                                gcclDataType_t datatype, gcclRedOp_t op, int root, gcclComm_t comm,
                                void* stream) {
  return runOnStream(__func__, comm, stream, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kReduce, sendbuf, recvbuf, count,
                  rawValue(datatype), rawValue(op), root);
  });
}

gcclResult_t gcclAllGatherOnStream(const void* sendbuf, void* recvbuf, size_t sendcount,
                                   gcclDataType_t datatype, gcclComm_t comm, void* stream) {
  return runOnStream(__func__, comm, stream, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kAllgather, sendbuf, recvbuf, sendcount,
                  rawValue(datatype), gcclSum);
  });
}

gcclResult_t gcclAllGatherVOnStream(const void* sendbuf, size_t sendcount, void* recvbuf,
                                    const size_t* recvcounts, const size_t* displs,
                                    gcclDataType_t datatype, gcclComm_t comm, void* stream) {
  return runOnStream(__func__, comm, stream, [&](const gccl::Communicator& communicator) {
    return allgatherVCall(communicator, sendbuf, sendcount, recvbuf, recvcounts, displs,
                          rawValue(datatype));
  });
}

gcclResult_t gcclReduceScatterOnStream(const void* sendbuf, void* recvbuf, size_t recvcount,
                                       gcclDataType_t datatype, gcclRedOp_t op, gcclComm_t comm,
                                       void* stream) {
  return runOnStream(__func__, comm, stream, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kReduceScatter, sendbuf, recvbuf, recvcount,
                  rawValue(datatype), rawValue(op));
  });
}

gcclResult_t gcclAllToAllOnStream(const void* sendbuf, void* recvbuf, size_t count,
                                  gcclDataType_t datatype, gcclComm_t comm, void* stream) {
  return runOnStream(__func__, comm, stream, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kAllToAll, sendbuf, recvbuf, count,
                  rawValue(datatype), gcclSum);
  });
}

gcclResult_t gcclAllToAllV(const void* sendbuf, const size_t* sendcounts, const size_t* sdispls,
                           void* recvbuf, const size_t* recvcounts, const size_t* rdispls,
                           gcclDataType_t datatype, gcclComm_t comm) {
  return runBlocking(__func__, comm, [&](const gccl::Communicator& communicator) {
    return allToAllVCall(communicator, sendbuf, sendcounts, sdispls, recvbuf, recvcounts, rdispls,
                         rawValue(datatype));
  });
}

gcclResult_t gcclAllToAllVAsync(const void* sendbuf, const size_t* sendcounts,
                                const size_t* sdispls, void* recvbuf, const size_t* recvcounts,
                                const size_t* rdispls, gcclDataType_t datatype, gcclComm_t comm,
                                gcclRequest_t* request) {
  return runAsync(__func__, comm, request, [&](const gccl::Communicator& communicator) {
    return allToAllVCall(communicator, sendbuf, sendcounts, sdispls, recvbuf, recvcounts, rdispls,
                         rawValue(datatype));
  });
}

gcclResult_t gcclAllToAllVOnStream(const void* sendbuf, const size_t* sendcounts,
                                   const size_t* sdispls, void* recvbuf, const size_t* recvcounts,
                                   const size_t* rdispls, gcclDataType_t datatype, gcclComm_t comm,
                                   void* stream) {
  return runOnStream(__func__, comm, stream, [&](const gccl::Communicator& communicator) {
    return allToAllVCall(communicator, sendbuf, sendcounts, sdispls, recvbuf, recvcounts, rdispls,
                         rawValue(datatype));
  });
}

gcclResult_t gcclBarrier(gcclComm_t comm) {
  return runBlocking(__func__, comm, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kBarrier, nullptr, nullptr, 0, gcclUint8, gcclSum);
  });
}

gcclResult_t gcclBarrierAsync(gcclComm_t comm, gcclRequest_t* request) {
  return runAsync(__func__, comm, request, [&](const gccl::Communicator& communicator) {
    return callOf(communicator, CollectiveKind::kBarrier, nullptr, nullptr, 0, gcclUint8, gcclSum);
  });
}

}  // extern "C"
