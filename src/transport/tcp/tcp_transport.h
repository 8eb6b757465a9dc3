// TCP backend: each rank listens on one port and publishes "ip:port nsocks host" in the store.
// Every pair of peers is joined by GCCL_NSOCKS connections per direction: each rank dials the
// other for its outgoing streams. A connection counts only after it presents the job token and
// names the right ranks and lane; anything else is refused with a warning. Ranks whose
// GCCL_NSOCKS differ fail init, each naming the other, before any connection is made.
#pragma once

#include <string>

#include "base/config.h"
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
  std::string congestion_;  // GCCL_SOCKET_CONGESTION
  int nsocks_;              // GCCL_NSOCKS
};

}  // namespace gccl::transport::tcp
