// UCX (UCP tag matching) for fabrics with RDMA — InfiniBand, RoCE — and whatever else UCX
// drives (UCX_TLS picks: tcp, sm, rc, ud, ...). One worker per communicator, worker addresses
// exchanged through the store, connections progressed by the engine like any other.
#pragma once

#include <string>

#include "transport/transport.h"

namespace gccl::transport::ucx {

class UcxTransport final : public Transport {
 public:
  std::string name() const override { return "ucx"; }
  ConnectionMap connect(const ConnectRequest& request, Store& store, Poller& poller) override;
};

// Whether UCX's library loads in this process (it is loaded on first use, not with gccl);
// `why` says why not.
bool ucxLoadable(std::string* why = nullptr);

}  // namespace gccl::transport::ucx
