#include "transport/ucx/ucx_transport.h"

#include <memory>
#include <utility>
#include <vector>

#include "base/deadline.h"
#include "base/error.h"
#include "base/socket.h"
#include "base/store.h"
#include "transport/ucx/ucx_connection.h"
#include "transport/ucx/ucx_worker.h"

namespace gccl::transport::ucx {

namespace {

std::string addressKey(int rank) {
  return strCat("ucx/address/", rank);
}

std::string hostKey(int rank) {
  return strCat("ucx/host/", rank);
}

// A value every peer publishes on entering connect: a missing one is a rank that never came.
std::string peerValue(Store& store, const std::string& key, int peer, const ConnectRequest& request,
                      const Deadline& deadline) {
  try {
    return store.get(key, deadline);
  } catch (const Error& e) {
    if (e.status() != Status::kTimeout) throw;
    fail(Status::kTimeout, "waited ", request.timeoutMs, " ms for peers to connect over UCX, ",
         "first missing: rank ", peer, " (it never published its worker address)");
  }
}

}  // namespace

ConnectionMap UcxTransport::connect(const ConnectRequest& request, Store& store, Poller&) {
  auto worker = std::make_shared<UcxWorker>();
  store.set(hostKey(request.rank), localHostName());
  store.set(addressKey(request.rank), worker->address());
  const Deadline deadline = Deadline::afterMs(request.timeoutMs);
  std::vector<std::pair<int, std::unique_ptr<UcxConnection>>> opened;
  for (int peer : request.peers) {
    const std::string address = peerValue(store, addressKey(peer), peer, request, deadline);
    // Published before the address: there once the address is.
    const std::string host = peerValue(store, hostKey(peer), peer, request, deadline);
    opened.emplace_back(
        peer, std::make_unique<UcxConnection>(worker, address, request.rank, peer,
                                              strCat("rank ", peer, " (host ", host, ", ucx)")));
  }
  // Set up now rather than at the first message (the wire-up exchange included, see
  // UcxWorker): a rank that fails in its first collective then leaves no connection-setup
  // message half-way, which UCX 1.13 aborts the process on when it purges it at teardown
  // (seen over UCX_TLS=tcp after a mismatched collective), and what it sent before failing
  // has a connection to go out on.
  for (auto& [peer, connection] : opened) connection->awaitConnected(deadline);
  ConnectionMap connections;
  for (auto& [peer, connection] : opened) connections.emplace(peer, std::move(connection));
  return connections;
}

}  // namespace gccl::transport::ucx
