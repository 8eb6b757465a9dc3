// Communicator split, ranks as threads: members and their order follow (color, key, rank), a
// negative color gets no communicator, and the new communicators run collectives at the same
// time as their parent (and as each other), exactly.
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "bootstrap/locality.h"
#include "bootstrap/memory_store.h"
#include "bootstrap/tcp_store.h"
#include "core/communicator.h"
#include "transport/inproc/inproc_transport.h"

namespace gccl {
namespace {

constexpr int kSize = 7;

// One store for the whole job (a split rendezvouses in it) and one in-process fabric.
std::vector<std::unique_ptr<Communicator>> parents() {
  auto store = std::make_shared<MemoryStore>();
  auto transport = std::make_shared<transport::inproc::InprocTransport>(
      std::make_shared<transport::inproc::InprocFabric>());
  const RouteFactory routes = [transport](const MachineShare&) {
    return TransportRouter(transport);
  };
  Config config;
  config.timeoutMs = 20000;
  std::vector<std::unique_ptr<Communicator>> ranks;
  for (int r = 0; r < kSize; ++r) {
    ranks.push_back(std::make_unique<Communicator>(r, kSize, config, JobToken{}, store, nullptr,
                                                   routes(MachineShare{}), routes));
  }
  return ranks;
}

// Allreduces rank-dependent values on `comm`; true if every element is the exact sum.
bool sumsExactly(Communicator& comm, const std::vector<int>& parentRankOf, int parentRank) {
  std::vector<int64_t> data(5000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<int64_t>(i) * (parentRank + 1);
  auto request = comm.allreduce(data.data(), data.data(), data.size(), DataType::kInt64,
                                ReduceOp::kSum, false);
  request->wait();
  if (request->status() != Status::kSuccess) {
    ADD_FAILURE() << request->message();
    return false;
  }
  int64_t factor = 0;
  for (int member : parentRankOf) factor += member + 1;
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != static_cast<int64_t>(i) * factor) return false;
  }
  return true;
}

TEST(CommSplit, MembersOrderAndConcurrentUseWithTheParent) {
  auto ranks = parents();
  // Colors: rank 6 opts out; evens and odds otherwise. Keys reverse the order.
  auto colorOf = [](int r) { return r == 6 ? -1 : r % 2; };
  std::vector<std::unique_ptr<Communicator>> children(kSize);
  std::vector<std::thread> threads;
  for (int r = 0; r < kSize; ++r) {
    threads.emplace_back([&, r] { children[r] = ranks[r]->split(colorOf(r), -r); });
  }
  for (auto& thread : threads) thread.join();
  threads.clear();

  const std::vector<int> evens = {4, 2, 0};  // by key: -4 < -2 < 0
  const std::vector<int> odds = {5, 3, 1};
  ASSERT_EQ(children[6], nullptr);
  for (int r = 0; r < 6; ++r) {
    ASSERT_NE(children[r], nullptr) << "rank " << r;
    const std::vector<int>& group = r % 2 == 0 ? evens : odds;
    EXPECT_EQ(children[r]->size(), 3);
    EXPECT_EQ(group[static_cast<size_t>(children[r]->rank())], r);
  }

  // Children and parent at once, several rounds, from each rank's own thread.
  std::vector<int> wrong(kSize, 0);
  std::vector<int> everyone;
  for (int r = 0; r < kSize; ++r) everyone.push_back(r);
  for (int r = 0; r < kSize; ++r) {
    threads.emplace_back([&, r] {
      for (int round = 0; round < 5; ++round) {
        if (children[r] && !sumsExactly(*children[r], r % 2 == 0 ? evens : odds, r)) ++wrong[r];
        if (!sumsExactly(*ranks[r], everyone, r)) ++wrong[r];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int r = 0; r < kSize; ++r) EXPECT_EQ(wrong[r], 0) << "rank " << r;

  // A split of a split, and the parent destroyed before its children.
  threads.clear();
  std::vector<std::unique_ptr<Communicator>> grandchildren(kSize);
  for (int r = 0; r < 6; ++r) {
    threads.emplace_back([&, r] { grandchildren[r] = children[r]->split(0, r); });
  }
  for (auto& thread : threads) thread.join();
  threads.clear();
  ranks.clear();
  for (int r = 0; r < 6; ++r) {
    threads.emplace_back([&, r] {
      if (!sumsExactly(*grandchildren[r],
                       r % 2 == 0 ? std::vector<int>{0, 2, 4} : std::vector<int>{1, 3, 5}, r)) {
        ++wrong[r];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int r = 0; r < 6; ++r) EXPECT_EQ(wrong[r], 0) << "rank " << r;
}

}  // namespace
}  // namespace gccl
