#include "link_model.h"

#include <algorithm>

namespace gccl::sim {

Fabric::Fabric(const LinkModel& model, int nranks)
    : model_(model),
      rankEgress_(static_cast<size_t>(nranks), 0.0),
      rankIngress_(static_cast<size_t>(nranks), 0.0),
      rankCompute_(static_cast<size_t>(nranks), 0.0) {
  const int hosts = (nranks + model.ranksPerHost - 1) / model.ranksPerHost;
  hostEgress_.assign(static_cast<size_t>(hosts), 0.0);
  hostIngress_.assign(static_cast<size_t>(hosts), 0.0);
  for (int h = 0; h < hosts; ++h) {
    // The last host may hold fewer ranks.
    const int ranks = std::min(model.ranksPerHost, nranks - h * model.ranksPerHost);
    const double share = model.coresPerHost > 0 ? double(ranks) / model.coresPerHost : 1.0;
    stretch_.push_back(std::max(1.0, share));
  }
}

// The host NIC is the host's, not a rank's: it does not stretch with the host's core count.
double Fabric::serviceTime(int rank, bool intra, size_t bytes) const {
  if (!intra) return double(bytes) / model_.beta;
  return double(bytes) / model_.intraBeta * stretch_[static_cast<size_t>(hostOf(rank))];
}

Delivery Fabric::send(int from, int to, size_t bytes, double now) {
  const bool intra = sameHost(from, to);
  double& egress = !intra               ? hostEgress_[static_cast<size_t>(hostOf(from))]
                   : model_.intraOnCore ? rankCompute_[static_cast<size_t>(from)]
                                        : rankEgress_[static_cast<size_t>(from)];
  const double start = std::max(now, egress);
  egress = start + serviceTime(from, intra, bytes);
  return {egress, start + (intra ? model_.intraAlpha : model_.alpha)};
}

double Fabric::receive(int from, int to, size_t bytes, double arrival) {
  const bool intra = sameHost(from, to);
  double& ingress = !intra               ? hostIngress_[static_cast<size_t>(hostOf(to))]
                    : model_.intraOnCore ? rankCompute_[static_cast<size_t>(to)]
                                         : rankIngress_[static_cast<size_t>(to)];
  ingress = std::max(arrival, ingress) + serviceTime(to, intra, bytes);
  const bool oversubscribed = stretch_[static_cast<size_t>(hostOf(to))] > 1;
  return ingress + (oversubscribed ? model_.wakeup : 0.0);
}

double Fabric::compute(int rank, size_t bytes, double now) {
  double& free = rankCompute_[static_cast<size_t>(rank)];
  free = std::max(now, free) +
         double(bytes) / model_.gamma * stretch_[static_cast<size_t>(hostOf(rank))];
  return free;
}

}  // namespace gccl::sim
