#include "transport/shm/shm_transport.h"

#include <unistd.h>

#include <atomic>
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

// One pair while it connects. The segment name is unlinked by whoever maps it last, and by
// both ends when connecting fails, so a rank that dies during init leaves nothing either.
struct Pending {
  PairNames names;
  SharedSegment segment;
  Socket listener;  // lower rank only, until the peer's hello
  Socket bell;
};

}  // namespace

// Connection order, as in TCP: every rank first creates the segments and listeners of the
// pairs where it is the lower rank (no waiting), then dials its lower peers in ascending
// order, then accepts its higher peers in ascending order. A rank waits only for pairs that
// come earlier in (lower rank, higher rank) order, so there is no cycle.
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
    const CmaAbility cma = probeCma(pair.bell, singleCopy_ ? pid : 0, deadline);
    PairSetup setup{std::move(pair.bell),
                    std::move(pair.segment),
                    peer > request.rank ? 0 : 1,
                    peer,
                    describePeer(peer, pid),
                    pid,
                    cma.send,
                    cma.receive};
    connections[peer] = std::make_unique<ShmConnection>(std::move(setup));
  };
  int current = -1;  // the peer being connected, for the error message
  try {
    for (int peer : peers) {
      if (peer < request.rank) continue;
      current = peer;
      Pending& pair = pending[peer];
      pair.names = pairNames(request.token, request.scope, request.rank, peer);
      pair.segment = SharedSegment::create(pair.names.segment, kRingBytes);
      pair.listener = listenAbstract(pair.names.socket);
    }
    for (int peer : peers) {
      if (peer > request.rank) continue;
      current = peer;
      Pending& pair = pending[peer];
      pair.names = pairNames(request.token, request.scope, request.rank, peer);
      pair.bell = dialAbstract(pair.names.socket, deadline);
      sendShmHello(pair.bell,
                   ShmHello{kShmHelloMagic, kShmHelloVersion, request.token, request.rank, peer},
                   deadline);
      pair.segment = SharedSegment::open(pair.names.segment, kRingBytes);
      SharedSegment::unlink(pair.names.segment);  // both ends have it mapped now
      finish(peer, pair);
    }
    for (int peer : peers) {
      if (peer < request.rank) continue;
      current = peer;
      Pending& pair = pending[peer];
      pair.bell = acceptShmHello(pair.listener, request.token, request.rank, peer, deadline);
      pair.listener.close();
      // The peer maps the segment and unlinks its name after our ack, before its probe
      // reaches finish(): from then on the name is gone.
      finish(peer, pair);
    }
  } catch (const Error& e) {
    for (auto& [peer, pair] : pending) SharedSegment::unlink(pair.names.segment);
    fail(e.status(), "could not connect to rank ", current, " over shared memory: ", e.what());
  }
  logInfo(LogSubsys::kInit, "rank ", request.rank, " connected to ", connections.size(),
          " peer(s) over shm");
  return connections;
}

bool sharedMemoryUsable(std::string* why) {
  // A name of its own per call: ranks that are threads of one process probe at the same time,
  // and a probe that found another's segment would send its rank over TCP while its peers
  // wait for it on shared memory.
  static std::atomic<uint64_t> probes{0};
  const std::string name = strCat("/", kSegmentPrefix, "probe-", ::getpid(), "-", probes++);
  try {
    SharedSegment segment = SharedSegment::create(name, 4096);
    SharedSegment::unlink(name);
    return true;
  } catch (const Error& e) {
    SharedSegment::unlink(name);
    if (why != nullptr) *why = e.what();
    return false;
  }
}

}  // namespace gccl::transport::shm
