#include "transport/tcp/tcp_transport.h"

#include <map>
#include <set>

#include "base/error.h"
#include "base/logging.h"
#include "base/store.h"
#include "transport/tcp/congestion.h"
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
    : bindHost_(std::move(bindHost)),
      socketBufferBytes_(config.socketBufferBytes),
      congestion_(config.socketCongestion) {}

ConnectionMap TcpTransport::connect(const ConnectRequest& request, Store& store, Poller&) {
  const Deadline deadline = Deadline::afterMs(request.timeoutMs);
  Socket listener = Socket::listenOn(bindHost_, 0);
  store.set(addressKey(request.rank),
            strCat(bindHost_, ":", listener.localAddress().port, " ", localHostName()));

  // Every rank dials each peer for its outgoing stream and accepts each peer's dial as its
  // incoming one. Dialling the lower ranks, then accepting, then dialling the higher ranks
  // leaves no cycle: a rank's accepting waits only for the lower ranks' last phase (and the
  // higher ranks' first), and rank 0 has no lower ranks.
  const std::set<int> peers(request.peers.begin(), request.peers.end());
  if (peers.count(request.rank) != 0) {
    fail(Status::kInternalError, "rank ", request.rank, " was asked to connect to itself");
  }
  std::map<int, PeerAddress> addresses;  // of every peer, read once when dialling it
  std::map<int, Socket> outgoing;
  std::map<int, Socket> incoming;
  auto prepare = [&](Socket& socket, const std::string& peerHost) {
    socket.setNoDelay();
    if (socketBufferBytes_ > 0) socket.setBufferBytes(socketBufferBytes_);
    applyCongestion(socket, congestion_, peerHost, bindHost_);
  };
  auto dial = [&](int peer) {
    const PeerAddress& address = addresses[peer] = parsePeer(store.get(addressKey(peer), deadline));
    try {
      Socket socket = Socket::connectTo(address.address, deadline);
      sendHello(socket, Hello{kHelloMagic, kHelloVersion, request.token, request.rank, peer},
                deadline);
      prepare(socket, address.address.host);
      outgoing[peer] = std::move(socket);
    } catch (const Error& e) {
      fail(e.status(), "could not connect to ", describePeer(peer, address), ": ", e.what());
    }
  };

  for (int peer : peers) {
    if (peer < request.rank) dial(peer);
  }
  // Hellos are read as they arrive, each within its own handshake time: a stranger on the data
  // port delays no peer.
  HelloAcceptor acceptor(listener, request.token, request.rank, request.size);
  std::set<int> expected = peers;
  while (!expected.empty()) {
    std::optional<Caller> caller = acceptor.next(deadline);
    if (!caller) {
      fail(Status::kTimeout, "waited ", request.timeoutMs, " ms for ", expected.size(),
           " peer(s) to connect, first missing: rank ", *expected.begin());
    }
    if (expected.erase(caller->rank) == 0) {
      GCCL_WARN(LogSubsys::kInit, "refused an unexpected connection from rank ", caller->rank);
      continue;
    }
    sendAck(caller->socket, deadline);
    prepare(caller->socket, caller->socket.peerAddress().host);
    incoming[caller->rank] = std::move(caller->socket);
  }
  for (int peer : peers) {
    if (peer > request.rank) dial(peer);
  }

  ConnectionMap connections;
  for (int peer : peers) {
    // Every peer was dialled, so its address is known: the store is not asked again (rank 0
    // may already be done with init, and its store is needed by nobody else).
    connections[peer] =
        std::make_unique<TcpConnection>(std::move(outgoing[peer]), std::move(incoming[peer]), peer,
                                        describePeer(peer, addresses[peer]));
  }
  logInfo(LogSubsys::kInit, "rank ", request.rank, " connected to ", connections.size(),
          " peer(s) over tcp");
  return connections;
}

}  // namespace gccl::transport::tcp
