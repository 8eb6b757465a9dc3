// The UCX transport, with the TCP and the shared-memory transports of UCX (this machine has no
// RDMA device): ranks as threads of this process, each with its own UCP worker, addresses
// exchanged through one store. Every collective exact; mismatched collectives fail as usage
// errors; an init that UCX refuses says why.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bootstrap/memory_store.h"
#include "core/communicator.h"
#include "transport/ucx/ucx_settings.h"
#include "transport/ucx/ucx_transport.h"
#include "verifiable.h"

namespace gccl {
namespace {

constexpr int kRanks = 3;

// Communicators over UCX with UCX_TLS=tls, built concurrently (each waits for the others'
// addresses in the store).
std::vector<std::unique_ptr<Communicator>> ucxRanks(const std::string& tls,
                                                    const std::string& algorithm = "auto",
                                                    int timeoutMs = 20000) {
  setenv("UCX_TLS", tls.c_str(), 1);  // NOLINT(concurrency-mt-unsafe): before any thread
  Config config;
  config.timeoutMs = timeoutMs;
  config.chunkBytes = 64 * 1024;  // several slices at the larger counts
  config.algorithm = algorithm;
  auto store = std::make_shared<MemoryStore>();
  const TransportRouter router(std::make_shared<transport::ucx::UcxTransport>());
  std::vector<std::unique_ptr<Communicator>> ranks(kRanks);
  std::vector<std::string> errors(kRanks);
  std::vector<std::thread> threads;
  for (int r = 0; r < kRanks; ++r) {
    threads.emplace_back([&, r] {
      try {
        ranks[r] =
            std::make_unique<Communicator>(r, kRanks, config, JobToken{}, store, nullptr, router);
      } catch (const Error& e) {
        errors[r] = e.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int r = 0; r < kRanks; ++r) {
    if (!errors[r].empty()) throw Error(Status::kSystemError, errors[r]);
  }
  return ranks;
}

// Whether UCX's libraries are mapped into this process.
bool ucxMapped() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("libucp") != std::string::npos || line.find("libucs") != std::string::npos) {
      return true;
    }
  }
  return false;
}

// gccl loads UCX when a communicator first uses it, not with itself: a process that never
// does keeps its memory functions and its signal handlers (UCX's constructors replace both).
// Each test runs in a process of its own (ctest), so nothing loaded UCX before this one.
TEST(UcxLibrary, IsLoadedOnlyByTheFirstCommunicatorThatUsesIt) {
  ASSERT_FALSE(ucxMapped()) << "UCX was loaded with gccl";
  std::string why;
  ASSERT_TRUE(transport::ucx::ucxLoadable(&why)) << why;
  EXPECT_TRUE(ucxMapped());
  auto ranks = ucxRanks("tcp");
  EXPECT_EQ(ranks.size(), static_cast<size_t>(kRanks));
}

// Runs calls[r] on rank r; returns the ranks' requests, completed.
std::vector<std::shared_ptr<Request>> runRequests(std::vector<std::unique_ptr<Communicator>>& ranks,
                                                  const std::vector<CollectiveCall>& calls) {
  std::vector<std::shared_ptr<Request>> requests;
  for (int r = 0; r < kRanks; ++r) requests.push_back(ranks[r]->start(calls[r], false));
  for (auto& request : requests) request->wait();
  return requests;
}

// Likewise; returns the ranks' statuses.
std::vector<Status> run(std::vector<std::unique_ptr<Communicator>>& ranks,
                        const std::vector<CollectiveCall>& calls) {
  std::vector<Status> statuses;
  for (const auto& request : runRequests(ranks, calls)) statuses.push_back(request->status());
  return statuses;
}

CollectiveCall call(CollectiveKind kind, const void* in, void* out, size_t count,
                    gcclDataType_t type, gcclRedOp_t op = gcclSum) {
  CollectiveCall c;
  c.kind = kind;
  c.input = in;
  c.output = out;
  c.count = count;
  c.type = static_cast<DataType>(type);
  c.op = static_cast<ReduceOp>(op);
  c.root = kRanks - 1;
  return c;
}

class Ucx : public testing::TestWithParam<std::string> {};

TEST_P(Ucx, EveryCollectiveIsExact) {
  for (const char* algorithm : {"ring", "tree", "halving_doubling"}) {
    auto ranks = ucxRanks(GetParam(), algorithm);
    for (size_t count : {size_t{0}, size_t{1}, size_t{1000}, (size_t{1} << 18) + 3}) {
      for (gcclDataType_t type : {gcclInt32, gcclFloat16, gcclFloat32}) {
        const std::string what = std::string(algorithm) + ", " + std::to_string(count) +
                                 " elements of type " + std::to_string(type);
        const size_t es = gcclTypeSize(type);
        std::vector<std::vector<unsigned char>> in(kRanks), out(kRanks);
        std::vector<CollectiveCall> calls;
        for (int r = 0; r < kRanks; ++r) {
          in[r].resize(count * es * kRanks + 1);
          out[r].assign(count * es * kRanks + 1, 0xAB);
          perf::fillInput(in[r].data(), count, type, gcclSum, r, kRanks);
          calls.push_back(
              call(CollectiveKind::kAllreduce, in[r].data(), out[r].data(), count, type));
        }
        for (Status s : run(ranks, calls)) ASSERT_EQ(s, Status::kSuccess) << what;
        for (int r = 0; r < kRanks; ++r) {
          ASSERT_EQ(perf::countWrong(out[r].data(), count, type, gcclSum, kRanks), 0u) << what;
        }
        // Allgather: block r of every output is rank r's input.
        for (int r = 0; r < kRanks; ++r) {
          perf::fillInput(in[r].data(), count, type, gcclSum, r, kRanks);
          calls[r] = call(CollectiveKind::kAllgather, in[r].data(), out[r].data(), count, type);
        }
        for (Status s : run(ranks, calls)) ASSERT_EQ(s, Status::kSuccess) << what;
        for (int r = 0; r < kRanks; ++r) {
          for (int b = 0; b < kRanks; ++b) {
            ASSERT_EQ(perf::countWrongInput(out[r].data() + b * count * es, count, type, gcclSum, b,
                                            kRanks),
                      0u)
                << what << ", allgather block " << b << " on rank " << r;
          }
        }
      }
    }
  }
}

// Large messages go by rendezvous, and a rank whose part of a collective is over goes idle:
// nothing progresses its UCX worker until its next call. Every send must still complete, so
// no protocol may leave an idle receiver owing its sender a message (UCX's default scheme,
// where the receiver acknowledges a payload it read, hung here in most runs over
// UCX_TLS=sm without the engine's idle progress). Rounds of ring allreduces and allgathers
// of 64 KiB slices, each waited for before the next: a send left waiting fails the test by
// the timeout instead of hanging it.
TEST_P(Ucx, LargeSendsCompleteWhileTheirReceiversIdle) {
  auto ranks = ucxRanks(GetParam(), "ring", 5000);
  constexpr size_t kCount = (size_t{1} << 18) + 3;
  std::vector<std::vector<int32_t>> in(kRanks, std::vector<int32_t>(kCount));
  std::vector<std::vector<int32_t>> out(kRanks, std::vector<int32_t>(kCount * kRanks));
  const int rounds = GetParam() == "tcp" ? 10 : 60;  // shared memory: fast, and where it hung
  for (int round = 0; round < rounds; ++round) {
    for (CollectiveKind kind : {CollectiveKind::kAllreduce, CollectiveKind::kAllgather}) {
      std::vector<CollectiveCall> calls;
      for (int r = 0; r < kRanks; ++r) {
        std::fill(in[r].begin(), in[r].end(), round + r);
        calls.push_back(call(kind, in[r].data(), out[r].data(), kCount, gcclInt32));
      }
      for (Status s : run(ranks, calls)) ASSERT_EQ(s, Status::kSuccess) << "round " << round;
      const int32_t sum = kRanks * round + kRanks * (kRanks - 1) / 2;
      for (int r = 0; r < kRanks; ++r) {
        if (kind == CollectiveKind::kAllreduce) {
          ASSERT_EQ(std::count(out[r].begin(), out[r].begin() + kCount, sum), kCount) << round;
          continue;
        }
        for (int b = 0; b < kRanks; ++b) {
          const auto block = out[r].begin() + static_cast<ptrdiff_t>(b * kCount);
          ASSERT_EQ(std::count(block, block + kCount, round + b), kCount) << "round " << round;
        }
      }
    }
  }
}

// Whether the request failed as a mismatched collective: a usage error saying so.
bool failedAsMismatch(const Request& request) {
  return request.status() == Status::kInvalidUsage &&
         request.message().find("mismatched") != std::string::npos;
}

// One rank sends more or less than the others expect: every rank fails, and the mismatch is
// named by a rank that received it (UCX has no failure notices, so a rank that saw nothing
// wrong itself learns of it from its endpoint or its timeout: a short one here). The sizes put
// messages on either side of the split into header and payload (32 KiB, with the 64 KiB
// slices of ucxRanks), so one side may send whole what the other expects split.
TEST_P(Ucx, MismatchedCountsFailEveryRank) {
  const std::pair<size_t, size_t> cases[] = {
      {4096, 1024}, {65536, 1024}, {1024, 65536}, {65536, 32768}};
  for (const auto& [rank0Count, othersCount] : cases) {
    auto ranks = ucxRanks(GetParam(), "ring", 2000);
    std::vector<std::vector<float>> data(kRanks, std::vector<float>(65536, 1.0f));
    std::vector<CollectiveCall> calls;
    for (int r = 0; r < kRanks; ++r) {
      calls.push_back(call(CollectiveKind::kAllreduce, data[r].data(), data[r].data(),
                           r == 0 ? rank0Count : othersCount, gcclFloat32));
    }
    const auto requests = runRequests(ranks, calls);
    int named = 0;
    for (const auto& request : requests) {
      EXPECT_NE(request->status(), Status::kSuccess) << rank0Count << " against " << othersCount;
      named += failedAsMismatch(*request);
    }
    EXPECT_GT(named, 0) << rank0Count << " against " << othersCount;
  }
}

// A barrier's messages are headers alone, which the rank in a large allreduce that receives
// them takes for the header of a split message: it must check that header at once and name
// the mismatch, not wait for a payload that never comes.
TEST_P(Ucx, BarrierAgainstLargeAllreduceIsNamedByItsReceiver) {
  auto ranks = ucxRanks(GetParam(), "ring", 2000);
  std::vector<std::vector<float>> data(kRanks, std::vector<float>(65536, 1.0f));
  std::vector<CollectiveCall> calls;
  for (int r = 0; r < kRanks; ++r) {
    calls.push_back(call(r == 0 ? CollectiveKind::kBarrier : CollectiveKind::kAllreduce,
                         r == 0 ? nullptr : data[r].data(), r == 0 ? nullptr : data[r].data(),
                         r == 0 ? 0 : 65536, r == 0 ? gcclUint8 : gcclFloat32));
  }
  const auto requests = runRequests(ranks, calls);
  // Rank 1 receives from rank 0 in the ring.
  EXPECT_TRUE(failedAsMismatch(*requests[1])) << requests[1]->message();
  for (const auto& request : requests) EXPECT_NE(request->status(), Status::kSuccess);
}

INSTANTIATE_TEST_SUITE_P(Transports, Ucx, testing::Values("tcp", "sm,self"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param == "tcp" ? std::string("tcp") : std::string("sm");
                         });

TEST(UcxInit, RefusalSaysWhy) {
  try {
    ucxRanks("no_such_transport");
    FAIL() << "UCX accepted UCX_TLS=no_such_transport";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("UCX"), std::string::npos) << message;
    EXPECT_NE(message.find("no_such_transport"), std::string::npos) << message;
  }
}

// UCX's configuration as read from this process's environment, with gccl's settings applied,
// as ucp_config_print writes it.
std::string printedConfigWithGcclSettings() {
  const transport::ucx::UcxLibrary& ucx = transport::ucx::ucxLibrary();
  ucp_config_t* config = nullptr;
  EXPECT_EQ(ucx.ucp_config_read(nullptr, nullptr, &config), UCS_OK);
  transport::ucx::applyGcclSettings(config);
  std::string printed = transport::ucx::printedConfig(config);
  ucx.ucp_config_release(config);
  return printed;
}

bool printsLine(const std::string& printed, const std::string& line) {
  return ("\n" + printed).find("\n" + line + "\n") != std::string::npos;
}

TEST(UcxSettings, TcpSegmentsAreEnlargedUnlessTheUserSetThem) {
  // NOLINTBEGIN(concurrency-mt-unsafe): this test starts no thread
  unsetenv("UCX_TLS");
  unsetenv("UCX_NET_DEVICES");
  unsetenv("UCX_TCP_TX_SEG_SIZE");
  unsetenv("UCX_TCP_RX_SEG_SIZE");
  std::string printed = printedConfigWithGcclSettings();
  EXPECT_TRUE(printsLine(printed, "TX_SEG_SIZE=256k")) << printed;
  EXPECT_TRUE(printsLine(printed, "RX_SEG_SIZE=256k")) << printed;
  EXPECT_TRUE(printsLine(printed, "UCX_RESOLVE_REMOTE_EP_ID=on")) << printed;

  setenv("UCX_TCP_TX_SEG_SIZE", "16k", 1);  // the user's choice, which UCX reads itself
  printed = printedConfigWithGcclSettings();
  EXPECT_FALSE(printsLine(printed, "TX_SEG_SIZE=256k")) << printed;
  EXPECT_TRUE(printsLine(printed, "RX_SEG_SIZE=256k")) << printed;
  unsetenv("UCX_TCP_TX_SEG_SIZE");

  setenv("UCX_TLS", "sm,self", 1);  // no TCP transport to take them: UCX would warn
  printed = printedConfigWithGcclSettings();
  EXPECT_FALSE(printsLine(printed, "TX_SEG_SIZE=256k")) << printed;
  EXPECT_FALSE(printsLine(printed, "RX_SEG_SIZE=256k")) << printed;
  EXPECT_TRUE(printsLine(printed, "UCX_RESOLVE_REMOTE_EP_ID=on")) << printed;
  unsetenv("UCX_TLS");

  setenv("UCX_NET_DEVICES", "mlx5_0:1", 1);  // RDMA ports only: TCP has no device
  printed = printedConfigWithGcclSettings();
  EXPECT_FALSE(printsLine(printed, "TX_SEG_SIZE=256k")) << printed;
  unsetenv("UCX_NET_DEVICES");
  // NOLINTEND(concurrency-mt-unsafe)
}

// UCX_TLS and UCX_NET_DEVICES as ucp_config_print writes them.
TEST(UcxSettings, TcpTransportAllowedFollowsTransportsAndDevices) {
  using transport::ucx::tcpTransportAllowed;
  EXPECT_TRUE(tcpTransportAllowed("all", "all"));
  EXPECT_TRUE(tcpTransportAllowed("", ""));  // not printed: UCX's defaults
  EXPECT_TRUE(tcpTransportAllowed("tcp", "all"));
  EXPECT_TRUE(tcpTransportAllowed("rc,tcp", "all"));
  EXPECT_TRUE(tcpTransportAllowed("\\tcp,self", "all"));
  EXPECT_TRUE(tcpTransportAllowed("rc,tcp:aux", "all"));
  EXPECT_TRUE(tcpTransportAllowed("^sm", "all"));
  EXPECT_TRUE(tcpTransportAllowed("^ib", "all"));
  EXPECT_FALSE(tcpTransportAllowed("sm,self", "all"));
  EXPECT_FALSE(tcpTransportAllowed("shm", "all"));
  EXPECT_FALSE(tcpTransportAllowed("rc_x", "all"));
  EXPECT_FALSE(tcpTransportAllowed("^tcp", "all"));
  EXPECT_FALSE(tcpTransportAllowed("^sm,tcp", "all"));
  EXPECT_FALSE(tcpTransportAllowed("tcpx", "all"));
  // Network interfaces are TCP's devices, device:port names RDMA ports.
  EXPECT_TRUE(tcpTransportAllowed("all", "eth0"));
  EXPECT_TRUE(tcpTransportAllowed("all", "mlx5_0:1,ib0"));
  EXPECT_TRUE(tcpTransportAllowed("all", "^mlx5_0:1"));
  EXPECT_FALSE(tcpTransportAllowed("all", "mlx5_0:1"));
  EXPECT_FALSE(tcpTransportAllowed("tcp", "mlx5_0:1,mlx5_1:1"));
}

}  // namespace
}  // namespace gccl
