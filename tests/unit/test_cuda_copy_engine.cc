// CudaCopyEngine: without a GPU it refuses cleanly ("no CUDA device"); with one, copies round
// trip, isDevice tells device from host memory, a staged allreduce of device buffers is exact
// on 2 ranks (threads sharing the GPU, one engine each), and the C API takes cudaMalloc'd
// buffers: the blocking forms, and the OnStream forms ordered on real CUDA streams.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>
#include <gccl/gccl.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cuda/cuda_copy_engine.h"
#include "cuda/device_pointers.h"
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

TEST(CudaCopyEngine, PointersAreLocatedByTheDriver) {
  std::string why;
  if (!engineOrSkip(why)) GTEST_SKIP() << why;
  void* device = nullptr;
  ASSERT_EQ(cudaMalloc(&device, 4096), cudaSuccess);
  void* pinned = nullptr;
  ASSERT_EQ(cudaMallocHost(&pinned, 4096), cudaSuccess);
  std::vector<float> host(16);
  EXPECT_TRUE(locatePointer(device).device);
  EXPECT_EQ(locatePointer(device).ordinal, 0);
  EXPECT_FALSE(locatePointer(pinned).device);
  EXPECT_FALSE(locatePointer(host.data()).device);
  EXPECT_EQ(cudaFreeHost(pinned), cudaSuccess);
  EXPECT_EQ(cudaFree(device), cudaSuccess);
}

// Two ranks (threads) through the C API with cudaMalloc'd buffers: the input is written by a
// copy queued on the stream before the call and the result read by one queued after it.
TEST(CudaCopyEngine, CApiOnStreamsAndBlocking) {
  std::string why;
  if (!engineOrSkip(why)) GTEST_SKIP() << why;
  constexpr int kRanks = 2;
  constexpr size_t kCount = (3 << 20) + 5;     // several default slices
  setenv("GCCL_SOCKET_ADDR", "127.0.0.1", 1);  // NOLINT(concurrency-mt-unsafe)
  gcclUniqueId id;
  ASSERT_EQ(gcclGetUniqueId(&id), gcclSuccess);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < kRanks; ++rank) {
    threads.emplace_back([&, rank] {
      gcclComm_t comm = nullptr;
      ASSERT_EQ(gcclCommInitRank(&comm, kRanks, id, rank), gcclSuccess)
          << gcclGetLastError(nullptr);
      const size_t bytes = kCount * sizeof(float);
      std::vector<float> input(kCount);
      std::vector<float> output(kRanks * kCount);
      perf::fillInput(input.data(), kCount, gcclFloat32, gcclSum, rank, kRanks);
      void* device = nullptr;
      void* gathered = nullptr;
      ASSERT_EQ(cudaMalloc(&device, bytes), cudaSuccess);
      ASSERT_EQ(cudaMalloc(&gathered, kRanks * bytes), cudaSuccess);
      cudaStream_t stream = nullptr;
      ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);

      ASSERT_EQ(cudaMemcpyAsync(device, input.data(), bytes, cudaMemcpyHostToDevice, stream),
                cudaSuccess);
      EXPECT_EQ(gcclAllGatherOnStream(device, gathered, kCount, gcclFloat32, comm, stream),
                gcclSuccess)
          << gcclGetLastError(comm);
      EXPECT_EQ(gcclAllReduceOnStream(device, device, kCount, gcclFloat32, gcclSum, comm, stream),
                gcclSuccess)
          << gcclGetLastError(comm);
      ASSERT_EQ(cudaMemcpyAsync(output.data(), device, bytes, cudaMemcpyDeviceToHost, stream),
                cudaSuccess);
      ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
      EXPECT_EQ(perf::countWrong(output.data(), kCount, gcclFloat32, gcclSum, kRanks), 0u);
      ASSERT_EQ(cudaMemcpy(output.data(), gathered, kRanks * bytes, cudaMemcpyDeviceToHost),
                cudaSuccess);
      for (int r = 0; r < kRanks; ++r) {
        EXPECT_EQ(perf::countWrongInput(output.data() + r * kCount, kCount, gcclFloat32, gcclSum, r,
                                        kRanks),
                  0u);
      }

      // The blocking form: after the legacy default stream's work, done on return.
      ASSERT_EQ(cudaMemcpy(device, input.data(), bytes, cudaMemcpyHostToDevice), cudaSuccess);
      EXPECT_EQ(gcclAllReduce(device, device, kCount, gcclFloat32, gcclSum, comm), gcclSuccess)
          << gcclGetLastError(comm);
      ASSERT_EQ(cudaMemcpy(output.data(), device, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
      EXPECT_EQ(perf::countWrong(output.data(), kCount, gcclFloat32, gcclSum, kRanks), 0u);

      gcclResult_t asyncError = gcclInternalError;
      EXPECT_EQ(gcclCommGetAsyncError(comm, &asyncError), gcclSuccess);
      EXPECT_EQ(asyncError, gcclSuccess);
      EXPECT_EQ(gcclCommDestroy(comm), gcclSuccess);
      EXPECT_EQ(cudaStreamDestroy(stream), cudaSuccess);
      EXPECT_EQ(cudaFree(gathered), cudaSuccess);
      EXPECT_EQ(cudaFree(device), cudaSuccess);
    });
  }
  for (auto& thread : threads) thread.join();
}

}  // namespace
}  // namespace gccl
