// CudaCopyEngine: without a GPU it refuses cleanly ("no CUDA device"); with one, copies round
// trip, isDevice tells device from host memory, a staged allreduce of device buffers is exact
// on 2 ranks (threads sharing the GPU, one engine each), and the C API takes cudaMalloc'd
// buffers: the blocking forms, and the OnStream forms ordered on real CUDA streams. The
// converting copies' kernels match the host codec bit for bit, and the gradient sync's 16-bit
// wire converts cudaMalloc'd tensors on the GPU to exact results.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>
#include <gccl/gccl.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cuda/cuda_copy_engine.h"
#include "cuda/device_pointers.h"
#include "cuda/staged_collectives.h"
#include "fp16/codec.h"
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

// Runs body(rank, comm) on `size` ranks as threads, each with a communicator made through the
// C API over loopback; the body destroys it.
template <typename Body>
void onCApiRanks(int size, const Body& body) {
  setenv("GCCL_SOCKET_ADDR", "127.0.0.1", 1);  // NOLINT(concurrency-mt-unsafe)
  gcclUniqueId id;
  ASSERT_EQ(gcclGetUniqueId(&id), gcclSuccess);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < size; ++rank) {
    threads.emplace_back([&, rank] {
      gcclComm_t comm = nullptr;
      ASSERT_EQ(gcclCommInitRank(&comm, size, id, rank), gcclSuccess) << gcclGetLastError(nullptr);
      body(rank, comm);
    });
  }
  for (auto& thread : threads) thread.join();
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
// The ranks are threads of one process, so their host buffers are pinned: a copy into pageable
// memory from a held stream blocks in the driver until the collective ends, and may stall the
// other rank's cudaMalloc or cudaHostAlloc (the driver's lock) before it joins the collective.
// The blocking call comes first for the same reason: it makes both ranks' engines and staging
// (cudaHostAlloc, or cudaHostRegister of shareable memory) before any stream is held, and,
// being a collective, lines the ranks up.
TEST(CudaCopyEngine, CApiOnStreamsAndBlocking) {
  std::string why;
  if (!engineOrSkip(why)) GTEST_SKIP() << why;
  constexpr int kRanks = 2;
  constexpr size_t kCount = (3 << 20) + 5;  // several default slices
  onCApiRanks(kRanks, [&](int rank, gcclComm_t comm) {
    const size_t bytes = kCount * sizeof(float);
    void* pinnedInput = nullptr;
    void* pinnedOutput = nullptr;
    void* device = nullptr;
    void* gathered = nullptr;
    cudaStream_t stream = nullptr;
    ASSERT_EQ(cudaMallocHost(&pinnedInput, bytes), cudaSuccess);
    ASSERT_EQ(cudaMallocHost(&pinnedOutput, kRanks * bytes), cudaSuccess);
    auto* input = static_cast<float*>(pinnedInput);
    auto* output = static_cast<float*>(pinnedOutput);
    ASSERT_EQ(cudaMalloc(&device, bytes), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&gathered, kRanks * bytes), cudaSuccess);
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
    perf::fillInput(input, kCount, gcclFloat32, gcclSum, rank, kRanks);

    // The blocking form: after the legacy default stream's work, done on return.
    ASSERT_EQ(cudaMemcpy(device, input, bytes, cudaMemcpyHostToDevice), cudaSuccess);
    EXPECT_EQ(gcclAllReduce(device, device, kCount, gcclFloat32, gcclSum, comm), gcclSuccess)
        << gcclGetLastError(comm);
    ASSERT_EQ(cudaMemcpy(output, device, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
    EXPECT_EQ(perf::countWrong(output, kCount, gcclFloat32, gcclSum, kRanks), 0u);

    // The stream-ordered forms, queued behind a copy and ahead of one on the same stream.
    std::memset(output, 0, kRanks * bytes);
    ASSERT_EQ(cudaMemcpyAsync(device, input, bytes, cudaMemcpyHostToDevice, stream), cudaSuccess);
    EXPECT_EQ(gcclAllGatherOnStream(device, gathered, kCount, gcclFloat32, comm, stream),
              gcclSuccess)
        << gcclGetLastError(comm);
    EXPECT_EQ(gcclAllReduceOnStream(device, device, kCount, gcclFloat32, gcclSum, comm, stream),
              gcclSuccess)
        << gcclGetLastError(comm);
    ASSERT_EQ(cudaMemcpyAsync(output, device, bytes, cudaMemcpyDeviceToHost, stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    EXPECT_EQ(perf::countWrong(output, kCount, gcclFloat32, gcclSum, kRanks), 0u);
    ASSERT_EQ(cudaMemcpy(output, gathered, kRanks * bytes, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int r = 0; r < kRanks; ++r) {
      EXPECT_EQ(perf::countWrongInput(output + r * kCount, kCount, gcclFloat32, gcclSum, r, kRanks),
                0u);
    }

    gcclResult_t asyncError = gcclInternalError;
    EXPECT_EQ(gcclCommGetAsyncError(comm, &asyncError), gcclSuccess);
    EXPECT_EQ(asyncError, gcclSuccess);
    EXPECT_EQ(gcclCommDestroy(comm), gcclSuccess);
    EXPECT_EQ(cudaStreamDestroy(stream), cudaSuccess);
    EXPECT_EQ(cudaFree(gathered), cudaSuccess);
    EXPECT_EQ(cudaFree(device), cudaSuccess);
    EXPECT_EQ(cudaFreeHost(output), cudaSuccess);
    EXPECT_EQ(cudaFreeHost(input), cudaSuccess);
  });
}

// Every 16-bit pattern decodes, and a spread of fp32 patterns (every exponent, NaNs and
// subnormals included) encodes at three scales, to exactly the host codec's bits.
TEST(CudaCopyEngine, ConvertsBitForBitWithTheHostCodec) {
  std::string why;
  auto engine = engineOrSkip(why);
  if (!engine) GTEST_SKIP() << why;
  ASSERT_TRUE(engine->convertsHalf()) << "built without the CUDA kernels (no nvcc?)";
  constexpr size_t kHalves = 1 << 16;
  constexpr size_t kFloats = 1 << 22;
  std::vector<uint16_t> halves(kHalves);
  for (size_t i = 0; i < kHalves; ++i) halves[i] = static_cast<uint16_t>(i);
  std::vector<float> floats(kFloats);
  for (size_t i = 0; i < kFloats; ++i) {
    const auto bits = static_cast<uint32_t>(i * 1024 + (i * 2654435761u) % 1024);
    std::memcpy(&floats[i], &bits, sizeof bits);
  }
  void* memory = nullptr;
  ASSERT_EQ(cudaMalloc(&memory, kFloats * sizeof(float)), cudaSuccess);
  auto* device = static_cast<float*>(memory);
  for (const HalfFormat format : {HalfFormat::kFloat16, HalfFormat::kBfloat16}) {
    const int f = static_cast<int>(format);
    std::vector<float> expected(kHalves);
    std::vector<float> decoded(kHalves);
    decode(format, expected.data(), halves.data(), kHalves);
    engine->wait(engine->decodeToDevice(device, halves.data(), kHalves, format));
    ASSERT_EQ(cudaMemcpy(decoded.data(), device, kHalves * sizeof(float), cudaMemcpyDeviceToHost),
              cudaSuccess);
    EXPECT_EQ(std::memcmp(decoded.data(), expected.data(), kHalves * sizeof(float)), 0)
        << "format " << f;

    ASSERT_EQ(cudaMemcpy(device, floats.data(), kFloats * sizeof(float), cudaMemcpyHostToDevice),
              cudaSuccess);
    for (const float scale : {1.0f, 0.5f, 1.0f / 3}) {
      std::vector<uint16_t> want(kFloats);
      std::vector<uint16_t> got(kFloats);
      encode(format, want.data(), floats.data(), kFloats, scale);
      engine->wait(engine->encodeToHost(got.data(), device, kFloats, format, scale));
      size_t wrong = 0;
      for (size_t i = 0; i < kFloats; ++i) wrong += got[i] != want[i];
      EXPECT_EQ(wrong, 0u) << "format " << f << " scale " << scale;
    }
  }
  EXPECT_EQ(cudaFree(device), cudaSuccess);
}

// The gradient sync's copy mode with a float16 wire and pre-division on cudaMalloc'd tensors:
// converted on the GPU, exact on integer-valued gradients.
TEST(CudaCopyEngine, GradientSyncConvertsOnTheGpu) {
  std::string why;
  if (!engineOrSkip(why)) GTEST_SKIP() << why;
  constexpr int kRanks = 2;
  const std::vector<size_t> counts{(1 << 20) + 3, 17, 5000};
  const auto gradient = [](int rank, size_t t, size_t i) {
    return static_cast<float>(static_cast<int>((i * 7 + t * 3 + rank) % 61) - 30);
  };
  onCApiRanks(kRanks, [&](int rank, gcclComm_t comm) {
    gcclGradSyncConfig_t config = GCCL_GRAD_SYNC_CONFIG_INITIALIZER;
    config.copyMode = 1;
    config.compression = gcclWireFloat16;
    config.preDivide = 1;
    config.bucketBytes = 1 << 20;
    gcclGradSync_t sync = nullptr;
    ASSERT_EQ(gcclGradSyncCreate(comm, &config, &sync), gcclSuccess) << gcclGetLastError(comm);
    std::vector<float*> device(counts.size());
    for (size_t t = 0; t < counts.size(); ++t) {
      size_t index = 0;
      ASSERT_EQ(gcclGradSyncRegister(sync, nullptr, counts[t], gcclFloat32, &index), gcclSuccess);
      void* memory = nullptr;
      ASSERT_EQ(cudaMalloc(&memory, counts[t] * sizeof(float)), cudaSuccess);
      device[t] = static_cast<float*>(memory);
    }
    ASSERT_EQ(gcclGradSyncFinalize(sync, nullptr, nullptr), gcclSuccess);
    for (size_t t = 0; t < counts.size(); ++t) {
      std::vector<float> values(counts[t]);
      for (size_t i = 0; i < counts[t]; ++i) values[i] = gradient(rank, t, i);
      ASSERT_EQ(
          cudaMemcpy(device[t], values.data(), counts[t] * sizeof(float), cudaMemcpyHostToDevice),
          cudaSuccess);
      ASSERT_EQ(gcclGradSyncMarkReady(sync, t, device[t]), gcclSuccess) << gcclGetLastError(comm);
    }
    gcclGradSyncStats_t stats{};
    ASSERT_EQ(gcclGradSyncWait(sync, &stats), gcclSuccess) << gcclGetLastError(comm);
    EXPECT_EQ(stats.nonFinite, 0);
    for (size_t t = 0; t < counts.size(); ++t) {
      std::vector<float> result(counts[t]);
      ASSERT_EQ(
          cudaMemcpy(result.data(), device[t], counts[t] * sizeof(float), cudaMemcpyDeviceToHost),
          cudaSuccess);
      size_t wrong = 0;
      for (size_t i = 0; i < counts[t]; ++i) {
        wrong += result[i] != (gradient(0, t, i) + gradient(1, t, i)) / 2;
      }
      EXPECT_EQ(wrong, 0u) << "rank " << rank << " tensor " << t;
      EXPECT_EQ(cudaFree(device[t]), cudaSuccess);
    }
    EXPECT_EQ(gcclGradSyncDestroy(sync), gcclSuccess);
    EXPECT_EQ(gcclCommDestroy(comm), gcclSuccess);
  });
}

}  // namespace
}  // namespace gccl
