// TCP backend: each rank listens on one port, publishes "ip:port host" in the store, and for
// every pair the higher rank connects to the lower one. A connection counts only after it
// presents the job token and names the right ranks; anything else is refused with a warning.
#pragma once

#include <string>

#include "core/config.h"
#include "transport/transport.h"

namespace gccl::transport::tcp {

class TcpTransport final : public Transport {
 public:
  // `bindHost` is the local IPv4 address to listen on and advertise.
  TcpTransport(std::string bindHost, const Config& config);
  std::string name() const override { return "tcp"; }
  ConnectionMap connect(const ConnectRequest& request, Store& store, Poller& poller) override;

 private:
  std::string bindHost_;
  int socketBufferBytes_;
};

}  // namespace gccl::transport::tcp
