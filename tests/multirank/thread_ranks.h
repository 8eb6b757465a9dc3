// Ranks as threads of this test process over the in-process transport: communicators made
// together, and a body run on one thread per rank.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/memory_store.h"
#include "core/communicator.h"
#include "transport/inproc/inproc_transport.h"

namespace gccl::testing_support {

// Every rank with `config`.
inline std::vector<std::unique_ptr<Communicator>> makeThreadRanks(int size, const Config& config) {
  const TransportRouter transport(std::make_shared<transport::inproc::InprocTransport>(
      std::make_shared<transport::inproc::InprocFabric>()));
  std::vector<std::unique_ptr<Communicator>> ranks;
  for (int rank = 0; rank < size; ++rank) {
    ranks.push_back(std::make_unique<Communicator>(
        rank, size, config, JobToken{}, std::make_unique<MemoryStore>(), nullptr, transport));
  }
  return ranks;
}

// `algorithm`: GCCL_ALGO's value for every rank ("auto": the cost model's choice).
inline std::vector<std::unique_ptr<Communicator>> makeThreadRanks(
    int size, const std::string& algorithm = "auto") {
  Config config;
  config.timeoutMs = 20000;
  config.algorithm = algorithm;
  return makeThreadRanks(size, config);
}

// Runs `body(rank, communicator)` on one thread per rank, and waits for all.
inline void onEveryRank(std::vector<std::unique_ptr<Communicator>>& ranks,
                        const std::function<void(int, Communicator&)>& body) {
  std::vector<std::thread> threads;
  for (size_t r = 0; r < ranks.size(); ++r) {
    threads.emplace_back([&, r] { body(static_cast<int>(r), *ranks[r]); });
  }
  for (std::thread& thread : threads) thread.join();
}

}  // namespace gccl::testing_support
