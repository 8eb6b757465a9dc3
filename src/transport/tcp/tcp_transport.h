// TCP backend: each rank listens on one port and publishes "ip:port host" in the store. Every
// pair of peers is joined by two connections, one per direction: each rank dials the other for
// its outgoing stream. A connection counts only after it presents the job token and names the
// right ranks; anything else is refused with a warning.
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
};

}  // namespace gccl::transport::tcp
