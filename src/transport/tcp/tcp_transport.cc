#include "transport/tcp/tcp_transport.h"

#include <cstdlib>
#include <map>
#include <set>
#include <utility>
#include <vector>

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
  int nsocks = 0;
};

// Store value: "ip:port nsocks hostname".
PeerAddress parsePeer(const std::string& value) {
  const size_t first = value.find(' ');
  const size_t second = first == std::string::npos ? first : value.find(' ', first + 1);
  PeerAddress peer{SocketAddress::parse(value.substr(0, first)), "?", 0};
  if (second != std::string::npos) {
    peer.nsocks = std::atoi(value.substr(first + 1, second - first - 1).c_str());
    peer.host = value.substr(second + 1);
  }
  return peer;
}

std::string describePeer(int rank, const PeerAddress& peer) {
  return strCat("rank ", rank, " (host ", peer.host, ", ", peer.address.toString(), ")");
}

// Every peer's address, read once, before any dialling: every rank has published its own on
// entering connect, so this waits for no one's progress, and a GCCL_NSOCKS mismatch fails on
// both sides at once instead of as a timeout on the side left waiting for a dial.
std::map<int, PeerAddress> readPeers(const ConnectRequest& request, Store& store, int nsocks,
                                     const Deadline& deadline) {
  std::map<int, PeerAddress> addresses;
  for (int peer : request.peers) {
    std::string value;
    try {
      value = store.get(addressKey(peer), deadline);
    } catch (const Error& e) {
      if (e.status() != Status::kTimeout) throw;
      fail(Status::kTimeout, "waited ", request.timeoutMs,
           " ms for peers to connect, first missing: rank ", peer,
           " (it never published its address)");
    }
    const PeerAddress& address = addresses[peer] = parsePeer(value);
    if (address.nsocks != nsocks) {
      fail(Status::kInvalidUsage, "GCCL_NSOCKS differs: rank ", request.rank, " uses ", nsocks,
           " but ", describePeer(peer, address), " uses ", address.nsocks,
           "; every rank must set the same value");
    }
  }
  return addresses;
}

}  // namespace

TcpTransport::TcpTransport(std::string bindHost, const Config& config)
    : bindHost_(std::move(bindHost)),
      socketBufferBytes_(config.socketBufferBytes),
      congestion_(config.socketCongestion),
      nsocks_(config.nsocks) {}

ConnectionMap TcpTransport::connect(const ConnectRequest& request, Store& store, Poller&) {
  const Deadline deadline = Deadline::afterMs(request.timeoutMs);
  Socket listener = Socket::listenOn(bindHost_, 0);
  store.set(addressKey(request.rank), strCat(bindHost_, ":", listener.localAddress().port, " ",
                                             nsocks_, " ", localHostName()));

  // Every rank dials each peer for its outgoing streams and accepts each peer's dials as its
  // incoming ones. Dialling the lower ranks, then accepting, then dialling the higher ranks
  // leaves no cycle: a rank's accepting waits only for the lower ranks' last phase (and the
  // higher ranks' first), and rank 0 has no lower ranks.
  const std::set<int> peers(request.peers.begin(), request.peers.end());
  if (peers.count(request.rank) != 0) {
    fail(Status::kInternalError, "rank ", request.rank, " was asked to connect to itself");
  }
  std::map<int, PeerAddress> addresses = readPeers(request, store, nsocks_, deadline);
  std::map<int, std::vector<Socket>> outgoing;  // lane i at [i]
  std::map<int, std::vector<Socket>> incoming;
  auto prepare = [&](Socket& socket, const std::string& peerHost) {
    socket.setNoDelay();
    if (socketBufferBytes_ > 0) socket.setBufferBytes(socketBufferBytes_);
    applyCongestion(socket, congestion_, peerHost, bindHost_);
  };
  auto dial = [&](int peer) {
    const PeerAddress& address = addresses[peer];
    try {
      for (int lane = 0; lane < nsocks_; ++lane) {
        Socket socket = dialWithHello(
            address.address,
            Hello{kHelloMagic, kHelloVersion, request.token, request.rank, peer, lane, nsocks_},
            deadline);
        prepare(socket, address.address.host);
        outgoing[peer].push_back(std::move(socket));
      }
    } catch (const Error& e) {
      fail(e.status(), "could not connect to ", describePeer(peer, address), ": ", e.what());
    }
  };

  for (int peer : peers) {
    if (peer < request.rank) dial(peer);
  }
  // Hellos are read as they arrive, each within its own handshake time: a stranger on the data
  // port delays no peer.
  HelloAcceptor acceptor(listener, request.token, request.rank, request.size, nsocks_);
  std::set<std::pair<int, int>> expected;  // (rank, lane)
  for (int peer : peers) {
    incoming[peer].resize(static_cast<size_t>(nsocks_));
    for (int lane = 0; lane < nsocks_; ++lane) expected.emplace(peer, lane);
  }
  while (!expected.empty()) {
    std::optional<Caller> caller = acceptor.next(deadline);
    if (!caller) {
      fail(Status::kTimeout, "waited ", request.timeoutMs, " ms for ", expected.size(),
           " connection(s) from peers, first missing: rank ", expected.begin()->first, " socket ",
           expected.begin()->second);
    }
    if (expected.erase({caller->rank, caller->lane}) == 0) {
      GCCL_WARN(LogSubsys::kInit, "refused an unexpected connection from rank ", caller->rank,
                " socket ", caller->lane);
      continue;
    }
    sendAck(caller->socket, deadline);
    prepare(caller->socket, caller->socket.peerAddress().host);
    incoming[caller->rank][static_cast<size_t>(caller->lane)] = std::move(caller->socket);
  }
  for (int peer : peers) {
    if (peer > request.rank) dial(peer);
  }

  ConnectionMap connections;
  for (int peer : peers) {
    // Addresses were read at the start: the store is not asked again (rank 0 may already be
    // done with init, and its store is needed by nobody else).
    connections[peer] =
        std::make_unique<TcpConnection>(std::move(outgoing[peer]), std::move(incoming[peer]), peer,
                                        describePeer(peer, addresses[peer]));
  }
  logInfo(LogSubsys::kInit, "rank ", request.rank, " connected to ", connections.size(),
          " peer(s) over tcp with ", nsocks_, " socket(s) per direction per peer (GCCL_NSOCKS)");
  return connections;
}

}  // namespace gccl::transport::tcp
