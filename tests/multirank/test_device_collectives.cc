// Device buffers through the C API, with ranks as threads and HostCopyEngine standing in for
// each rank's GPU (HostStream for its streams): every collective's blocking form on device
// buffers, the OnStream forms' order on the caller's stream (they start after the work queued
// before them and later work sees their result), host calls waiting for queued stream calls,
// the synchronous fallback, argument errors returned at once, and a failed stream call
// becoming the communicator's asynchronous error without leaving the stream held.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gccl/gccl.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/device_buffers.h"
#include "cuda/host_copy_engine.h"
#include "cuda/host_stream.h"
#include "verifiable.h"

namespace gccl {
namespace {

constexpr int kTimeoutMs = 10000;

// The staging a suite's communicators get: set before any thread starts (each test runs in a
// process of its own under ctest; in one process each suite sets its own before its tests).
void stageThrough(size_t sliceBytes, size_t stagingBytes) {
  const std::string slice = std::to_string(sliceBytes);
  const std::string staging = std::to_string(stagingBytes);
  setenv("GCCL_SOCKET_ADDR", "127.0.0.1", 1);            // NOLINT(concurrency-mt-unsafe)
  setenv("GCCL_GPU_SLICE_BYTES", slice.c_str(), 1);      // NOLINT(concurrency-mt-unsafe)
  setenv("GCCL_GPU_STAGING_BYTES", staging.c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
}

class DeviceCollectivesApi : public testing::Test {
 protected:
  // Small slices, so that a few hundred elements make many.
  static void SetUpTestSuite() { stageThrough(256, 768); }
};

// One rank: its communicator, its stand-in GPU and a stream on it.
struct Rank {
  gcclComm_t comm = nullptr;
  std::shared_ptr<HostCopyEngine> gpu;
  std::unique_ptr<HostStream> stream = std::make_unique<HostStream>();
};

std::vector<Rank> initRanks(int size, const HostCopyFaults& faults = {}, int failingRank = -1,
                            const HostCopyFaults& failing = {}) {
  gcclUniqueId id;
  EXPECT_EQ(gcclGetUniqueId(&id), gcclSuccess) << gcclGetLastError(nullptr);
  std::vector<Rank> ranks(size);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < size; ++rank) {
    threads.emplace_back([&, rank] {
      gcclConfig_t config = GCCL_CONFIG_INITIALIZER;
      config.timeoutMs = kTimeoutMs;
      EXPECT_EQ(gcclCommInitRankConfig(&ranks[rank].comm, size, id, rank, &config), gcclSuccess)
          << gcclGetLastError(nullptr);
    });
  }
  for (auto& thread : threads) thread.join();
  for (int rank = 0; rank < size; ++rank) {
    ranks[rank].gpu = std::make_shared<HostCopyEngine>(rank == failingRank ? failing : faults);
    api::attachCopyEngine(ranks[rank].comm, ranks[rank].gpu);
  }
  return ranks;
}

void destroyRanks(std::vector<Rank>& ranks) {
  // Communicators first: destroying one finishes its queued calls, which releases the holds
  // its stream's tasks wait on.
  for (Rank& rank : ranks) EXPECT_EQ(gcclCommDestroy(rank.comm), gcclSuccess);
  for (Rank& rank : ranks) rank.stream.reset();
}

template <typename Body>
void onEveryRank(std::vector<Rank>& ranks, const Body& body) {
  std::vector<std::thread> threads;
  for (size_t r = 0; r < ranks.size(); ++r) {
    threads.emplace_back([&, r] { body(static_cast<int>(r), ranks[r]); });
  }
  for (auto& thread : threads) thread.join();
}

// "Device" memory of the rank's stand-in GPU.
struct DeviceBuffer {
  HostCopyEngine& gpu;
  std::byte* data;
  DeviceBuffer(HostCopyEngine& engine, size_t bytes)
      : gpu(engine), data(engine.allocateDevice(std::max<size_t>(bytes, 1))) {}
  ~DeviceBuffer() { gpu.freeDevice(data); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

constexpr size_t kCount = 300;  // 5 slices of 64 float32 for the allreduce

TEST_F(DeviceCollectivesApi, BlockingFormsStageEveryCollective) {
  constexpr int kRanks = 3;
  std::vector<Rank> ranks = initRanks(kRanks);
  onEveryRank(ranks, [&](int rank, Rank& me) {
    HostCopyEngine& gpu = *me.gpu;
    const size_t bytes = kCount * sizeof(float);
    DeviceBuffer send(gpu, kRanks * bytes);
    DeviceBuffer recv(gpu, kRanks * bytes);
    const auto fill = [&](size_t count) {
      perf::fillInput(send.data, count, gcclFloat32, gcclSum, rank, kRanks);
    };

    fill(kCount);
    ASSERT_EQ(gcclAllReduce(send.data, recv.data, kCount, gcclFloat32, gcclSum, me.comm),
              gcclSuccess)
        << gcclGetLastError(me.comm);
    EXPECT_EQ(perf::countWrong(recv.data, kCount, gcclFloat32, gcclSum, kRanks), 0u);
    EXPECT_GT(gpu.copiesQueued(), 0u);  // it took the staging path

    ASSERT_EQ(gcclBroadcast(send.data, recv.data, kCount, gcclFloat32, 1, me.comm), gcclSuccess)
        << gcclGetLastError(me.comm);
    EXPECT_EQ(perf::countWrongInput(recv.data, kCount, gcclFloat32, gcclSum, 1, kRanks), 0u);

    ASSERT_EQ(gcclReduce(send.data, recv.data, kCount, gcclFloat32, gcclSum, 2, me.comm),
              gcclSuccess)
        << gcclGetLastError(me.comm);
    if (rank == 2) {
      EXPECT_EQ(perf::countWrong(recv.data, kCount, gcclFloat32, gcclSum, kRanks), 0u);
    }

    ASSERT_EQ(gcclAllGather(send.data, recv.data, kCount, gcclFloat32, me.comm), gcclSuccess)
        << gcclGetLastError(me.comm);
    for (int r = 0; r < kRanks; ++r) {
      EXPECT_EQ(
          perf::countWrongInput(recv.data + r * bytes, kCount, gcclFloat32, gcclSum, r, kRanks),
          0u);
    }

    const std::vector<size_t> counts{7, 130, 0};
    const std::vector<size_t> displs{200, 0, 190};
    fill(counts[rank]);
    ASSERT_EQ(gcclAllGatherV(send.data, counts[rank], recv.data, counts.data(), displs.data(),
                             gcclFloat32, me.comm),
              gcclSuccess)
        << gcclGetLastError(me.comm);
    for (int r = 0; r < kRanks; ++r) {
      EXPECT_EQ(perf::countWrongInput(recv.data + displs[r] * sizeof(float), counts[r], gcclFloat32,
                                      gcclSum, r, kRanks),
                0u);
    }

    fill(kRanks * kCount);
    ASSERT_EQ(gcclReduceScatter(send.data, recv.data, kCount, gcclFloat32, gcclSum, me.comm),
              gcclSuccess)
        << gcclGetLastError(me.comm);
    EXPECT_EQ(perf::countWrong(recv.data, kCount, gcclFloat32, gcclSum, kRanks, rank * kCount), 0u);

    // Host buffers on the same communicator take the host path: no copy.
    const uint64_t copies = gpu.copiesQueued();
    std::vector<float> host(kCount);
    perf::fillInput(host.data(), kCount, gcclFloat32, gcclSum, rank, kRanks);
    ASSERT_EQ(gcclAllReduce(host.data(), host.data(), kCount, gcclFloat32, gcclSum, me.comm),
              gcclSuccess);
    EXPECT_EQ(perf::countWrong(host.data(), kCount, gcclFloat32, gcclSum, kRanks), 0u);
    EXPECT_EQ(gpu.copiesQueued(), copies);
  });
  destroyRanks(ranks);
}

// Alltoallv of device buffers through both forms: blocking out of place, then on the default
// stream in place (a host call after it waits for it). Rank s sends rank r pairCount(s, r)
// elements; some pairs are empty, one (0 and 2) spans many slices. Symmetric, as in place each
// rank receives from a rank as much as it sends it.
size_t pairCount(int s, int r) {
  if ((s + r) % 3 == 1) return 0;
  return static_cast<size_t>(37 * (s + r) + 3 + (s + r == 2 && s != r ? 400 : 0));
}

TEST_F(DeviceCollectivesApi, AllToAllVStagesBothForms) {
  constexpr int kRanks = 3;
  std::vector<Rank> ranks = initRanks(kRanks);
  // Send blocks in rank order, one element apart; receive blocks in reverse order.
  const auto offsets = [](int me, bool receiving) {
    std::vector<size_t> displs(kRanks);
    size_t offset = 1;
    for (int i = 0; i < kRanks; ++i) {
      const int p = receiving ? kRanks - 1 - i : i;
      displs[p] = offset;
      offset += (receiving ? pairCount(p, me) : pairCount(me, p)) + 1;
    }
    return displs;
  };
  onEveryRank(ranks, [&](int rank, Rank& me) {
    HostCopyEngine& gpu = *me.gpu;
    constexpr size_t kElements = 1024;
    DeviceBuffer send(gpu, kElements * sizeof(float));
    DeviceBuffer recv(gpu, kElements * sizeof(float));
    std::vector<size_t> sendcounts(kRanks), recvcounts(kRanks);
    for (int p = 0; p < kRanks; ++p) {
      sendcounts[p] = pairCount(rank, p);
      recvcounts[p] = pairCount(p, rank);
    }
    const std::vector<size_t> sdispls = offsets(rank, false);
    const std::vector<size_t> rdispls = offsets(rank, true);
    const auto wrongBlocks = [&](const std::byte* received, bool inPlace) {
      size_t wrong = 0;
      for (int s = 0; s < kRanks; ++s) {
        // In place rank s sent from its receive layout: block r at its rdispls[r].
        const size_t from = (inPlace ? offsets(s, true) : offsets(s, false))[rank];
        wrong += perf::countWrongInput(received + rdispls[s] * sizeof(float), recvcounts[s],
                                       gcclFloat32, gcclSum, s, kRanks, from);
      }
      return wrong;
    };

    perf::fillInput(send.data, kElements, gcclFloat32, gcclSum, rank, kRanks);
    const uint64_t copies = gpu.copiesQueued();
    ASSERT_EQ(gcclAllToAllV(send.data, sendcounts.data(), sdispls.data(), recv.data,
                            recvcounts.data(), rdispls.data(), gcclFloat32, me.comm),
              gcclSuccess)
        << gcclGetLastError(me.comm);
    EXPECT_GT(gpu.copiesQueued(), copies);  // it took the staging path
    EXPECT_EQ(wrongBlocks(recv.data, false), 0u) << "rank " << rank << " out of place";

    perf::fillInput(recv.data, kElements, gcclFloat32, gcclSum, rank, kRanks);
    ASSERT_EQ(gcclAllToAllVOnStream(recv.data, nullptr, nullptr, recv.data, recvcounts.data(),
                                    rdispls.data(), gcclFloat32, me.comm, nullptr),
              gcclSuccess)
        << gcclGetLastError(me.comm);
    int one = 1;  // a host call: returns once the stream-ordered call before it has finished
    ASSERT_EQ(gcclAllReduce(&one, &one, 1, gcclInt32, gcclSum, me.comm), gcclSuccess);
    EXPECT_EQ(wrongBlocks(recv.data, true), 0u) << "rank " << rank << " in place, on the stream";
  });
  destroyRanks(ranks);
}

// Slices large enough that the shm peers read them in place from the slots (zero-copy from
// 64 KiB): the slots are shareable memory, each slice's collective reads and reduces the
// peers' slots, and two slots are reused through six or more slices. Every collective, in
// place where NCCL allows it, exact on every rank.
class DeviceCollectivesOnSharedSlots : public testing::Test {
 protected:
  static void SetUpTestSuite() { stageThrough(size_t{1} << 20, size_t{2} << 20); }
  static constexpr int kRanks = 3;
  static constexpr size_t kLarge = 1536 * 1024;  // 6 MiB of float32: 6 slices of 1 MiB
  static constexpr size_t kBlock = 300 * 1024;   // per rank: 1.2 MiB, 4 blockwise slices
};

TEST_F(DeviceCollectivesOnSharedSlots, EveryCollectiveIsExact) {
  std::vector<Rank> ranks = initRanks(kRanks);
  onEveryRank(ranks, [&](int rank, Rank& me) {
    HostCopyEngine& gpu = *me.gpu;
    DeviceBuffer send(gpu, kLarge * sizeof(float));
    DeviceBuffer recv(gpu, kLarge * sizeof(float));
    const auto fill = [&](std::byte* into, size_t count) {
      perf::fillInput(into, count, gcclFloat32, gcclSum, rank, kRanks);
    };
    const auto at = [](std::byte* buffer, size_t elements) {
      return buffer + elements * sizeof(float);
    };
    const auto ok = [&](gcclResult_t result) {
      EXPECT_EQ(result, gcclSuccess) << "rank " << rank << ": " << gcclGetLastError(me.comm);
      return result == gcclSuccess;
    };

    fill(send.data, kLarge);
    ASSERT_TRUE(ok(gcclAllReduce(send.data, recv.data, kLarge, gcclFloat32, gcclSum, me.comm)));
    EXPECT_EQ(perf::countWrong(recv.data, kLarge, gcclFloat32, gcclSum, kRanks), 0u);
    ASSERT_TRUE(ok(gcclAllReduce(send.data, send.data, kLarge, gcclFloat32, gcclSum, me.comm)));
    EXPECT_EQ(perf::countWrong(send.data, kLarge, gcclFloat32, gcclSum, kRanks), 0u) << "in place";
    EXPECT_EQ(gpu.pinnedBuffers(), me.comm->communicator->hasZeroCopyPeers() ? 1u : 0u)
        << "the slots: shareable memory, pinned, where the peers map it";

    fill(send.data, kLarge);
    ASSERT_TRUE(ok(gcclBroadcast(send.data, send.data, kLarge, gcclFloat32, 1, me.comm)));
    EXPECT_EQ(perf::countWrongInput(send.data, kLarge, gcclFloat32, gcclSum, 1, kRanks), 0u);

    fill(send.data, kLarge);
    ASSERT_TRUE(ok(gcclReduce(send.data, recv.data, kLarge, gcclFloat32, gcclSum, 2, me.comm)));
    if (rank == 2) {
      EXPECT_EQ(perf::countWrong(recv.data, kLarge, gcclFloat32, gcclSum, kRanks), 0u);
    }

    // Allgather in place: this rank's block already in its place in the output.
    fill(at(recv.data, rank * kBlock), kBlock);
    ASSERT_TRUE(
        ok(gcclAllGather(at(recv.data, rank * kBlock), recv.data, kBlock, gcclFloat32, me.comm)));
    for (int r = 0; r < kRanks; ++r) {
      EXPECT_EQ(
          perf::countWrongInput(at(recv.data, r * kBlock), kBlock, gcclFloat32, gcclSum, r, kRanks),
          0u)
          << "allgather, block " << r;
    }

    const std::vector<size_t> counts{kBlock, 7, kBlock / 2};
    const std::vector<size_t> displs{kBlock, 0, 3 * kBlock};
    fill(send.data, counts[rank]);
    ASSERT_TRUE(ok(gcclAllGatherV(send.data, counts[rank], recv.data, counts.data(), displs.data(),
                                  gcclFloat32, me.comm)));
    for (int r = 0; r < kRanks; ++r) {
      EXPECT_EQ(perf::countWrongInput(at(recv.data, displs[r]), counts[r], gcclFloat32, gcclSum, r,
                                      kRanks),
                0u)
          << "allgatherv, block " << r;
    }

    // Reduce-scatter in place: the result lands on this rank's block of the input.
    fill(send.data, kRanks * kBlock);
    ASSERT_TRUE(ok(gcclReduceScatter(send.data, at(send.data, rank * kBlock), kBlock, gcclFloat32,
                                     gcclSum, me.comm)));
    EXPECT_EQ(perf::countWrong(at(send.data, rank * kBlock), kBlock, gcclFloat32, gcclSum, kRanks,
                               rank * kBlock),
              0u);
  });
  destroyRanks(ranks);
}

// Rank 1's fourth copy (slice 0 coming back) fails while the next slice's collective reads
// its slots in place: every rank's call fails (rank 1's naming the copy and the slice), none
// waits for its timeout, and the communicators close with the slots still mapped by peers.
TEST_F(DeviceCollectivesOnSharedSlots, FailingCopyFailsEveryRank) {
  HostCopyFaults failing;
  failing.failCopy = 3;
  std::vector<Rank> ranks = initRanks(kRanks, {}, 1, failing);
  onEveryRank(ranks, [&](int rank, Rank& me) {
    DeviceBuffer buffer(*me.gpu, kLarge * sizeof(float));
    perf::fillInput(buffer.data, kLarge, gcclFloat32, gcclSum, rank, kRanks);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_NE(gcclAllReduce(buffer.data, buffer.data, kLarge, gcclFloat32, gcclSum, me.comm),
              gcclSuccess)
        << "rank " << rank;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(kTimeoutMs / 2))
        << "rank " << rank << " waited for its timeout, not for rank 1's abort";
    const std::string error = gcclGetLastError(me.comm);
    if (rank == 1) {
      EXPECT_NE(error.find("copy 3 ("), std::string::npos) << error;
      EXPECT_NE(error.find("slice "), std::string::npos) << error;
    }
  });
  for (Rank& rank : ranks) EXPECT_EQ(gcclCommAbort(rank.comm), gcclSuccess);
  for (Rank& rank : ranks) rank.stream.reset();
}

// A "kernel" on the rank's stream that writes the rank's input once `go` is set: a call that
// did not wait for the stream would read zeros.
void queueInputKernel(Rank& me, std::byte* device, size_t count, int rank, int size,
                      std::shared_future<void> go) {
  me.stream->enqueue([=] {
    go.wait_for(std::chrono::seconds(20));
    perf::fillInput(device, count, gcclFloat32, gcclSum, rank, size);
  });
}

// A kernel on the rank's stream that writes its input once `go` is set, and an in-place
// allreduce of `buffer` queued behind it.
void allreduceAfterKernel(Rank& me, std::byte* buffer, int rank, int size,
                          std::shared_future<void> go) {
  queueInputKernel(me, buffer, kCount, rank, size, std::move(go));
  ASSERT_EQ(
      gcclAllReduceOnStream(buffer, buffer, kCount, gcclFloat32, gcclSum, me.comm, me.stream.get()),
      gcclSuccess)
      << gcclGetLastError(me.comm);
}

// Sets `go` from another thread after a while: a call made meanwhile must wait for it.
std::thread setLater(std::promise<void>& go) {
  return std::thread([&go] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    go.set_value();
  });
}

TEST_F(DeviceCollectivesApi, StreamFormsRunInTheStreamsOrder) {
  constexpr int kRanks = 3;
  HostCopyFaults faults;
  faults.jitter = std::chrono::microseconds(200);
  faults.shuffleSeed = 3;
  std::vector<Rank> ranks = initRanks(kRanks, faults);
  onEveryRank(ranks, [&](int rank, Rank& me) {
    const size_t bytes = kCount * sizeof(float);
    DeviceBuffer input(*me.gpu, bytes);
    DeviceBuffer reduced(*me.gpu, bytes);
    DeviceBuffer gathered(*me.gpu, kRanks * bytes);
    std::promise<void> go;
    queueInputKernel(me, input.data, kCount, rank, kRanks, go.get_future().share());
    ASSERT_EQ(gcclAllReduceOnStream(input.data, reduced.data, kCount, gcclFloat32, gcclSum, me.comm,
                                    me.stream.get()),
              gcclSuccess)
        << gcclGetLastError(me.comm);
    ASSERT_EQ(gcclAllGatherOnStream(input.data, gathered.data, kCount, gcclFloat32, me.comm,
                                    me.stream.get()),
              gcclSuccess)
        << gcclGetLastError(me.comm);
    // Returned while the kernel before them still waits: the calls were queued, not run.
    std::vector<std::byte> seenReduced(bytes);
    std::vector<std::byte> seenGathered(kRanks * bytes);
    me.stream->enqueue([&] {  // later work on the stream reads the results
      std::memcpy(seenReduced.data(), reduced.data, bytes);
      std::memcpy(seenGathered.data(), gathered.data, kRanks * bytes);
    });
    // Long enough for a call that did not wait for the kernel to have read its zeros.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    go.set_value();
    me.stream->synchronize();
    EXPECT_EQ(perf::countWrong(seenReduced.data(), kCount, gcclFloat32, gcclSum, kRanks), 0u)
        << "rank " << rank;
    for (int r = 0; r < kRanks; ++r) {
      EXPECT_EQ(perf::countWrongInput(seenGathered.data() + r * bytes, kCount, gcclFloat32, gcclSum,
                                      r, kRanks),
                0u)
          << "rank " << rank << " block " << r;
    }
  });
  destroyRanks(ranks);
}

// A null stream is the legacy default stream: the blocking form starts after the work queued
// on it, and so does an OnStream call given NULL, whose result later work on it sees.
TEST_F(DeviceCollectivesApi, NullStreamIsTheDefaultStream) {
  constexpr int kRanks = 2;
  std::vector<Rank> ranks = initRanks(kRanks);
  onEveryRank(ranks, [&](int rank, Rank& me) {
    DeviceBuffer buffer(*me.gpu, kCount * sizeof(float));
    HostStream& defaultStream = me.gpu->defaultStream();
    for (bool onStream : {false, true}) {
      std::promise<void> go;
      std::shared_future<void> started = go.get_future().share();
      defaultStream.enqueue([&, started] {
        started.wait_for(std::chrono::seconds(20));
        perf::fillInput(buffer.data, kCount, gcclFloat32, gcclSum, rank, kRanks);
      });
      std::thread releaser = setLater(go);
      ASSERT_EQ(
          onStream ? gcclAllReduceOnStream(buffer.data, buffer.data, kCount, gcclFloat32, gcclSum,
                                           me.comm, nullptr)
                   : gcclAllReduce(buffer.data, buffer.data, kCount, gcclFloat32, gcclSum, me.comm),
          gcclSuccess)
          << gcclGetLastError(me.comm);
      std::vector<float> seen(kCount);
      defaultStream.enqueue([&] { std::memcpy(seen.data(), buffer.data, kCount * sizeof(float)); });
      defaultStream.synchronize();
      EXPECT_EQ(perf::countWrong(seen.data(), kCount, gcclFloat32, gcclSum, kRanks), 0u)
          << "rank " << rank << (onStream ? " OnStream(NULL)" : " blocking");
      releaser.join();
    }
  });
  destroyRanks(ranks);
}

// A host call made after a stream call goes after it on every rank: when it returns, the
// stream call's result is already in device memory.
TEST_F(DeviceCollectivesApi, HostCallWaitsForQueuedStreamCalls) {
  constexpr int kRanks = 2;
  std::vector<Rank> ranks = initRanks(kRanks);
  onEveryRank(ranks, [&](int rank, Rank& me) {
    DeviceBuffer buffer(*me.gpu, kCount * sizeof(float));
    std::promise<void> go;
    allreduceAfterKernel(me, buffer.data, rank, kRanks, go.get_future().share());
    std::thread releaser = setLater(go);
    std::vector<int32_t> host(16);
    perf::fillInput(host.data(), host.size(), gcclInt32, gcclSum, rank, kRanks);
    EXPECT_EQ(gcclAllReduce(host.data(), host.data(), host.size(), gcclInt32, gcclSum, me.comm),
              gcclSuccess)
        << gcclGetLastError(me.comm);
    EXPECT_EQ(perf::countWrong(buffer.data, kCount, gcclFloat32, gcclSum, kRanks), 0u);
    EXPECT_EQ(perf::countWrong(host.data(), host.size(), gcclInt32, gcclSum, kRanks), 0u);
    releaser.join();
  });
  destroyRanks(ranks);
}

// Destroy and split go after the stream calls queued before them, like a host call.
TEST_F(DeviceCollectivesApi, DestroyAndSplitFinishQueuedCalls) {
  constexpr int kRanks = 2;
  std::vector<Rank> ranks = initRanks(kRanks);
  std::vector<std::unique_ptr<DeviceBuffer>> buffers;
  for (Rank& me : ranks) {
    buffers.push_back(std::make_unique<DeviceBuffer>(*me.gpu, kCount * sizeof(float)));
  }
  onEveryRank(ranks, [&](int rank, Rank& me) {
    std::byte* buffer = buffers[rank]->data;
    for (int call = 0; call < 2; ++call) {  // before the split, then before the destroy
      std::promise<void> go;
      allreduceAfterKernel(me, buffer, rank, kRanks, go.get_future().share());
      std::thread releaser = setLater(go);
      if (call == 0) {
        gcclComm_t half = nullptr;
        EXPECT_EQ(gcclCommSplit(me.comm, 0, rank, &half), gcclSuccess) << gcclGetLastError(me.comm);
        EXPECT_EQ(gcclCommDestroy(half), gcclSuccess);
      } else {
        EXPECT_EQ(gcclCommDestroy(me.comm), gcclSuccess);
        me.comm = nullptr;
      }
      EXPECT_EQ(perf::countWrong(buffer, kCount, gcclFloat32, gcclSum, kRanks), 0u)
          << "rank " << rank << (call == 0 ? " after the split" : " after the destroy");
      releaser.join();
    }
  });
  for (Rank& rank : ranks) rank.stream.reset();
  buffers.clear();  // the engines outlive the communicators here: the test holds them
}

// holdStream failing while an earlier call still waits for the same stream: the call returns
// the error once the earlier call released the stream (the proxy is not locked out), and the
// communicator goes on.
TEST_F(DeviceCollectivesApi, FailedHoldReturnsWithoutBlockingTheProxy) {
  constexpr int kRanks = 2;
  std::vector<Rank> ranks = initRanks(kRanks);
  onEveryRank(ranks, [&](int rank, Rank& me) {
    DeviceBuffer buffer(*me.gpu, kCount * sizeof(float));
    std::promise<void> go;
    allreduceAfterKernel(me, buffer.data, rank, kRanks, go.get_future().share());
    HostCopyFaults failing;
    failing.failHolds = true;
    me.gpu->setFaults(failing);
    std::thread releaser = setLater(go);
    EXPECT_EQ(gcclAllReduceOnStream(buffer.data, buffer.data, kCount, gcclFloat32, gcclSum, me.comm,
                                    me.stream.get()),
              gcclSystemError);
    EXPECT_NE(std::string(gcclGetLastError(me.comm)).find("injected"), std::string::npos)
        << gcclGetLastError(me.comm);
    releaser.join();
    me.stream->synchronize();
    EXPECT_EQ(perf::countWrong(buffer.data, kCount, gcclFloat32, gcclSum, kRanks), 0u);
    me.gpu->setFaults({});
    std::vector<int32_t> host(8);
    perf::fillInput(host.data(), host.size(), gcclInt32, gcclSum, rank, kRanks);
    EXPECT_EQ(gcclAllReduce(host.data(), host.data(), host.size(), gcclInt32, gcclSum, me.comm),
              gcclSuccess)
        << gcclGetLastError(me.comm);
    EXPECT_EQ(perf::countWrong(host.data(), host.size(), gcclInt32, gcclSum, kRanks), 0u);
  });
  destroyRanks(ranks);
}

// An engine that cannot hold a stream: the stream form runs before it returns, still after the
// stream's earlier work.
TEST_F(DeviceCollectivesApi, WithoutStreamHoldsTheStreamFormRunsBeforeReturning) {
  constexpr int kRanks = 2;
  HostCopyFaults faults;
  faults.holdsStreams = false;
  std::vector<Rank> ranks = initRanks(kRanks, faults);
  onEveryRank(ranks, [&](int rank, Rank& me) {
    DeviceBuffer buffer(*me.gpu, kCount * sizeof(float));
    std::promise<void> go;
    go.set_value();
    queueInputKernel(me, buffer.data, kCount, rank, kRanks, go.get_future().share());
    ASSERT_EQ(gcclAllReduceOnStream(buffer.data, buffer.data, kCount, gcclFloat32, gcclSum, me.comm,
                                    me.stream.get()),
              gcclSuccess)
        << gcclGetLastError(me.comm);
    EXPECT_EQ(perf::countWrong(buffer.data, kCount, gcclFloat32, gcclSum, kRanks), 0u);
  });
  destroyRanks(ranks);
}

TEST_F(DeviceCollectivesApi, ArgumentErrorsAreReturnedAtOnce) {
  std::vector<Rank> ranks = initRanks(1);
  Rank& me = ranks[0];
  DeviceBuffer device(*me.gpu, kCount * sizeof(float));
  std::vector<float> host(kCount);
  gcclRequest_t request = nullptr;

  EXPECT_EQ(
      gcclAllReduceAsync(device.data, device.data, kCount, gcclFloat32, gcclSum, me.comm, &request),
      gcclInvalidUsage);
  EXPECT_NE(std::string(gcclGetLastError(me.comm)).find("OnStream form"), std::string::npos)
      << gcclGetLastError(me.comm);
  EXPECT_EQ(request, nullptr);

  EXPECT_EQ(gcclAllReduceOnStream(host.data(), host.data(), kCount, gcclFloat32, gcclSum, me.comm,
                                  me.stream.get()),
            gcclInvalidArgument);
  EXPECT_NE(std::string(gcclGetLastError(me.comm)).find("must both be device memory"),
            std::string::npos)
      << gcclGetLastError(me.comm);

  // One device and one host buffer.
  EXPECT_EQ(gcclAllReduce(device.data, host.data(), kCount, gcclFloat32, gcclSum, me.comm),
            gcclInvalidArgument);
  // Past the end of the device allocation.
  EXPECT_EQ(gcclAllReduce(device.data, device.data, kCount + 1, gcclFloat32, gcclSum, me.comm),
            gcclInvalidArgument);
  // A bad root is the caller's error now, not an asynchronous one later.
  EXPECT_EQ(gcclBroadcastOnStream(device.data, device.data, kCount, gcclFloat32, 1, me.comm,
                                  me.stream.get()),
            gcclInvalidArgument);
  EXPECT_EQ(me.gpu->copiesQueued(), 0u);

  // The communicator is unharmed.
  perf::fillInput(device.data, kCount, gcclFloat32, gcclSum, 0, 1);
  EXPECT_EQ(gcclAllReduceOnStream(device.data, device.data, kCount, gcclFloat32, gcclSum, me.comm,
                                  me.stream.get()),
            gcclSuccess)
      << gcclGetLastError(me.comm);
  me.stream->synchronize();
  EXPECT_EQ(perf::countWrong(device.data, kCount, gcclFloat32, gcclSum, 1), 0u);
  gcclResult_t asyncError = gcclInternalError;
  EXPECT_EQ(gcclCommGetAsyncError(me.comm, &asyncError), gcclSuccess);
  EXPECT_EQ(asyncError, gcclSuccess);
  destroyRanks(ranks);
}

// Rank 1's copies fail: its stream call fails after returning success. Both ranks see an
// asynchronous error, their streams are released (synchronize returns), and the next call
// fails naming the earlier one.
TEST_F(DeviceCollectivesApi, FailedStreamCallIsTheAsyncError) {
  constexpr int kRanks = 2;
  HostCopyFaults failing;
  failing.failCopy = 2;
  std::vector<Rank> ranks = initRanks(kRanks, {}, 1, failing);
  onEveryRank(ranks, [&](int rank, Rank& me) {
    DeviceBuffer buffer(*me.gpu, kCount * sizeof(float));
    perf::fillInput(buffer.data, kCount, gcclFloat32, gcclSum, rank, kRanks);
    ASSERT_EQ(gcclAllReduceOnStream(buffer.data, buffer.data, kCount, gcclFloat32, gcclSum, me.comm,
                                    me.stream.get()),
              gcclSuccess)
        << gcclGetLastError(me.comm);
    me.stream->synchronize();  // released, failed or not
    gcclResult_t asyncError = gcclSuccess;
    // Within half the timeout: rank 0 learns of rank 1's failed copy from its abort, not by
    // timing out on it.
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs / 2);
    while (asyncError == gcclSuccess && std::chrono::steady_clock::now() < deadline) {
      EXPECT_EQ(gcclCommGetAsyncError(me.comm, &asyncError), gcclSuccess);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_NE(asyncError, gcclSuccess) << "rank " << rank;
    EXPECT_NE(gcclAllReduceOnStream(buffer.data, buffer.data, kCount, gcclFloat32, gcclSum, me.comm,
                                    me.stream.get()),
              gcclSuccess);
    if (rank == 1) {
      EXPECT_NE(std::string(gcclGetLastError(me.comm)).find("copy 2 ("), std::string::npos)
          << gcclGetLastError(me.comm);
    }
  });
  for (Rank& rank : ranks) EXPECT_EQ(gcclCommAbort(rank.comm), gcclSuccess);
  for (Rank& rank : ranks) rank.stream.reset();
}

// Copy mode, with buckets of at most 512 bytes: the tests' few hundred floats make several.
gcclGradSyncConfig_t copyModeConfig() {
  gcclGradSyncConfig_t config = GCCL_GRAD_SYNC_CONFIG_INITIALIZER;
  config.copyMode = 1;
  config.bucketBytes = 512;
  return config;
}

// A finalized gradient sync on the rank's communicator, and one float32 stand-in device tensor
// of each of `counts`, registered in that order.
void makeDeviceGradients(Rank& me, const gcclGradSyncConfig_t& config,
                         const std::vector<size_t>& counts, gcclGradSync_t& sync,
                         std::vector<std::unique_ptr<DeviceBuffer>>& device) {
  ASSERT_EQ(gcclGradSyncCreate(me.comm, &config, &sync), gcclSuccess) << gcclGetLastError(me.comm);
  for (const size_t count : counts) {
    size_t index = 0;
    ASSERT_EQ(gcclGradSyncRegister(sync, nullptr, count, gcclFloat32, &index), gcclSuccess);
    device.push_back(std::make_unique<DeviceBuffer>(*me.gpu, count * sizeof(float)));
  }
  ASSERT_EQ(gcclGradSyncFinalize(sync, nullptr, nullptr), gcclSuccess);
}

// The gradient sync's copy mode with device tensors (and one host tensor beside them): each is
// copied into the pool at markReady, reduced in its bucket and copied back by wait.
TEST_F(DeviceCollectivesApi, GradientSyncCopiesDeviceTensors) {
  constexpr int kRanks = 2;
  const std::vector<size_t> counts{100, 37, 260};
  std::vector<Rank> ranks = initRanks(kRanks);
  onEveryRank(ranks, [&](int rank, Rank& me) {
    gcclGradSyncConfig_t config = copyModeConfig();
    config.average = 0;
    gcclGradSync_t sync = nullptr;
    std::vector<std::unique_ptr<DeviceBuffer>> device;
    ASSERT_NO_FATAL_FAILURE(makeDeviceGradients(me, config, counts, sync, device));
    std::vector<float> host(counts[1]);
    for (int step = 0; step < 2; ++step) {
      for (size_t t = 0; t < counts.size(); ++t) {
        void* buffer = t == 1 ? static_cast<void*>(host.data()) : device[t]->data;
        perf::fillInput(buffer, counts[t], gcclFloat32, gcclSum, rank, kRanks, step);
        ASSERT_EQ(gcclGradSyncMarkReady(sync, t, buffer), gcclSuccess) << gcclGetLastError(me.comm);
      }
      ASSERT_EQ(gcclGradSyncWait(sync, nullptr), gcclSuccess) << gcclGetLastError(me.comm);
      for (size_t t = 0; t < counts.size(); ++t) {
        const void* buffer = t == 1 ? static_cast<void*>(host.data()) : device[t]->data;
        EXPECT_EQ(perf::countWrong(buffer, counts[t], gcclFloat32, gcclSum, kRanks, step), 0u)
            << "rank " << rank << " step " << step << " tensor " << t;
      }
    }
    EXPECT_GT(me.gpu->copiesQueued(), 0u);
    // A device tensor shorter than its registered count is refused before any copy.
    const uint64_t copies = me.gpu->copiesQueued();
    DeviceBuffer tooShort(*me.gpu, 8);
    EXPECT_EQ(gcclGradSyncMarkReady(sync, 0, tooShort.data), gcclInvalidArgument);
    EXPECT_EQ(me.gpu->copiesQueued(), copies);
    EXPECT_EQ(gcclGradSyncReset(sync), gcclSuccess);
    EXPECT_EQ(gcclGradSyncDestroy(sync), gcclSuccess);
  });
  destroyRanks(ranks);
}

// markReady leaves a device tensor's copy running behind the legacy default stream: it returns
// before the stream has produced the gradient, nothing crosses the bus until the stream gets
// there, and the bucket carries what the stream wrote. With and without a 16-bit wire. That
// takes the host buffers pinned (the stand-in, as CUDA, finishes a copy into unpinned memory
// before returning): pinned at the first device tensor, unpinned at destroy.
TEST_F(DeviceCollectivesApi, GradientSyncCopiesInBehindTheDefaultStream) {
  constexpr int kRanks = 2;
  const std::vector<size_t> counts{100, 37, 260};  // buckets {0, 1} and {2}
  for (const gcclWireFormat_t wire : {gcclWireNone, gcclWireFloat16}) {
    SCOPED_TRACE(testing::Message() << "wire " << wire);
    std::vector<Rank> ranks = initRanks(kRanks);
    onEveryRank(ranks, [&](int rank, Rank& me) {
      gcclGradSyncConfig_t config = copyModeConfig();
      config.average = 0;
      config.compression = wire;
      gcclGradSync_t sync = nullptr;
      std::vector<std::unique_ptr<DeviceBuffer>> device;
      ASSERT_NO_FATAL_FAILURE(makeDeviceGradients(me, config, counts, sync, device));
      // The "kernel" that computes gradient 0 waits on the default stream for the go.
      std::promise<void> go;
      std::shared_future<void> started = go.get_future().share();
      me.gpu->defaultStream().enqueue([&, started] {
        started.wait();
        perf::fillInput(device[0]->data, counts[0], gcclFloat32, gcclSum, rank, kRanks);
      });
      EXPECT_EQ(me.gpu->pinnedBuffers(), 0u);
      const uint64_t busBefore = me.gpu->busBytes();
      auto marked = std::async(std::launch::async,
                               [&] { return gcclGradSyncMarkReady(sync, 0, device[0]->data); });
      const bool returned = marked.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
      EXPECT_TRUE(returned) << "markReady waited for the default stream";
      EXPECT_EQ(me.gpu->busBytes(), busBefore) << "copied before the stream produced it";
      go.set_value();
      ASSERT_EQ(marked.get(), gcclSuccess) << gcclGetLastError(me.comm);
      const size_t pinnedWhileSyncing = me.gpu->pinnedBuffers();
      for (size_t t = 1; t < counts.size(); ++t) {
        perf::fillInput(device[t]->data, counts[t], gcclFloat32, gcclSum, rank, kRanks);
        ASSERT_EQ(gcclGradSyncMarkReady(sync, t, device[t]->data), gcclSuccess)
            << gcclGetLastError(me.comm);
      }
      ASSERT_EQ(gcclGradSyncWait(sync, nullptr), gcclSuccess) << gcclGetLastError(me.comm);
      for (size_t t = 0; t < counts.size(); ++t) {
        EXPECT_EQ(perf::countWrong(device[t]->data, counts[t], gcclFloat32, gcclSum, kRanks), 0u)
            << "rank " << rank << " tensor " << t;
      }
      EXPECT_EQ(gcclGradSyncDestroy(sync), gcclSuccess);
      // What stays pinned is the staging slots of device collectives: shareable memory where
      // the shm peers map it, pinned for the communicator's life (made with the engine, at
      // the first device tensor).
      const size_t stagingSlots = me.gpu->pinnedBuffers();
      EXPECT_EQ(stagingSlots, me.comm->communicator->hasZeroCopyPeers() ? 1u : 0u);
      EXPECT_EQ(pinnedWhileSyncing - stagingSlots, wire == gcclWireNone ? 1u : 2u)
          << "the pool (and the wire buffer) pinned at the first device tensor, unpinned at "
             "destroy";
    });
    destroyRanks(ranks);
  }
}

// A device tensor's copy that fails fails its bucket's start on that rank, naming the copy, and
// aborts the communicator, so that the peer's allreduce of the bucket fails too instead of
// waiting for the timeout; both ranks' wait reports the failed step. Tensor 0's copy fails
// when tensor 1 completes its bucket ({0, 1}; {2} is the other): the failing rank stops
// marking there, as a framework whose hook raised would, and its wait still ends the step
// with the copy's error (not "tensor 2 was not marked ready").
TEST_F(DeviceCollectivesApi, GradientSyncFailedCopyInFailsEveryRank) {
  constexpr int kRanks = 2;
  const std::vector<size_t> counts{100, 37, 260};
  std::vector<Rank> ranks = initRanks(kRanks);
  std::vector<std::string> markErrors(kRanks);
  std::vector<std::string> waitErrors(kRanks);
  onEveryRank(ranks, [&](int rank, Rank& me) {
    gcclGradSyncConfig_t config = copyModeConfig();
    gcclGradSync_t sync = nullptr;
    std::vector<std::unique_ptr<DeviceBuffer>> device;
    ASSERT_NO_FATAL_FAILURE(makeDeviceGradients(me, config, counts, sync, device));
    if (rank == 0) {
      HostCopyFaults faults;
      faults.failAddress = device[0]->data + 8;
      me.gpu->setFaults(faults);
    }
    const auto start = std::chrono::steady_clock::now();
    for (size_t t = 0; t < counts.size(); ++t) {
      if (gcclGradSyncMarkReady(sync, t, device[t]->data) != gcclSuccess) {
        markErrors[rank] = gcclGetLastError(me.comm);
        break;
      }
    }
    EXPECT_NE(gcclGradSyncWait(sync, nullptr), gcclSuccess) << "rank " << rank;
    waitErrors[rank] = gcclGetLastError(me.comm);
    // Told by rank 0's abort, not by its own timeout.
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(kTimeoutMs / 2))
        << "rank " << rank;
    EXPECT_EQ(gcclGradSyncDestroy(sync), gcclSuccess);
  });
  for (const std::string* error : {&markErrors[0], &waitErrors[0]}) {
    EXPECT_NE(error->find("failed (injected)"), std::string::npos) << *error;
    EXPECT_NE(error->find("rank 0 step 0: copying tensor 0 in"), std::string::npos) << *error;
  }
  for (Rank& rank : ranks) EXPECT_EQ(gcclCommAbort(rank.comm), gcclSuccess);
  for (Rank& rank : ranks) rank.stream.reset();
}

// The copies out of a step are queued together and wait() waits for all of them: one that
// fails fails that rank's wait, naming the copy, after the others finished (their results are
// in place). The ranks combine their failure flags at the end of the wait, so the peer, whose
// copies succeeded, fails the step too instead of applying one that rank 0 dropped.
TEST_F(DeviceCollectivesApi, GradientSyncFailedCopyOutFailsTheWait) {
  constexpr int kRanks = 2;
  const std::vector<size_t> counts{100, 37, 260};
  std::vector<Rank> ranks = initRanks(kRanks);
  onEveryRank(ranks, [&](int rank, Rank& me) {
    gcclGradSyncConfig_t config = copyModeConfig();
    config.average = 0;
    gcclGradSync_t sync = nullptr;
    std::vector<std::unique_ptr<DeviceBuffer>> device;
    ASSERT_NO_FATAL_FAILURE(makeDeviceGradients(me, config, counts, sync, device));
    for (size_t t = 0; t < counts.size(); ++t) {
      perf::fillInput(device[t]->data, counts[t], gcclFloat32, gcclSum, rank, kRanks);
      ASSERT_EQ(gcclGradSyncMarkReady(sync, t, device[t]->data), gcclSuccess)
          << gcclGetLastError(me.comm);
    }
    // Every copy in has finished (each bucket waited for its own): this fails a copy out.
    if (rank == 0) {
      HostCopyFaults faults;
      faults.failAddress = device[0]->data + 8;
      me.gpu->setFaults(faults);
    }
    const gcclResult_t waited = gcclGradSyncWait(sync, nullptr);
    if (rank == 0) {
      EXPECT_NE(waited, gcclSuccess);
      const std::string error = gcclGetLastError(me.comm);
      EXPECT_NE(error.find("host->device"), std::string::npos) << error;
      EXPECT_NE(error.find("failed (injected)"), std::string::npos) << error;
      EXPECT_NE(error.find("rank 0 step 0: copying tensor 0 out"), std::string::npos) << error;
    } else {
      EXPECT_EQ(waited, gcclRemoteError) << gcclGetLastError(me.comm);
      const std::string error = gcclGetLastError(me.comm);
      EXPECT_NE(error.find("the step failed on another rank"), std::string::npos) << error;
    }
    for (size_t t = rank == 0 ? 1 : 0; t < counts.size(); ++t) {
      EXPECT_EQ(perf::countWrong(device[t]->data, counts[t], gcclFloat32, gcclSum, kRanks), 0u)
          << "rank " << rank << " tensor " << t;
    }
    EXPECT_EQ(me.gpu->copiesUnsettled(), 0u);
    EXPECT_EQ(gcclGradSyncDestroy(sync), gcclSuccess);
  });
  destroyRanks(ranks);
}

// With a 16-bit wire the device converts: a device tensor crosses the bus as 16-bit values
// both ways (2 bytes per value each way), a host tensor in the same bucket is encoded on the
// host, and every result is exact (integer-valued gradients, halved by the average). An engine
// that cannot convert moves fp32 through the pool (4 bytes each way) to the same result.
// Rank 0's inf in a device tensor reaches every rank's non-finite flag.
TEST_F(DeviceCollectivesApi, GradientSyncEncodesDeviceTensorsOnTheDevice) {
  constexpr int kRanks = 2;
  const std::vector<size_t> counts{100, 37, 260};  // buckets {0, 1} and {2}; tensor 1 on the host
  const size_t deviceValues = counts[0] + counts[2];
  const auto gradient = [](int rank, size_t t, size_t i) {
    return static_cast<float>(static_cast<int>((i * 7 + t * 3 + rank) % 17) - 8);
  };
  struct Case {
    gcclWireFormat_t wire;
    int preDivide;
    bool converts;
  };
  for (const Case c : {Case{gcclWireFloat16, 1, true}, Case{gcclWireBfloat16, 0, true},
                       Case{gcclWireFloat16, 0, false}}) {
    SCOPED_TRACE(testing::Message() << "wire " << c.wire << " preDivide " << c.preDivide
                                    << " converts " << c.converts);
    HostCopyFaults faults;
    faults.convertsHalf = c.converts;
    faults.delay = std::chrono::microseconds(50);
    std::vector<Rank> ranks = initRanks(kRanks, faults);
    onEveryRank(ranks, [&](int rank, Rank& me) {
      gcclGradSyncConfig_t config = copyModeConfig();
      config.compression = c.wire;
      config.preDivide = c.preDivide;
      gcclGradSync_t sync = nullptr;
      std::vector<std::unique_ptr<DeviceBuffer>> device;
      ASSERT_NO_FATAL_FAILURE(makeDeviceGradients(me, config, counts, sync, device));
      std::vector<std::vector<float>> values;
      for (size_t count : counts) values.emplace_back(count);
      const auto bufferOf = [&](size_t t) -> void* {
        return t == 1 ? static_cast<void*>(values[1].data()) : device[t]->data;
      };
      for (int step = 0; step < 2; ++step) {
        const uint64_t busBefore = me.gpu->busBytes();
        for (size_t t = 0; t < counts.size(); ++t) {
          for (size_t i = 0; i < counts[t]; ++i) values[t][i] = gradient(rank, t, i);
          if (step == 1 && rank == 0 && t == 2) values[t][5] = INFINITY;
          std::memcpy(bufferOf(t), values[t].data(), counts[t] * sizeof(float));
          ASSERT_EQ(gcclGradSyncMarkReady(sync, t, bufferOf(t)), gcclSuccess)
              << gcclGetLastError(me.comm);
        }
        gcclGradSyncStats_t stats{};
        ASSERT_EQ(gcclGradSyncWait(sync, &stats), gcclSuccess) << gcclGetLastError(me.comm);
        EXPECT_EQ(stats.nonFinite, step == 1 ? 1 : 0) << "rank " << rank << " step " << step;
        EXPECT_EQ(me.gpu->busBytes() - busBefore, deviceValues * (c.converts ? 4 : 8))
            << "rank " << rank << " step " << step;
        for (size_t t = 0; t < counts.size(); ++t) {
          std::vector<float> result(counts[t]);
          std::memcpy(result.data(), bufferOf(t), counts[t] * sizeof(float));
          size_t wrong = 0;
          for (size_t i = 0; i < counts[t]; ++i) {
            float expected = (gradient(0, t, i) + gradient(1, t, i)) / 2;
            if (step == 1 && t == 2 && i == 5) expected = INFINITY;
            wrong += result[i] != expected;
          }
          EXPECT_EQ(wrong, 0u) << "rank " << rank << " step " << step << " tensor " << t;
        }
      }
      EXPECT_EQ(gcclGradSyncDestroy(sync), gcclSuccess);
    });
    destroyRanks(ranks);
  }
}

// A copy queued behind a stream waits for that stream alone: another copy runs meanwhile, as
// the staging copies of a stream-ordered call must while its stream is held (a gradient's copy
// queued behind that stream would otherwise wait for the call, and the call for the copy).
TEST(HostCopyEngine, CopyAfterAStreamHoldsUpNoOtherCopy) {
  HostCopyEngine gpu;
  std::byte* device = gpu.allocateDevice(64);
  std::byte* staging = gpu.allocateStaging(128);
  auto stream = std::make_unique<HostStream>();
  std::promise<void> go;
  std::shared_future<void> started = go.get_future().share();
  stream->enqueue([started] { started.wait(); });
  const CopyTicket after = gpu.copyToHostAfter(stream.get(), staging, device, 64);
  const CopyTicket plain = gpu.copyToHost(staging + 64, device, 64);
  auto waited = std::async(std::launch::async, [&] { gpu.wait(plain); });
  EXPECT_EQ(waited.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "a plain copy waited for another copy's stream";
  EXPECT_FALSE(gpu.done(after));
  go.set_value();
  waited.get();
  gpu.wait(after);
  stream.reset();
  gpu.freeStaging(staging);
  gpu.freeDevice(device);
}

// Whether this machine has a CUDA driver that dlopen could load, asked in a child process so
// that this one does not load it.
bool cudaDriverLoadable() {
  const pid_t child = fork();
  if (child == 0) _exit(dlopen("libcuda.so.1", RTLD_NOW) != nullptr ? 0 : 1);
  int status = 0;
  return child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}

// A process that never touched CUDA pays nothing for device buffers: host calls do not load
// the driver (on a GPU machine as here).
TEST(DevicePointers, HostBuffersNeverLoadTheCudaDriver) {
  if (!cudaDriverLoadable()) GTEST_SKIP() << "no CUDA driver here: none could be loaded";
  setenv("GCCL_SOCKET_ADDR", "127.0.0.1", 1);  // NOLINT(concurrency-mt-unsafe)
  gcclUniqueId id;
  ASSERT_EQ(gcclGetUniqueId(&id), gcclSuccess);
  gcclComm_t comm = nullptr;
  ASSERT_EQ(gcclCommInitRank(&comm, 1, id, 0), gcclSuccess) << gcclGetLastError(nullptr);
  std::vector<float> host(64, 1.0f);
  EXPECT_EQ(gcclAllReduce(host.data(), host.data(), host.size(), gcclFloat32, gcclSum, comm),
            gcclSuccess);
  EXPECT_EQ(dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD), nullptr);
  EXPECT_EQ(gcclCommDestroy(comm), gcclSuccess);
}

}  // namespace
}  // namespace gccl
