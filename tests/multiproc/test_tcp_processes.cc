// Real processes over real TCP sockets, through the public C API only.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "base/socket.h"
#include "multiproc/process_group.h"
#include "verifiable.h"

namespace gccl {
namespace {

// These tests are about TCP: ranks of one machine would otherwise take shared memory
// (test_shm_processes covers that). A GCCL_TRANSPORT set outside runs them over that instead.
[[maybe_unused]] const bool kOverTcp = setenv("GCCL_TRANSPORT", "tcp", 0) == 0;

using testing_support::ChildReport;
using testing_support::ProcessGroup;

// Runs the body on an initialised communicator; reports "ok" or the error.
ProcessGroup::Body withComm(std::function<std::string(gcclComm_t, int rank, int nranks)> body) {
  return [body](int rank, int nranks, const gcclUniqueId& id, std::string& report) {
    gcclComm_t comm = nullptr;
    if (gcclCommInitRank(&comm, nranks, id, rank) != gcclSuccess) {
      report = std::string("init failed: ") + gcclGetLastError(nullptr);
      return 1;
    }
    report = body(comm, rank, nranks);
    gcclCommDestroy(comm);
    return report == "ok" ? 0 : 1;
  };
}

std::string checkedAllreduce(gcclComm_t comm, int rank, int nranks, size_t count,
                             gcclDataType_t type, gcclRedOp_t op, bool inPlace) {
  const size_t bytes = count * gcclTypeSize(type) + 1;
  std::vector<unsigned char> in(bytes), out(bytes);
  perf::fillInput(in.data(), count, type, op, rank, nranks);
  void* target = inPlace ? in.data() : out.data();
  const gcclResult_t result = gcclAllReduce(in.data(), target, count, type, op, comm);
  if (result != gcclSuccess) return std::string("allreduce failed: ") + gcclGetLastError(comm);
  const size_t wrong = perf::countWrong(target, count, type, op, nranks);
  if (wrong != 0) {
    return "rank " + std::to_string(rank) + ": " + std::to_string(wrong) +
           " wrong elements, type " + std::to_string(type) + " op " + std::to_string(op) +
           " count " + std::to_string(count);
  }
  return "ok";
}

void expectAllOk(const std::vector<ChildReport>& reports) {
  for (size_t r = 0; r < reports.size(); ++r) {
    EXPECT_EQ(reports[r].exitCode, 0) << "rank " << r << ": " << reports[r].text;
    EXPECT_FALSE(reports[r].killedByParent) << "rank " << r << " hung";
  }
}

class TcpAllreduce : public testing::TestWithParam<int> {};

TEST_P(TcpAllreduce, EveryTypeAndOpIsExact) {
  ProcessGroup group(GetParam(), withComm([](gcclComm_t comm, int rank, int nranks) {
                       for (int type = 0; type < gcclNumTypes; ++type) {
                         for (int op = 0; op < gcclNumOps; ++op) {
                           for (size_t count : {size_t{1}, size_t{7}, size_t{1000}}) {
                             const std::string r = checkedAllreduce(
                                 comm, rank, nranks, count, static_cast<gcclDataType_t>(type),
                                 static_cast<gcclRedOp_t>(op), (type + op) % 2);
                             if (r != "ok") return r;
                           }
                         }
                       }
                       return std::string("ok");
                     }));
  expectAllOk(group.collect(120000));
}

TEST_P(TcpAllreduce, LargeBuffersAreExact) {
  ProcessGroup group(
      GetParam(), withComm([](gcclComm_t comm, int rank, int nranks) {
        const size_t count = (size_t{1} << 20) + 3;
        for (auto [type, op] : {std::pair{gcclFloat32, gcclSum}, std::pair{gcclFloat16, gcclAvg},
                                std::pair{gcclBfloat16, gcclMax}, std::pair{gcclInt64, gcclProd}}) {
          for (bool inPlace : {false, true}) {
            const std::string r = checkedAllreduce(comm, rank, nranks, count, type, op, inPlace);
            if (r != "ok") return r;
          }
        }
        return std::string("ok");
      }));
  expectAllOk(group.collect(180000));
}

INSTANTIATE_TEST_SUITE_P(Ranks, TcpAllreduce, testing::Values(2, 3, 4, 5));

TEST(TcpAsync, OutstandingRequestsCompleteWithWaitAndTest) {
  ProcessGroup group(
      3, withComm([](gcclComm_t comm, int rank, int) {
        constexpr int kRequests = 8;
        std::vector<std::vector<int32_t>> buffers(kRequests, std::vector<int32_t>(10000, rank + 1));
        std::vector<gcclRequest_t> requests(kRequests);
        for (int i = 0; i < kRequests; ++i) {
          if (gcclAllReduceAsync(buffers[i].data(), buffers[i].data(), 10000, gcclInt32, gcclSum,
                                 comm, &requests[i]) != gcclSuccess) {
            return std::string("async start failed: ") + gcclGetLastError(comm);
          }
        }
        int done = 0;
        while (gcclTest(requests[0], &done) == gcclSuccess && !done) {
        }
        if (!done) return std::string("gcclTest failed: ") + gcclGetLastError(nullptr);
        for (int i = 1; i < kRequests; ++i) {
          if (gcclWait(requests[i]) != gcclSuccess) return std::string("wait failed");
        }
        for (const auto& buffer : buffers) {
          for (int32_t v : buffer) {
            if (v != 6) return "wrong value " + std::to_string(v);
          }
        }
        return std::string("ok");
      }));
  expectAllOk(group.collect(60000));
}

TEST(TcpInit, FromEnvironment) {
  // A free port for the root: bind, read, release (the tiny race is acceptable in a test).
  Socket probe = Socket::listenOn("127.0.0.1", 0);
  const std::string port = std::to_string(probe.localAddress().port);
  probe.close();
  ProcessGroup group(3, [port](int rank, int nranks, const gcclUniqueId&, std::string& report) {
    setenv("GCCL_RANK", std::to_string(rank).c_str(), 1);
    setenv("GCCL_WORLD_SIZE", std::to_string(nranks).c_str(), 1);
    setenv("GCCL_ROOT_ADDR", "127.0.0.1", 1);
    setenv("GCCL_ROOT_PORT", port.c_str(), 1);
    gcclComm_t comm = nullptr;
    if (gcclCommInitFromEnv(&comm) != gcclSuccess) {
      report = std::string("init failed: ") + gcclGetLastError(nullptr);
      return 1;
    }
    int seenRank = -1, seenSize = -1;
    gcclCommUserRank(comm, &seenRank);
    gcclCommCount(comm, &seenSize);
    report = seenRank == rank && seenSize == nranks
                 ? checkedAllreduce(comm, rank, nranks, 4099, gcclFloat32, gcclSum, false)
                 : "wrong rank/size";
    gcclCommDestroy(comm);
    return report == "ok" ? 0 : 1;
  });
  expectAllOk(group.collect(60000));
}

// Rank 1 alone: the root's port listens (gcclGetUniqueId reserved it) but nobody serves the
// store. Init must time out with the configured bound and name the rank.
TEST(TcpInit, UnservedRootTimesOutNamingTheRank) {
  gcclUniqueId id;
  ASSERT_EQ(gcclGetUniqueId(&id), gcclSuccess);
  gcclConfig_t config = GCCL_CONFIG_INITIALIZER;
  config.timeoutMs = 300;
  gcclComm_t comm = nullptr;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(gcclCommInitRankConfig(&comm, 2, id, 1, &config), gcclTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(comm, nullptr);
  const std::string message = gcclGetLastError(nullptr);
  EXPECT_EQ(message.rfind(
                "gcclCommInitRankConfig: initialising rank 1 (of 2): could not reach the bootstrap "
                "store",
                0),
            0)
      << message;
}

// One rank calls with another count. The ranks that receive its frames detect the mismatch;
// their failure notices carry it to every other rank, so all of them report a usage error
// that names the mismatch, not a closed connection.
class TcpMismatch : public testing::TestWithParam<int> {};

TEST_P(TcpMismatch, DifferentCountsFailOnEveryRankAsUsageErrors) {
  setenv("GCCL_TIMEOUT_MS", "10000", 1);
  // The ring, where every rank hears of the mismatch through one neighbour's notice. Under
  // the log-depth algorithms a rank whose send meets a peer's reset before that peer's notice
  // was written reports the reset instead (seen under load, ~15% of runs at 5 ranks): still an
  // error on every rank, less precise. docs/architecture.md notes it.
  setenv("GCCL_ALGO", "ring", 1);
  ProcessGroup group(GetParam(), withComm([](gcclComm_t comm, int rank, int nranks) {
                       const int odd = nranks / 2;
                       std::vector<float> data(200, 1.0f);
                       const gcclResult_t result =
                           gcclAllReduce(data.data(), data.data(), rank == odd ? 100 : 200,
                                         gcclFloat32, gcclSum, comm);
                       if (result != gcclInvalidUsage) {
                         return std::string("expected gcclInvalidUsage, got ") +
                                gcclGetErrorString(result) + ": " + gcclGetLastError(comm);
                       }
                       const std::string message = gcclGetLastError(comm);
                       if (message.find("mismatched collective") == std::string::npos ||
                           message.find("on rank " + std::to_string(rank)) == std::string::npos)
                         return "message: " + message;
                       return std::string("ok");
                     }));
  expectAllOk(group.collect(30000));
  unsetenv("GCCL_TIMEOUT_MS");
  unsetenv("GCCL_ALGO");
}

INSTANTIATE_TEST_SUITE_P(Ranks, TcpMismatch, testing::Values(2, 3, 5));

}  // namespace
}  // namespace gccl
