#include "core/transport_router.h"

#include "base/error.h"

namespace gccl {

TransportRouter::TransportRouter(std::shared_ptr<Transport> everyPeer) {
  routes_.push_back({std::move(everyPeer), {}, true});
}

void TransportRouter::routeSameMachine(const std::vector<int>& localRanks,
                                       std::shared_ptr<Transport> transport) {
  routes_.insert(routes_.end() - 1,
                 Route{std::move(transport), {localRanks.begin(), localRanks.end()}, false});
}

const TransportRouter::Route& TransportRouter::routeFor(int peer) const {
  for (const Route& route : routes_) {
    if (route.everyPeer || route.peers.count(peer) != 0) return route;
  }
  fail(Status::kInternalError, "no transport serves rank ", peer);
}

Transport& TransportRouter::transportFor(int peer) const {
  return *routeFor(peer).transport;
}

ConnectionMap TransportRouter::connect(const ConnectRequest& request, Store& store,
                                       Poller& poller) const {
  ConnectionMap connections;
  // Route by route, in registration order: the same order on every rank, so two ranks never
  // wait in different transports for each other.
  for (const Route& route : routes_) {
    ConnectRequest subset = request;
    subset.peers.clear();
    for (int peer : request.peers) {
      if (&routeFor(peer) == &route) subset.peers.push_back(peer);
    }
    if (subset.peers.empty()) continue;
    for (auto& [peer, connection] : route.transport->connect(subset, store, poller)) {
      connections.emplace(peer, std::move(connection));
    }
  }
  return connections;
}

std::string TransportRouter::describe(const std::vector<int>& peers) const {
  std::string text;
  for (const Route& route : routes_) {
    std::string ranks;
    size_t served = 0;
    for (int peer : peers) {
      if (&routeFor(peer) != &route) continue;
      ranks += strCat(served == 0 ? "" : " ", peer);
      ++served;
    }
    if (served == 0) continue;
    text +=
        strCat(text.empty() ? "" : ", ", route.transport->name(), " for ", served,
               served == 1 ? " peer" : " peers", " (rank", served == 1 ? " " : "s ", ranks, ")");
  }
  return text.empty() ? "no peers" : text;
}

}  // namespace gccl
