// Transports per peer: the router sends each peer through the transport its route names, and
// a communicator runs collectives over connections from several transports at once. Ranks are
// threads; the "same machine" transport and the default one are two separate in-process
// fabrics, so a peer routed differently on its two ends never connects and the test fails.
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/memory_store.h"
#include "bootstrap/tcp_store.h"
#include "core/communicator.h"
#include "core/shm_agreement.h"
#include "core/transport_router.h"
#include "transport/inproc/inproc_transport.h"

namespace gccl {
namespace {

using transport::inproc::InprocFabric;
using transport::inproc::InprocTransport;

// A real in-process transport that also records which peers it was asked to connect.
class RecordingTransport final : public Transport {
 public:
  RecordingTransport(std::string name, std::shared_ptr<InprocFabric> fabric)
      : name_(std::move(name)), inner_(std::move(fabric)) {}
  std::string name() const override { return name_; }
  ConnectionMap connect(const ConnectRequest& request, Store& store, Poller& poller) override {
    connected.insert(request.peers.begin(), request.peers.end());
    return inner_.connect(request, store, poller);
  }
  std::set<int> connected;

 private:
  std::string name_;
  InprocTransport inner_;
};

TEST(TransportRouter, EachPeerGoesThroughItsRoute) {
  auto everyPeer = std::make_shared<RecordingTransport>("far", std::make_shared<InprocFabric>());
  auto local = std::make_shared<RecordingTransport>("near", std::make_shared<InprocFabric>());
  TransportRouter router(everyPeer);
  router.routeSameMachine({0, 1, 3}, local);
  EXPECT_EQ(&router.transportFor(1), local.get());
  EXPECT_EQ(&router.transportFor(3), local.get());
  EXPECT_EQ(&router.transportFor(2), everyPeer.get());
  EXPECT_EQ(router.describe({1, 2, 3}), "near for 2 peers (ranks 1 3), far for 1 peer (rank 2)");
  EXPECT_EQ(router.describe({2}), "far for 1 peer (rank 2)");
}

TEST(TransportRouter, CollectivesRunOverTwoTransportsAtOnce) {
  // Ranks 0,1 share one "machine", ranks 2,3 another.
  constexpr int kSize = 4;
  auto farFabric = std::make_shared<InprocFabric>();
  auto nearFabric = std::make_shared<InprocFabric>();
  std::vector<std::shared_ptr<RecordingTransport>> far, near;
  std::vector<std::unique_ptr<Communicator>> ranks(kSize);
  Config config;
  config.timeoutMs = 5000;
  for (int r = 0; r < kSize; ++r) {
    far.push_back(std::make_shared<RecordingTransport>("far", farFabric));
    near.push_back(std::make_shared<RecordingTransport>("near", nearFabric));
  }
  for (int r = 0; r < kSize; ++r) {
    TransportRouter router(far[r]);
    router.routeSameMachine(r < 2 ? std::vector<int>{0, 1} : std::vector<int>{2, 3}, near[r]);
    ranks[r] = std::make_unique<Communicator>(r, kSize, config, JobToken{},
                                              std::make_unique<MemoryStore>(), nullptr, router);
  }
  for (int r = 0; r < kSize; ++r) {
    const int sameMachine = r ^ 1;
    EXPECT_EQ(near[r]->connected, std::set<int>{sameMachine}) << "rank " << r;
    std::set<int> others;
    for (int p = 0; p < kSize; ++p) {
      if (p != r && p != sameMachine) others.insert(p);
    }
    EXPECT_EQ(far[r]->connected, others) << "rank " << r;
  }
  std::vector<std::vector<int32_t>> data(kSize, std::vector<int32_t>(1001));
  std::vector<std::shared_ptr<Request>> requests;
  for (int r = 0; r < kSize; ++r) {
    for (size_t i = 0; i < data[r].size(); ++i) data[r][i] = static_cast<int32_t>(i) * (r + 1);
    requests.push_back(ranks[r]->allreduce(data[r].data(), data[r].data(), data[r].size(),
                                           DataType::kInt32, ReduceOp::kSum));
  }
  for (int r = 0; r < kSize; ++r) {
    requests[r]->wait();
    ASSERT_EQ(requests[r]->status(), Status::kSuccess) << requests[r]->message();
    for (size_t i = 0; i < data[r].size(); ++i) {
      ASSERT_EQ(data[r][i], static_cast<int32_t>(i) * 10) << "rank " << r << " element " << i;
    }
  }
}

// Every rank of a machine takes the same decision on shared memory: all say yes, or one rank
// that cannot map it (here rank 2) sends the whole machine over the network transport.
TEST(SharedMemoryAgreement, OneRankThatCannotMapItTurnsItOffForTheWholeMachine) {
  for (const int refusing : {-1, 2}) {
    MemoryStore store;
    const std::vector<int> local = {0, 1, 2, 3};
    std::vector<int> agreed(local.size(), -1);
    std::vector<std::thread> ranks;
    for (const int rank : local) {
      ranks.emplace_back([&, rank] {
        agreed[static_cast<size_t>(rank)] =
            machineAgreesOnSharedMemory(store, rank, rank != refusing, "no space left on /dev/shm",
                                        local, Deadline::afterMs(10000));
      });
    }
    for (auto& thread : ranks) thread.join();
    for (const int rank : local) {
      EXPECT_EQ(agreed[static_cast<size_t>(rank)], refusing < 0 ? 1 : 0)
          << "rank " << rank << ", refusing rank " << refusing;
    }
  }
}

// A local rank that never answers is a timeout, not a hang.
TEST(SharedMemoryAgreement, ASilentLocalRankIsATimeout) {
  MemoryStore store;
  try {
    machineAgreesOnSharedMemory(store, 0, true, "", {0, 1}, Deadline::afterMs(100));
    FAIL() << "expected a timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kTimeout) << e.what();
  }
}

}  // namespace
}  // namespace gccl
