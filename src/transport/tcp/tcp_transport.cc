#include "transport/tcp/tcp_transport.h"

#include <set>

#include "core/error.h"
#include "core/logging.h"
#include "core/store.h"
#include "transport/tcp/tcp_connection.h"
#include "transport/tcp/tcp_handshake.h"

namespace gccl::transport::tcp {

namespace {

std::string addressKey(int rank) {
  return strCat("tcp/address/", rank);
}

struct PeerAddress {
  SocketAddress address;
  std::string host;
};

// Store value: "ip:port hostname".
PeerAddress parsePeer(const std::string& value) {
  const size_t space = value.find(' ');
  return {SocketAddress::parse(value.substr(0, space)),
          space == std::string::npos ? "?" : value.substr(space + 1)};
}

std::string describePeer(int rank, const PeerAddress& peer) {
  return strCat("rank ", rank, " (host ", peer.host, ", ", peer.address.toString(), ")");
}

}  // namespace

TcpTransport::TcpTransport(std::string bindHost, const Config& config)
    : bindHost_(std::move(bindHost)), socketBufferBytes_(config.socketBufferBytes) {}

ConnectionMap TcpTransport::connect(const ConnectRequest& request, Store& store, Poller&) {
  const Deadline deadline = Deadline::afterMs(request.timeoutMs);
  Socket listener = Socket::listenOn(bindHost_, 0);
  store.set(addressKey(request.rank),
            strCat(bindHost_, ":", listener.localAddress().port, " ", localHostName()));

  ConnectionMap connections;
  auto adopt = [&](Socket socket, int peer, const PeerAddress& address) {
    socket.setNoDelay();
    if (socketBufferBytes_ > 0) socket.setBufferBytes(socketBufferBytes_);
    connections[peer] =
        std::make_unique<TcpConnection>(std::move(socket), peer, describePeer(peer, address));
  };

  // Lower ranks first: every rank only waits on lower ranks, which only accept, so no cycle.
  std::set<int> expected;
  for (int peer : request.peers) {
    if (peer > request.rank) {
      expected.insert(peer);
      continue;
    }
    const PeerAddress address = parsePeer(store.get(addressKey(peer), deadline));
    try {
      Socket socket = Socket::connectTo(address.address, deadline);
      sendHello(socket, Hello{kHelloMagic, 1, request.token, request.rank, peer}, deadline);
      adopt(std::move(socket), peer, address);
    } catch (const Error& e) {
      fail(e.status(), "could not connect to ", describePeer(peer, address), ": ", e.what());
    }
  }
  while (!expected.empty()) {
    auto socket = listener.accept(deadline);
    if (!socket) {
      fail(Status::kTimeout, "waited ", request.timeoutMs, " ms for ",
           expected.size(), " peer(s) to connect, first missing: rank ", *expected.begin());
    }
    const auto peer = acceptHello(*socket, request.token, request.rank, request.size, deadline);
    if (!peer || expected.erase(*peer) == 0) {
      if (peer) GCCL_WARN(LogSubsys::kInit, "ignored unexpected connection from rank ", *peer);
      continue;
    }
    adopt(std::move(*socket), *peer, parsePeer(store.get(addressKey(*peer), deadline)));
  }
  logInfo(LogSubsys::kInit, "rank ", request.rank, " connected to ", connections.size(),
          " peer(s) over tcp");
  return connections;
}

}  // namespace gccl::transport::tcp
