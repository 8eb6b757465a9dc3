// How the Gloo baselines meet: a full mesh of TCP pairs set up through a rendezvous store, and
// a departure through the store. Shared by gloo_allreduce_perf and gloo_grad_bench.
#pragma once

#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/transport/tcp/device.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace baselines {

inline std::shared_ptr<gloo::Context> connectGloo(gloo::rendezvous::Store& store, int rank,
                                                  int nranks, int timeoutSec, const char* address) {
  gloo::transport::tcp::attr attr(address);
  attr.ai_family = AF_INET;
  auto device = gloo::transport::tcp::CreateDevice(attr);
  auto context = std::make_shared<gloo::rendezvous::Context>(rank, nranks);
  context->setTimeout(std::chrono::seconds(timeoutSec));
  context->connectFullMesh(store, device);
  return context;
}

// Ranks leave together, meeting through the store rather than the sockets. A rank closing its
// sockets while a peer still waits in the final barrier fails that peer with "Connection
// closed by peer" even though the awaited message did arrive: Gloo checks the pair's error
// before the completion.
inline void leaveTogether(gloo::rendezvous::Store& store, int rank, int nranks) {
  store.set("exit/" + std::to_string(rank), {1});
  std::vector<std::string> keys;
  for (int r = 0; r < nranks; ++r) keys.push_back("exit/" + std::to_string(r));
  store.wait(keys);
}

}  // namespace baselines
