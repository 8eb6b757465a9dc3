#include "transport/inproc/inproc_transport.h"

#include "transport/inproc/inproc_connection.h"

namespace gccl::transport::inproc {

std::shared_ptr<Lane> InprocFabric::lane(const std::string& scope, int from, int to) {
  std::lock_guard lock(mutex_);
  auto& slot = lanes_[{scope, from, to}];
  if (!slot) slot = std::make_shared<Lane>();
  return slot;
}

ConnectionMap InprocTransport::connect(const ConnectRequest& request, Store&, Poller& poller) {
  ConnectionMap connections;
  for (int peer : request.peers) {
    auto out = fabric_->lane(request.scope, request.rank, peer);
    auto in = fabric_->lane(request.scope, peer, request.rank);
    {
      std::lock_guard lock(out->mutex);
      out->senderPoller = &poller;
    }
    {
      std::lock_guard lock(in->mutex);
      in->receiverPoller = &poller;
    }
    connections[peer] = std::make_unique<InprocConnection>(peer, out, in);
  }
  return connections;
}

}  // namespace gccl::transport::inproc
