// CudaCopyEngine: without a GPU it refuses cleanly ("no CUDA device"); with one, copies round
// trip, isDevice tells device from host memory, and a staged allreduce of device buffers is
// exact on 2 ranks (threads sharing the GPU, one engine each).
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cuda/cuda_copy_engine.h"
#include "cuda/staged_collectives.h"
#include "multirank/thread_ranks.h"
#include "verifiable.h"

namespace gccl {
namespace {

// The engine, or null after checking the error on a machine without a GPU (kept in `why`).
std::unique_ptr<CudaCopyEngine> engineOrSkip(std::string& why) {
  try {
    return std::make_unique<CudaCopyEngine>();
  } catch (const Error& e) {
    why = e.what();
    EXPECT_EQ(std::string(e.what()).rfind("no CUDA device", 0), 0u) << e.what();
    EXPECT_EQ(e.status(), Status::kSystemError);
    return nullptr;
  }
}

TEST(CudaCopyEngine, RoundTrip) {
  std::string why;
  auto engine = engineOrSkip(why);
  if (!engine) GTEST_SKIP() << why;
  constexpr size_t kBytes = 1 << 20;
  void* device = nullptr;
  ASSERT_EQ(cudaMalloc(&device, kBytes), cudaSuccess);
  std::byte* staging = engine->allocateStaging(kBytes);
  std::vector<std::byte> host(kBytes);
  EXPECT_TRUE(engine->isDevice(device));
  EXPECT_FALSE(engine->isDevice(host.data()));
  EXPECT_FALSE(engine->isDevice(staging));
  for (size_t i = 0; i < kBytes; ++i) staging[i] = static_cast<std::byte>(i * 7);
  engine->wait(engine->copyToDevice(device, staging, kBytes));
  std::memset(staging, 0, kBytes);
  const CopyTicket back = engine->copyToHost(staging, device, kBytes);
  while (!engine->done(back)) {
  }
  for (size_t i = 0; i < kBytes; ++i) ASSERT_EQ(staging[i], static_cast<std::byte>(i * 7)) << i;
  engine->freeStaging(staging);
  EXPECT_EQ(cudaFree(device), cudaSuccess);
}

TEST(CudaCopyEngine, StagedAllreduceOnTwoRanks) {
  std::string why;
  if (!engineOrSkip(why)) GTEST_SKIP() << why;
  constexpr size_t kCount = (1 << 20) + 3;
  Config config;
  config.timeoutMs = 20000;
  auto ranks = testing_support::makeThreadRanks(2, config);
  testing_support::onEveryRank(ranks, [&](int rank, Communicator& comm) {
    CudaCopyEngine engine;
    StagedCollectives staged(comm, engine, StagingOptions{.sliceBytes = 256 << 10, .slots = 4});
    std::vector<float> host(kCount);
    perf::fillInput(host.data(), kCount, gcclFloat32, gcclAvg, rank, 2);
    void* device = nullptr;
    ASSERT_EQ(cudaMalloc(&device, kCount * sizeof(float)), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(device, host.data(), kCount * sizeof(float), cudaMemcpyHostToDevice),
              cudaSuccess);
    staged.allreduce(device, device, kCount, DataType::kFloat32, ReduceOp::kAvg);
    ASSERT_EQ(cudaMemcpy(host.data(), device, kCount * sizeof(float), cudaMemcpyDeviceToHost),
              cudaSuccess);
    EXPECT_EQ(perf::countWrong(host.data(), kCount, gcclFloat32, gcclAvg, 2), 0u);
    EXPECT_EQ(cudaFree(device), cudaSuccess);
  });
}

}  // namespace
}  // namespace gccl
