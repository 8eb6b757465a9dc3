// Which transport serves each peer. Init builds the router from the machine census: ranks on
// this machine and ranks elsewhere may take different transports (shared memory and UCX plug in
// here, as folders under transport/, without touching bootstrap or the engine). The engine
// only ever sees one Connection per peer, whoever made it.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "transport/transport.h"

namespace gccl {

class TransportRouter {
 public:
  // Every peer goes through `transport` unless a more specific route says otherwise.
  explicit TransportRouter(std::shared_ptr<Transport> everyPeer);

  // Peers among `localRanks` (this machine's ranks, from the census) go through `transport`.
  // The relation must be symmetric, and every rank must register its routes in the same order:
  // transports connect one after another, in that order, on every rank.
  void routeSameMachine(const std::vector<int>& localRanks, std::shared_ptr<Transport> transport);

  Transport& transportFor(int peer) const;

  // Connects `request.peers`, each through its transport, into one map.
  ConnectionMap connect(const ConnectRequest& request, Store& store, Poller& poller) const;

  // "shm for 2 peers (ranks 1 3), tcp for 1 peer (rank 4)": for the init log line.
  std::string describe(const std::vector<int>& peers) const;

 private:
  struct Route {
    std::shared_ptr<Transport> transport;
    std::set<int> peers;  // empty with everyPeer: the default route
    bool everyPeer = false;
  };
  const Route& routeFor(int peer) const;

  std::vector<Route> routes_;  // most specific first; the default is last
};

}  // namespace gccl
