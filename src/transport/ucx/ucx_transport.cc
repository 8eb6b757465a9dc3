#include "transport/ucx/ucx_transport.h"

#include <memory>

#include "base/deadline.h"
#include "base/error.h"
#include "base/store.h"
#include "transport/ucx/ucx_connection.h"
#include "transport/ucx/ucx_worker.h"

namespace gccl::transport::ucx {

namespace {

std::string addressKey(int rank) {
  return strCat("ucx/address/", rank);
}

}  // namespace

ConnectionMap UcxTransport::connect(const ConnectRequest& request, Store& store, Poller&) {
  auto worker = std::make_shared<UcxWorker>();
  store.set(addressKey(request.rank), worker->address());
  const Deadline deadline = Deadline::afterMs(request.timeoutMs);
  ConnectionMap connections;
  for (int peer : request.peers) {
    const std::string address = store.get(addressKey(peer), deadline);
    connections.emplace(peer, std::make_unique<UcxConnection>(worker, address, request.rank, peer,
                                                              strCat("rank ", peer, " (ucx)")));
  }
  return connections;
}

}  // namespace gccl::transport::ucx
