#include "transport/shm/shm_transport.h"

#include <unistd.h>

#include <cstdint>
#include <map>
#include <set>

#include "base/error.h"
#include "base/logging.h"
#include "base/socket.h"
#include "transport/shm/shm_connection.h"
#include "transport/shm/shm_handshake.h"
#include "transport/shm/shm_names.h"

namespace gccl::transport::shm {

namespace {

std::string describePeer(int rank, pid_t pid) {
  return strCat("rank ", rank, " (host ", localHostName(), ", shm, pid ", pid, ")");
}

// One pair while it connects.
struct Pending {
  std::string bellName;
  SharedSegment segment;
  Socket listener;  // lower rank only, until the peer's hello
  Socket bell;
};

}  // namespace

// Connection order, as in TCP: every rank first listens on the doorbells of the pairs where it
// is the lower rank (no waiting), then dials its lower peers in ascending order, then accepts
// its higher peers in ascending order. A rank waits only for pairs that come earlier in
// (lower rank, higher rank) order, so there is no cycle. A segment exists only once its peer
// proved the token, and only as descriptors: a rank that dies at any point leaves nothing.
ConnectionMap ShmTransport::connect(const ConnectRequest& request, Store&, Poller&) {
  const Deadline deadline = Deadline::afterMs(request.timeoutMs);
  const std::set<int> peers(request.peers.begin(), request.peers.end());
  if (peers.count(request.rank) != 0) {
    fail(Status::kInternalError, "rank ", request.rank, " was asked to connect to itself");
  }
  std::map<int, Pending> pending;
  ConnectionMap connections;
  auto finish = [&](int peer, Pending& pair) {
    const pid_t pid = peerPid(pair.bell);
    // Opened before the probe, which the peer answers: the handle is then the peer's own.
    PeerProcess process = PeerProcess::open(pid);
    const CmaAbility cma =
        probeCma(pair.bell, singleCopy_ ? pid : 0, process.valid() ? process.fd() : -1,
                 describePeer(peer, pid), deadline);
    PairSetup setup{std::move(pair.bell),
                    std::move(pair.segment),
                    peer > request.rank ? 0 : 1,
                    peer,
                    describePeer(peer, pid),
                    pid,
                    std::move(process),
                    cma.send,
                    cma.receive,
                    cma.mapSend,
                    writeBack_};
    connections[peer] = std::make_unique<ShmConnection>(std::move(setup));
  };
  int current = -1;  // the peer being connected, for the error message
  try {
    for (int peer : peers) {
      if (peer < request.rank) continue;
      current = peer;
      Pending& pair = pending[peer];
      pair.bellName = doorbellName(request.token, request.scope, request.rank, peer);
      pair.listener = listenAbstract(pair.bellName);
    }
    for (int peer : peers) {
      if (peer > request.rank) continue;
      current = peer;
      Pending& pair = pending[peer];
      pair.bellName = doorbellName(request.token, request.scope, request.rank, peer);
      pair.bell = dialAbstract(pair.bellName, deadline);
      const int segmentFd = presentShmHello(
          pair.bell, ShmHello{kShmHelloMagic, kShmHelloVersion, request.token, request.rank, peer},
          deadline);
      pair.segment = SharedSegment::adopt(segmentFd, kRingBytes);
      finish(peer, pair);
    }
    for (int peer : peers) {
      if (peer < request.rank) continue;
      current = peer;
      Pending& pair = pending[peer];
      pair.bell = acceptShmHello(pair.listener, request.token, request.rank, peer, deadline);
      pair.listener.close();
      pair.segment = SharedSegment::create(kRingBytes);
      sendShmAck(pair.bell, pair.segment.fd(), deadline);
      pair.segment.closeDescriptor();  // the peer has its own now; the mappings keep the memory
      finish(peer, pair);
    }
  } catch (const Error& e) {
    fail(e.status(), "could not connect to rank ", current, " over shared memory: ", e.what());
  }
  logInfo(LogSubsys::kInit, "rank ", request.rank, " connected to ", connections.size(),
          " peer(s) over shm");
  return connections;
}

bool sharedMemoryUsable(std::string* why) {
  try {
    SharedSegment segment = SharedSegment::create(4096);
    return true;
  } catch (const Error& e) {
    if (why != nullptr) *why = e.what();
    return false;
  }
}

}  // namespace gccl::transport::shm
