// Zero-copy over shared memory: ranks whose buffers come from gcclMemAlloc read and reduce
// straight out of each other's memory (transport/shm/peer_regions.h). Every allreduce algorithm
// at 2-4 processes, in and out of place, on integer-valued int32, float32 and float16 data:
// exact on every rank. Each rank's log must also show that it mapped its peers' buffers, so
// that a fallback to the copying path cannot pass for the zero-copy one, and for the direct
// allreduce that its results went back into the peers' buffers (Step::writeBack), also when
// they stream around the cache (GCCL_SHM_STREAM_BYTES).
// And the gradient pool, which lives in such memory when the communicator has shm peers.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "multiproc/process_group.h"
#include "verifiable.h"

namespace gccl {
namespace {

using testing_support::ProcessGroup;

struct Case {
  const char* algorithm;
  int nranks;
  int hosts = 1;  // > 1: GCCL_HOST_ID splits the ranks into that many hosts (hierarchical)
  // GCCL_SHM_STREAM_BYTES=0: the direct allreduce's written-back results stream around the
  // cache at this test's sizes too (by default only from 32 MiB), out of place.
  bool streaming = false;
};

// Messages of 1 MiB or more go single-copy (shm/cma.h): 4 MiB per buffer, in slices of up to
// 4 MiB (GCCL_CHUNK_BYTES), makes every algorithm's messages reach it at 4 ranks, and the odd 5
// elements a ragged tail.
size_t countFor(gcclDataType_t type) {
  return (size_t{4} << 20) / gcclTypeSize(type) + 5;
}

std::string readAll(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  char chunk[4096];
  while (const size_t n = std::fread(chunk, 1, sizeof chunk, file)) text.append(chunk, n);
  return text;
}

// A rank's exit code once its results were exact: 0 when its log shows that it mapped a peer's
// buffer (and, with `writesBack`, that it wrote results into its peers' buffers and received
// notices for theirs: the direct allreduce; that those results streamed exactly when `streams`)
// and its communicator went down cleanly.
int verdict(std::FILE* log, bool destroyed, std::string& report, bool writesBack = false,
            bool streams = false) {
  const std::string text = readAll(log);
  if (text.find("shm: mapped a shareable buffer (gcclMemAlloc's kind) of rank") ==
      std::string::npos) {
    report = "no peer buffer mapped; log:\n" + text;
    return 1;
  }
  if (writesBack && (text.find("shm: writing results back into the gcclMemAlloc buffers of rank") ==
                         std::string::npos ||
                     text.find("writes its results into this rank's gcclMemAlloc buffers") ==
                         std::string::npos)) {
    report = "no write-back; log:\n" + text;
    return 1;
  }
  const bool streamed =
      text.find("write-back: results stream around the cache") != std::string::npos;
  if (streamed != streams) {
    report = std::string(streams ? "no streaming write-back" : "streamed with it off (-1)") +
             "; log:\n" + text;
    return 1;
  }
  report = "ok";
  return destroyed ? 0 : 1;
}

int allreduceFromSharedBuffers(const Case& c, int rank, int n, const gcclUniqueId& id,
                               std::string& report) {
  // The log goes to a file this rank reads back at the end.
  std::FILE* log = std::tmpfile();
  if (log == nullptr || dup2(fileno(log), STDERR_FILENO) < 0) {
    report = "cannot capture the log";
    return 1;
  }
  if (c.hosts > 1) setenv("GCCL_HOST_ID", std::to_string(rank % c.hosts).c_str(), 1);
  gcclComm_t comm = nullptr;
  if (gcclCommInitRank(&comm, n, id, rank) != gcclSuccess) {
    report = std::string("init failed: ") + gcclGetLastError(nullptr);
    return 1;
  }
  void* in = nullptr;
  void* out = nullptr;
  const size_t bytes = countFor(gcclFloat16) * 2;  // the most any type below takes
  if (gcclMemAlloc(&in, bytes) != gcclSuccess || gcclMemAlloc(&out, bytes) != gcclSuccess) {
    report = std::string("gcclMemAlloc: ") + gcclGetLastError(nullptr);
    return 1;
  }
  for (gcclDataType_t type : {gcclInt32, gcclFloat32, gcclFloat16}) {
    const size_t count = countFor(type);
    for (bool inPlace : {false, true}) {
      // The second from the mappings already made; an average divides as it reduces from them.
      for (gcclRedOp_t op : {gcclSum, gcclSum, gcclAvg}) {
        perf::fillInput(in, count, type, op, rank, n);
        void* result = inPlace ? in : out;
        if (gcclAllReduce(in, result, count, type, op, comm) != gcclSuccess) {
          report = std::string("allreduce: ") + gcclGetLastError(comm);
          return 1;
        }
        if (const size_t wrong = perf::countWrong(result, count, type, op, n)) {
          report = std::to_string(wrong) + " wrong elements (type " + std::to_string(type) +
                   ", op " + std::to_string(op) + (inPlace ? ", in place)" : ", out of place)");
          return 1;
        }
      }
    }
  }
  const bool destroyed = gcclCommDestroy(comm) == gcclSuccess;
  gcclMemFree(in);
  gcclMemFree(out);
  return verdict(log, destroyed, report, std::string(c.algorithm) == "direct", c.streaming);
}

// NCCL lets ranks differ in placement. Under the direct allreduce the even ranks here work in
// place and offer their own buffer for the results, the odd ones out of place offer their
// output: every owner writes into both kinds, every rank receives notices (its log says so,
// the odd ones' too), and every rank ends exact, summed and averaged.
int mixedPlacement(int rank, int n, const gcclUniqueId& id, std::string& report) {
  std::FILE* log = std::tmpfile();
  if (log == nullptr || dup2(fileno(log), STDERR_FILENO) < 0) {
    report = "cannot capture the log";
    return 1;
  }
  gcclComm_t comm = nullptr;
  if (gcclCommInitRank(&comm, n, id, rank) != gcclSuccess) {
    report = std::string("init failed: ") + gcclGetLastError(nullptr);
    return 1;
  }
  const size_t count = countFor(gcclFloat32);
  void* in = nullptr;
  void* out = nullptr;
  if (gcclMemAlloc(&in, count * 4) != gcclSuccess || gcclMemAlloc(&out, count * 4) != gcclSuccess) {
    report = std::string("gcclMemAlloc: ") + gcclGetLastError(nullptr);
    return 1;
  }
  void* result = rank % 2 == 0 ? in : out;
  for (gcclRedOp_t op : {gcclSum, gcclAvg, gcclSum}) {
    perf::fillInput(in, count, gcclFloat32, op, rank, n);
    if (gcclAllReduce(in, result, count, gcclFloat32, op, comm) != gcclSuccess) {
      report = std::string("allreduce: ") + gcclGetLastError(comm);
      return 1;
    }
    if (const size_t wrong = perf::countWrong(result, count, gcclFloat32, op, n)) {
      report = std::to_string(wrong) + " wrong elements (op " + std::to_string(op) + ")";
      return 1;
    }
  }
  const bool destroyed = gcclCommDestroy(comm) == gcclSuccess;
  gcclMemFree(in);
  gcclMemFree(out);
  return verdict(log, destroyed, report, /*writesBack=*/true);
}

// Gradient sync on a communicator with shm peers keeps its pool (and the fp16 copies of
// compressed buckets) in shareable memory: the buckets' allreduces read the peers' zero-copy.
// Two tensors of 3 MiB and 1 MiB plus one float, summed (not averaged), exact on both ranks.
int gradientSyncFromSharedPool(gcclWireFormat_t wire, int rank, int n, const gcclUniqueId& id,
                               std::string& report) {
  std::FILE* log = std::tmpfile();
  if (log == nullptr || dup2(fileno(log), STDERR_FILENO) < 0) {
    report = "cannot capture the log";
    return 1;
  }
  gcclComm_t comm = nullptr;
  if (gcclCommInitRank(&comm, n, id, rank) != gcclSuccess) {
    report = std::string("init failed: ") + gcclGetLastError(nullptr);
    return 1;
  }
  gcclGradSyncConfig_t config = GCCL_GRAD_SYNC_CONFIG_INITIALIZER;
  config.average = 0;
  config.compression = wire;
  gcclGradSync_t sync = nullptr;
  const size_t counts[] = {(size_t{3} << 20) / 4, (size_t{1} << 20) / 4 + 1};
  size_t index[2] = {0, 0};
  void* pool = nullptr;
  size_t poolBytes = 0;
  if (gcclGradSyncCreate(comm, &config, &sync) != gcclSuccess ||
      gcclGradSyncRegister(sync, "a", counts[0], gcclFloat32, &index[0]) != gcclSuccess ||
      gcclGradSyncRegister(sync, "b", counts[1], gcclFloat32, &index[1]) != gcclSuccess ||
      gcclGradSyncFinalize(sync, &pool, &poolBytes) != gcclSuccess) {
    report = std::string("gradient sync set-up: ") + gcclGetLastError(comm);
    return 1;
  }
  for (int step = 0; step < 2; ++step) {
    for (int t = 1; t >= 0; --t) {  // backward order
      void* data = nullptr;
      if (gcclGradSyncGetTensor(sync, index[t], &data) != gcclSuccess) return 1;
      perf::fillInput(data, counts[t], gcclFloat32, gcclSum, rank, n);
      if (gcclGradSyncMarkReady(sync, index[t], nullptr) != gcclSuccess) {
        report = std::string("markReady: ") + gcclGetLastError(comm);
        return 1;
      }
    }
    if (gcclGradSyncWait(sync, nullptr) != gcclSuccess) {
      report = std::string("wait: ") + gcclGetLastError(comm);
      return 1;
    }
    for (int t = 0; t < 2; ++t) {
      void* data = nullptr;
      gcclGradSyncGetTensor(sync, index[t], &data);
      if (const size_t wrong = perf::countWrong(data, counts[t], gcclFloat32, gcclSum, n)) {
        report = std::to_string(wrong) + " wrong elements in tensor " + std::to_string(t);
        return 1;
      }
    }
  }
  const bool destroyed =
      gcclGradSyncDestroy(sync) == gcclSuccess && gcclCommDestroy(comm) == gcclSuccess;
  return verdict(log, destroyed, report);
}

TEST(ZeroCopyDirect, RanksOfMixedPlacementAreExact) {
  // Logging is configured once per process, on the first call (the unique id's, here): the
  // other tests of this binary read INFO lines, so it is set before, whichever runs first.
  setenv("GCCL_DEBUG", "INFO", 1);
  setenv("GCCL_TIMEOUT_MS", "20000", 1);
  setenv("GCCL_ALGO", "direct", 1);
  setenv("GCCL_TRANSPORT", "shm", 1);
  ProcessGroup group(3, mixedPlacement);
  const auto reports = group.collect(60000);
  for (const char* name : {"GCCL_DEBUG", "GCCL_TIMEOUT_MS", "GCCL_ALGO", "GCCL_TRANSPORT"}) {
    unsetenv(name);
  }
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(reports[r].exitCode, 0) << "rank " << r << ": " << reports[r].text;
    EXPECT_EQ(reports[r].text, "ok") << "rank " << r;
  }
}

class ZeroCopyGradients : public testing::TestWithParam<gcclWireFormat_t> {};

TEST_P(ZeroCopyGradients, BucketsAreReducedFromThePeersPools) {
  setenv("GCCL_TIMEOUT_MS", "20000", 1);
  setenv("GCCL_DEBUG", "INFO", 1);
  setenv("GCCL_TRANSPORT", "shm", 1);
  const gcclWireFormat_t wire = GetParam();
  ProcessGroup group(2, [wire](int rank, int n, const gcclUniqueId& id, std::string& report) {
    return gradientSyncFromSharedPool(wire, rank, n, id, report);
  });
  const auto reports = group.collect(60000);
  for (const char* name : {"GCCL_TIMEOUT_MS", "GCCL_DEBUG", "GCCL_TRANSPORT"}) unsetenv(name);
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(reports[r].exitCode, 0) << "rank " << r << ": " << reports[r].text;
    EXPECT_EQ(reports[r].text, "ok") << "rank " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(Wire, ZeroCopyGradients, testing::Values(gcclWireNone, gcclWireFloat16),
                         [](const testing::TestParamInfo<gcclWireFormat_t>& info) {
                           return std::string(info.param == gcclWireNone ? "fp32" : "fp16");
                         });

class ZeroCopy : public testing::TestWithParam<Case> {};

TEST_P(ZeroCopy, AllreduceIsExactOnEveryRankFromMappedBuffers) {
  const Case c = GetParam();
  setenv("GCCL_TIMEOUT_MS", "20000", 1);
  setenv("GCCL_DEBUG", "INFO", 1);
  setenv("GCCL_CHUNK_BYTES", "4194304", 1);
  setenv("GCCL_ALGO", c.algorithm, 1);
  // Several hosts: shm within each, TCP between them (the automatic choice).
  setenv("GCCL_TRANSPORT", c.hosts > 1 ? "auto" : "shm", 1);
  setenv("GCCL_SHM_STREAM_BYTES", c.streaming ? "0" : "-1", 1);
  ProcessGroup group(c.nranks, [c](int rank, int n, const gcclUniqueId& id, std::string& report) {
    return allreduceFromSharedBuffers(c, rank, n, id, report);
  });
  const auto reports = group.collect(90000);
  for (const char* name : {"GCCL_TIMEOUT_MS", "GCCL_DEBUG", "GCCL_CHUNK_BYTES", "GCCL_ALGO",
                           "GCCL_TRANSPORT", "GCCL_SHM_STREAM_BYTES"}) {
    unsetenv(name);
  }
  for (int r = 0; r < c.nranks; ++r) {
    EXPECT_EQ(reports[r].exitCode, 0) << "rank " << r << ": " << reports[r].text;
    EXPECT_EQ(reports[r].text, "ok") << "rank " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Algorithms, ZeroCopy,
    testing::Values(Case{"ring", 2}, Case{"ring", 3}, Case{"ring", 4},
                    Case{"recursive_doubling", 2}, Case{"recursive_doubling", 4}, Case{"tree", 3},
                    Case{"tree", 4}, Case{"halving_doubling", 3}, Case{"halving_doubling", 4},
                    Case{"direct", 2}, Case{"direct", 3}, Case{"direct", 4},
                    Case{"direct", 2, 1, true}, Case{"direct", 3, 1, true},
                    Case{"hierarchical", 4, 2}),
    [](const testing::TestParamInfo<Case>& info) {
      std::string name = info.param.algorithm;
      name.append("_").append(std::to_string(info.param.nranks)).append("ranks");
      if (info.param.hosts > 1)
        name.append("_").append(std::to_string(info.param.hosts)).append("hosts");
      if (info.param.streaming) name.append("_streaming");
      return name;
    });

}  // namespace
}  // namespace gccl
