// Every collective through the C API, as real processes over TCP and over shared memory
// (GCCL_TRANSPORT): results exact on every rank, blocking and async, and the rules that span ranks
// — a root or a count that differs between ranks, allgatherv blocks that differ — fail on every
// rank with gcclInvalidUsage.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "multiproc/process_group.h"
#include "verifiable.h"

namespace gccl {
namespace {

using testing_support::ProcessGroup;

constexpr int kRanks = 4;

gcclComm_t join(int rank, int nranks, const gcclUniqueId& id, std::string& report) {
  gcclComm_t comm = nullptr;
  if (gcclCommInitRank(&comm, nranks, id, rank) != gcclSuccess) {
    report = std::string("init failed: ") + gcclGetLastError(nullptr);
  }
  return comm;
}

// A collective's buffer: from the heap, or from gcclMemAlloc, which shm peers read zero-copy.
class TestBuffer {
 public:
  TestBuffer(size_t bytes, bool shared) : shared_(shared) {
    if (!shared) {
      heap_.resize(bytes);
      data_ = heap_.data();
    } else if (void* memory = nullptr; gcclMemAlloc(&memory, bytes) == gcclSuccess) {
      data_ = static_cast<unsigned char*>(memory);
    }
    size_ = data_ != nullptr ? bytes : 0;
  }
  ~TestBuffer() {
    if (shared_) gcclMemFree(data_);
  }
  TestBuffer(const TestBuffer&) = delete;
  TestBuffer& operator=(const TestBuffer&) = delete;
  unsigned char* data() const { return data_; }
  unsigned char* begin() const { return data_; }
  unsigned char* end() const { return data_ + size_; }

 private:
  bool shared_;
  std::vector<unsigned char> heap_;
  unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

// Runs each collective once blocking and once async on `count` int32 / float16 elements and
// reports the first wrong result; exit code 0 when all were exact.
int everyCollective(int rank, int n, const gcclUniqueId& id, std::string& report, size_t count,
                    bool sharedBuffers) {
  gcclComm_t comm = join(rank, n, id, report);
  if (comm == nullptr) return 1;
  auto fail = [&](const std::string& what) {
    report = what + ": " + gcclGetLastError(comm);
    gcclCommAbort(comm);
    return 1;
  };
  for (gcclDataType_t type : {gcclInt32, gcclFloat16}) {
    const size_t es = gcclTypeSize(type);
    for (bool async : {false, true}) {
      auto finish = [&](gcclResult_t started, gcclRequest_t request) {
        if (started != gcclSuccess || !async) return started;
        return gcclWait(request);
      };
      gcclRequest_t request = nullptr;
      gcclRequest_t* maybe = async ? &request : nullptr;
      const TestBuffer in(count * es * n, sharedBuffers), out(count * es * n, sharedBuffers);
      if (in.data() == nullptr || out.data() == nullptr) return fail("gcclMemAlloc");
      // Before every collective: what it does not write must not hold an earlier one's result
      // (an allgather leaves exactly what allgatherv's first blocks expect).
      const auto poisonOutput = [&] { std::fill(out.begin(), out.end(), 0xAB); };

      poisonOutput();
      perf::fillInput(in.data(), count, type, gcclSum, rank, n);
      const int root = 2;
      const gcclResult_t b =
          async ? gcclBroadcastAsync(in.data(), out.data(), count, type, root, comm, maybe)
                : gcclBroadcast(in.data(), out.data(), count, type, root, comm);
      if (finish(b, request) != gcclSuccess) return fail("broadcast");
      if (perf::countWrongInput(out.data(), count, type, gcclSum, root, n) != 0)
        return fail("broadcast result");

      poisonOutput();
      perf::fillInput(in.data(), count, type, gcclMax, rank, n);
      const gcclResult_t r =
          async ? gcclReduceAsync(in.data(), out.data(), count, type, gcclMax, 1, comm, maybe)
                : gcclReduce(in.data(), out.data(), count, type, gcclMax, 1, comm);
      if (finish(r, request) != gcclSuccess) return fail("reduce");
      if (rank == 1 && perf::countWrong(out.data(), count, type, gcclMax, n) != 0)
        return fail("reduce result");

      poisonOutput();
      perf::fillInput(in.data(), count, type, gcclSum, rank, n);
      const gcclResult_t g =
          async ? gcclAllGatherAsync(in.data(), out.data(), count, type, comm, maybe)
                : gcclAllGather(in.data(), out.data(), count, type, comm);
      if (finish(g, request) != gcclSuccess) return fail("allgather");
      for (int b2 = 0; b2 < n; ++b2) {
        if (perf::countWrongInput(out.data() + b2 * count * es, count, type, gcclSum, b2, n) != 0)
          return fail("allgather result");
      }

      std::vector<size_t> counts, displs;
      size_t end = 0;
      for (int b2 = 0; b2 < n; ++b2) {
        counts.push_back(count / (b2 + 1));
        displs.push_back(end);
        end += counts.back();
      }
      poisonOutput();
      const gcclResult_t v =
          async ? gcclAllGatherVAsync(in.data(), counts[rank], out.data(), counts.data(),
                                      displs.data(), type, comm, maybe)
                : gcclAllGatherV(in.data(), counts[rank], out.data(), counts.data(), displs.data(),
                                 type, comm);
      if (finish(v, request) != gcclSuccess) return fail("allgatherv");
      for (int b2 = 0; b2 < n; ++b2) {
        if (perf::countWrongInput(out.data() + displs[b2] * es, counts[b2], type, gcclSum, b2, n) !=
            0)
          return fail("allgatherv result");
      }

      poisonOutput();
      perf::fillInput(in.data(), count * n, type, gcclAvg, rank, n);
      const gcclResult_t s =
          async ? gcclReduceScatterAsync(in.data(), out.data(), count, type, gcclAvg, comm, maybe)
                : gcclReduceScatter(in.data(), out.data(), count, type, gcclAvg, comm);
      if (finish(s, request) != gcclSuccess) return fail("reduce-scatter");
      if (perf::countWrong(out.data(), count, type, gcclAvg, n, count * rank) != 0)
        return fail("reduce-scatter result");

      poisonOutput();
      perf::fillInput(in.data(), count * n, type, gcclSum, rank, n);
      const gcclResult_t a =
          async ? gcclAllToAllAsync(in.data(), out.data(), count, type, comm, maybe)
                : gcclAllToAll(in.data(), out.data(), count, type, comm);
      if (finish(a, request) != gcclSuccess) return fail("alltoall");
      for (int b2 = 0; b2 < n; ++b2) {
        if (perf::countWrongInput(out.data() + b2 * count * es, count, type, gcclSum, b2, n,
                                  count * rank) != 0)
          return fail("alltoall result");
      }

      const gcclResult_t w = async ? gcclBarrierAsync(comm, maybe) : gcclBarrier(comm);
      if (finish(w, request) != gcclSuccess) return fail("barrier");
    }
  }
  report = "ok";
  return gcclCommDestroy(comm) == gcclSuccess ? 0 : 1;
}

// How the ranks (all on this machine) talk, and how much: tcp with GCCL_NSOCKS sockets (4
// sockets and 70001 elements make messages of several stripes, stripes.h), or shared memory with
// or without single-copy (2^18+3 int32 elements: in slices of up to GCCL_CHUNK_BYTES = 1 MiB,
// halves of 0.5 MiB, several per message, which go through the rings behind a body kind, or
// zero-copy from gcclMemAlloc buffers; in slices of up to 4 MiB, single messages of 1 MiB and
// 12 B, which reach the single-copy threshold); ranks that wait as chosen for this machine, or
// that only yield, or only sleep (each path of the engine's wait, whatever the machine);
// buffers from the heap or from gcclMemAlloc (read zero-copy over shm).
enum class Waits { kAuto, kYield, kSleep };

struct Wiring {
  const char* transport;  // tcp, shm, or shm_rings: shared memory, large messages in the rings
  int nsocks;
  size_t count;
  Waits waits = Waits::kAuto;  // kYield: GCCL_YIELD_US at its most, 1 s; neither spins
  bool sharedBuffers = false;  // buffers from gcclMemAlloc: zero-copy over shm
  const char* chunkBytes = "1048576";
};

const char* nameOf(Waits waits) {
  switch (waits) {
    case Waits::kAuto: return "";
    case Waits::kYield: return "_yielding";
    case Waits::kSleep: return "_sleeping";
  }
  return "";
}

// Sets a variable for the forked ranks and restores it afterwards: a run of the whole binary
// under an outer GCCL_NSOCKS or GCCL_TRANSPORT keeps it for the other tests.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, const std::string& value) : name_(name) {
    const char* outer = std::getenv(name);
    if (outer != nullptr) saved_ = outer;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedVariable() {
    if (saved_) {
      setenv(name_, saved_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> saved_;
};

class CollectivesOver : public testing::TestWithParam<Wiring> {};

// The transport alone: tcp, shm or shm_rings.
class OverTransport : public testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const std::string transport = GetParam();
    route_.emplace("GCCL_TRANSPORT", transport.substr(0, 3));
    singleCopy_.emplace("GCCL_SHM_SINGLE_COPY", transport == "shm_rings" ? "0" : "1");
  }
  void TearDown() override {
    singleCopy_.reset();
    route_.reset();
  }

 private:
  std::optional<ScopedVariable> route_;
  std::optional<ScopedVariable> singleCopy_;
};

TEST_P(CollectivesOver, EveryCollectiveIsExactOnEveryRank) {
  const Wiring wiring = GetParam();
  const std::string transport = wiring.transport;
  const ScopedVariable timeout("GCCL_TIMEOUT_MS", "20000");
  const ScopedVariable sockets("GCCL_NSOCKS", std::to_string(wiring.nsocks));
  const ScopedVariable route("GCCL_TRANSPORT", transport.substr(0, 3));
  const ScopedVariable singleCopy("GCCL_SHM_SINGLE_COPY", transport == "shm_rings" ? "0" : "1");
  const ScopedVariable chunk("GCCL_CHUNK_BYTES", wiring.chunkBytes);
  const ScopedVariable spin("GCCL_SPIN_US", wiring.waits == Waits::kAuto ? "auto" : "0");
  const ScopedVariable yield("GCCL_YIELD_US", wiring.waits == Waits::kAuto    ? "auto"
                                              : wiring.waits == Waits::kYield ? "1000000"
                                                                              : "0");
  const size_t count = wiring.count;
  const bool shared = wiring.sharedBuffers;
  ProcessGroup group(kRanks, [=](int rank, int n, const gcclUniqueId& id, std::string& report) {
    return everyCollective(rank, n, id, report, count, shared);
  });
  const auto reports = group.collect(60000);
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(reports[r].exitCode, 0) << "rank " << r << ": " << reports[r].text;
    EXPECT_EQ(reports[r].text, "ok") << "rank " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Wirings, CollectivesOver,
    testing::Values(Wiring{"tcp", 1, 1000}, Wiring{"tcp", 4, 1000}, Wiring{"tcp", 4, 70001},
                    Wiring{"shm", 1, 1000}, Wiring{"shm", 1, (size_t{1} << 18) + 3},
                    Wiring{"shm_rings", 1, 1000}, Wiring{"shm_rings", 1, (size_t{1} << 18) + 3},
                    Wiring{"tcp", 1, 1000, Waits::kYield}, Wiring{"shm", 1, 1000, Waits::kYield},
                    Wiring{"shm", 1, (size_t{1} << 18) + 3, Waits::kYield},
                    Wiring{"tcp", 1, 1000, Waits::kSleep}, Wiring{"shm", 1, 1000, Waits::kSleep},
                    Wiring{"shm", 1, (size_t{1} << 18) + 3, Waits::kSleep},
                    Wiring{"shm", 1, (size_t{1} << 18) + 3, Waits::kAuto, false, "4194304"},
                    Wiring{"shm", 1, (size_t{1} << 18) + 3, Waits::kAuto, true},
                    Wiring{"shm", 1, (size_t{1} << 18) + 3, Waits::kSleep, true},
                    Wiring{"shm", 1, (size_t{1} << 18) + 3, Waits::kAuto, true, "4194304"}
#ifdef GCCL_TEST_UCX
                    ,
                    Wiring{"ucx", 1, 1000}, Wiring{"ucx", 1, (size_t{1} << 17) + 3}
#endif
                    ),
    [](const testing::TestParamInfo<Wiring>& info) {
      return std::string(info.param.transport) + "_nsocks" + std::to_string(info.param.nsocks) +
             "_count" + std::to_string(info.param.count) + nameOf(info.param.waits) +
             (info.param.sharedBuffers ? "_memalloc" : "") +
             (std::string(info.param.chunkBytes) == "4194304" ? "_chunk4M" : "");
    });

// Split into evens and odds (rank 3 opting out of a second split), then allreduce on the halves
// and on the parent with both outstanding at once.
int splitAndReduce(int rank, int n, const gcclUniqueId& id, std::string& report) {
  gcclComm_t comm = join(rank, n, id, report);
  if (comm == nullptr) return 1;
  gcclComm_t half = nullptr;
  gcclComm_t none = nullptr;
  int halfRank = -1, halfSize = -1;
  if (gcclCommSplit(comm, rank % 2, rank, &half) != gcclSuccess ||
      gcclCommSplit(comm, rank == 3 ? -1 : 0, 0, &none) != gcclSuccess ||
      gcclCommUserRank(half, &halfRank) != gcclSuccess ||
      gcclCommCount(half, &halfSize) != gcclSuccess) {
    report = std::string("split: ") + gcclGetLastError(comm);
    return 1;
  }
  if (halfRank != rank / 2 || halfSize != n / 2 || (rank == 3) != (none == nullptr)) {
    report = "wrong split: rank " + std::to_string(halfRank) + " of " + std::to_string(halfSize);
    return 1;
  }
  std::vector<int32_t> inHalf(4096, rank + 1), inAll(4096, rank + 1);
  gcclRequest_t a = nullptr, b = nullptr;
  if (gcclAllReduceAsync(inHalf.data(), inHalf.data(), inHalf.size(), gcclInt32, gcclSum, half,
                         &a) != gcclSuccess ||
      gcclAllReduceAsync(inAll.data(), inAll.data(), inAll.size(), gcclInt32, gcclSum, comm, &b) !=
          gcclSuccess ||
      gcclWait(a) != gcclSuccess || gcclWait(b) != gcclSuccess) {
    report = std::string("allreduce: ") + gcclGetLastError(half);
    return 1;
  }
  const int32_t halfSum = rank % 2 == 0 ? 1 + 3 : 2 + 4;
  for (size_t i = 0; i < inHalf.size(); ++i) {
    if (inHalf[i] != halfSum || inAll[i] != 10) {
      report = "wrong sum at " + std::to_string(i);
      return 1;
    }
  }
  report = "ok";
  // Parent first: the halves keep working without it.
  if (gcclCommDestroy(comm) != gcclSuccess || gcclBarrier(half) != gcclSuccess) return 1;
  return gcclCommDestroy(half) == gcclSuccess && gcclCommDestroy(none) == gcclSuccess ? 0 : 1;
}

TEST_P(OverTransport, SplitCommunicatorsRunBesideTheirParent) {
  setenv("GCCL_TIMEOUT_MS", "20000", 1);
  ProcessGroup group(kRanks, splitAndReduce);
  const auto reports = group.collect(60000);
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(reports[r].exitCode, 0) << "rank " << r << ": " << reports[r].text;
    EXPECT_EQ(reports[r].text, "ok") << "rank " << r;
  }
}

// Rank r's element i: terms of very different magnitudes and both signs, so that the bits of a
// float sum depend on the order of its terms.
float termOf(int rank, size_t i) {
  constexpr float kTerms[] = {1e8f, 1.0f, -1e8f, 3.0f, 0.5f, -7.0f, 1e-3f};
  return kTerms[(i + static_cast<size_t>(rank) * 3) % 7] * static_cast<float>(i % 5 + 1) +
         static_cast<float>(rank) * 0.1f;
}

// Every rank sums in rank order, its own input in its place: ((x0 + x1) + x2) + x3 to the bit,
// in and out of place, in one slice and in several.
int oneShotSums(int rank, int n, const gcclUniqueId& id, std::string& report) {
  gcclComm_t comm = join(rank, n, id, report);
  if (comm == nullptr) return 1;
  for (size_t count : {size_t{1000}, size_t{100001}}) {  // 400 KB: 7 slices of up to 64 KiB
    for (bool inPlace : {false, true}) {
      std::vector<float> in(count), out(count, -1.0f);
      for (size_t i = 0; i < count; ++i) in[i] = termOf(rank, i);
      float* output = inPlace ? in.data() : out.data();
      if (gcclAllReduce(in.data(), output, count, gcclFloat32, gcclSum, comm) != gcclSuccess) {
        report = std::string("allreduce: ") + gcclGetLastError(comm);
        gcclCommAbort(comm);
        return 1;
      }
      for (size_t i = 0; i < count; ++i) {
        float expected = termOf(0, i);
        for (int r = 1; r < n; ++r) expected += termOf(r, i);
        if (std::memcmp(&output[i], &expected, sizeof expected) != 0) {
          report = "element " + std::to_string(i) + " of " + std::to_string(count) + ": " +
                   std::to_string(output[i]) + ", not the rank-order sum " +
                   std::to_string(expected) + (inPlace ? " (in place)" : "");
          gcclCommAbort(comm);
          return 1;
        }
      }
    }
  }
  report = "ok";
  return gcclCommDestroy(comm) == gcclSuccess ? 0 : 1;
}

TEST_P(OverTransport, OneShotAllreduceSumsInRankOrderOnEveryRank) {
  const ScopedVariable algorithm("GCCL_ALGO", "one_shot");
  const ScopedVariable chunk("GCCL_CHUNK_BYTES", "65536");
  const ScopedVariable timeout("GCCL_TIMEOUT_MS", "20000");
  ProcessGroup group(kRanks, oneShotSums);
  const auto reports = group.collect(60000);
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(reports[r].exitCode, 0) << "rank " << r << ": " << reports[r].text;
    EXPECT_EQ(reports[r].text, "ok") << "rank " << r;
  }
}

// Both all-to-all algorithms (GCCL_ALGO), out of place and in place, exact on every rank, at
// a power of two and not (Bruck's last round then moves a shorter run).
int allToAllBothWays(int rank, int n, const gcclUniqueId& id, std::string& report) {
  gcclComm_t comm = join(rank, n, id, report);
  if (comm == nullptr) return 1;
  const size_t count = 3001;
  std::vector<int32_t> in(count * n), out(count * n);
  for (bool inPlace : {false, true}) {
    std::fill(out.begin(), out.end(), -1);
    int32_t* input = inPlace ? out.data() : in.data();
    perf::fillInput(input, count * n, gcclInt32, gcclSum, rank, n);
    if (gcclAllToAll(input, out.data(), count, gcclInt32, comm) != gcclSuccess) {
      report = std::string("alltoall: ") + gcclGetLastError(comm);
      gcclCommAbort(comm);
      return 1;
    }
    for (int b = 0; b < n; ++b) {
      if (perf::countWrongInput(out.data() + b * count, count, gcclInt32, gcclSum, b, n,
                                count * rank) != 0) {
        report = std::string("alltoall result, block ") + std::to_string(b) +
                 (inPlace ? " in place" : "");
        gcclCommAbort(comm);
        return 1;
      }
    }
  }
  report = "ok";
  return gcclCommDestroy(comm) == gcclSuccess ? 0 : 1;
}

// Runs `body` on 3 and on kRanks processes, in slices of 4 KiB (several per block); every
// rank must succeed.
void expectExactAtThreeAndFourRanks(const ProcessGroup::Body& body, const std::string& label) {
  const ScopedVariable timeout("GCCL_TIMEOUT_MS", "20000");
  const ScopedVariable chunk("GCCL_CHUNK_BYTES", "4096");
  for (int ranks : {3, kRanks}) {
    ProcessGroup group(ranks, body);
    const auto reports = group.collect(60000);
    for (int r = 0; r < ranks; ++r) {
      EXPECT_EQ(reports[r].exitCode, 0)
          << label << " rank " << r << " of " << ranks << ": " << reports[r].text;
    }
  }
}

TEST_P(OverTransport, AllToAllIsExactWithEitherAlgorithm) {
  for (const char* algorithm : {"recursive_doubling", "direct"}) {
    const ScopedVariable algo("GCCL_ALGO", algorithm);
    expectExactAtThreeAndFourRanks(allToAllBothWays, algorithm);
  }
}

// Rank s's alltoallv block for r: 0 for some pairs, several slices for most, symmetric (in
// place each rank receives from a rank as much as it sends it).
size_t pairCount(int s, int r) {
  return (s + r) % 3 == 0 ? 0 : static_cast<size_t>(1000 * (s + r) + 7);
}

// Alltoallv out of place (blocking) and in place (as a request), exact on every rank: rank
// s's block for r holds s's input elements from r x 10000 on. Receive blocks lie in reverse
// rank order, send blocks in rank order.
int allToAllVBothWays(int rank, int n, const gcclUniqueId& id, std::string& report) {
  gcclComm_t comm = join(rank, n, id, report);
  if (comm == nullptr) return 1;
  std::vector<size_t> recvcounts(n), rdispls(n), sendcounts(n), sdispls(n);
  size_t received = 0, sent = 0;
  for (int p = n - 1; p >= 0; --p) {
    recvcounts[p] = pairCount(p, rank);
    rdispls[p] = received;
    received += recvcounts[p];
  }
  for (int p = 0; p < n; ++p) {
    sendcounts[p] = pairCount(rank, p);
    sdispls[p] = sent;
    sent += sendcounts[p];
  }
  std::vector<int32_t> in(sent), out(received);
  for (bool inPlace : {false, true}) {
    std::fill(out.begin(), out.end(), -1);
    const std::vector<size_t>& blocks = inPlace ? rdispls : sdispls;
    int32_t* input = inPlace ? out.data() : in.data();
    for (int p = 0; p < n; ++p) {
      perf::fillInput(input + blocks[p], sendcounts[p], gcclInt32, gcclSum, rank, n, p * 10000);
    }
    gcclResult_t result = gcclSuccess;
    if (inPlace) {
      gcclRequest_t request = nullptr;
      result = gcclAllToAllVAsync(input, nullptr, nullptr, out.data(), recvcounts.data(),
                                  rdispls.data(), gcclInt32, comm, &request);
      if (result == gcclSuccess) result = gcclWait(request);
    } else {
      result = gcclAllToAllV(input, sendcounts.data(), sdispls.data(), out.data(),
                             recvcounts.data(), rdispls.data(), gcclInt32, comm);
    }
    if (result != gcclSuccess) {
      report = std::string("alltoallv: ") + gcclGetLastError(comm);
      gcclCommAbort(comm);
      return 1;
    }
    for (int s = 0; s < n; ++s) {
      if (perf::countWrongInput(out.data() + rdispls[s], recvcounts[s], gcclInt32, gcclSum, s, n,
                                static_cast<size_t>(rank) * 10000) != 0) {
        report = "alltoallv result, block from " + std::to_string(s) + (inPlace ? " in place" : "");
        gcclCommAbort(comm);
        return 1;
      }
    }
  }
  report = "ok";
  return gcclCommDestroy(comm) == gcclSuccess ? 0 : 1;
}

TEST_P(OverTransport, AllToAllVIsExactWithEitherAlgorithm) {
  for (const char* algorithm : {"recursive_doubling", "direct"}) {
    const ScopedVariable algo("GCCL_ALGO", algorithm);
    expectExactAtThreeAndFourRanks(allToAllVBothWays, algorithm);
  }
}

// Two (fake) hosts, over TCP (GCCL_HOST_ID fakes hosts for the algorithms, not for the
// transport): the pairwise exchange over a connection between every pair (what `auto` runs
// up to 16 ranks), and the blocks through relays (Bruck's; for alltoallv after gathering
// every pair's count).
template <int (*bothWays)(int, int, const gcclUniqueId&, std::string&)>
int acrossTwoHosts(int rank, int n, const gcclUniqueId& id, std::string& report) {
  setenv("GCCL_HOST_ID", std::to_string(rank % 2).c_str(), 1);
  setenv("GCCL_TRANSPORT", "tcp", 1);
  return bothWays(rank, n, id, report);
}

TEST(AllToAllAndV, AreExactAcrossHostsWithEitherAlgorithm) {
  for (const char* algorithm : {"direct", "recursive_doubling"}) {
    const ScopedVariable algo("GCCL_ALGO", algorithm);
    expectExactAtThreeAndFourRanks(acrossTwoHosts<allToAllBothWays>, algorithm);
    expectExactAtThreeAndFourRanks(acrossTwoHosts<allToAllVBothWays>, algorithm);
  }
}

// Across hosts, through relays, rank 3 sends rank 0 32 elements where rank 0 expects 16: the
// gathered counts show it to every rank, which all refuse the call naming that pair, before
// it moves any block; the communicator goes on working.
int allToAllVDisagreeingAcrossHosts(int rank, int n, const gcclUniqueId& id, std::string& report) {
  setenv("GCCL_HOST_ID", std::to_string(rank % 2).c_str(), 1);
  setenv("GCCL_ALGO", "recursive_doubling", 1);
  gcclComm_t comm = join(rank, n, id, report);
  if (comm == nullptr) return 1;
  std::vector<size_t> counts(n, 16), sendcounts(n, 16), displs;
  for (int p = 0; p < n; ++p) displs.push_back(static_cast<size_t>(p) * 32);
  if (rank == 3) sendcounts[0] = 32;
  std::vector<float> in(32 * n, 1.0f), out(32 * n, 0.0f);
  const gcclResult_t refused =
      gcclAllToAllV(in.data(), sendcounts.data(), displs.data(), out.data(), counts.data(),
                    displs.data(), gcclFloat32, comm);
  report = std::to_string(static_cast<int>(refused)) + " " + gcclGetLastError(comm);
  if (refused != gcclInvalidUsage) {
    gcclCommAbort(comm);
    return 1;
  }
  if (gcclAllReduce(in.data(), out.data(), in.size(), gcclFloat32, gcclSum, comm) != gcclSuccess ||
      out[0] != static_cast<float>(n)) {
    report += std::string("; then allreduce: ") + gcclGetLastError(comm);
    gcclCommAbort(comm);
    return 1;
  }
  return gcclCommDestroy(comm) == gcclSuccess ? 0 : 1;
}

TEST(AllToAllV, ADisagreeingPairFailsEveryRankAcrossHosts) {
  const ScopedVariable timeout("GCCL_TIMEOUT_MS", "20000");
  ProcessGroup group(kRanks, allToAllVDisagreeingAcrossHosts);
  const auto reports = group.collect(60000);
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(reports[r].exitCode, 0) << "rank " << r << ": " << reports[r].text;
    EXPECT_NE(reports[r].text.find("rank 3 sends 32 elements to rank 0, which expects 16"),
              std::string::npos)
        << "rank " << r << ": " << reports[r].text;
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, OverTransport, testing::Values("tcp", "shm", "shm_rings"),
                         [](const testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

// Rank 3 passes a different root, count or allgatherv layout from the others: every rank
// returns gcclInvalidUsage naming a mismatch, in that collective or, for a rank whose part did
// not depend on rank 3 (the start of a broadcast chain), in its next one.
enum class Mismatch { kRoot, kCount, kBlocks, kAllToAllCount, kAllToAllVPair };

int mismatched(int rank, int n, const gcclUniqueId& id, std::string& report, Mismatch what) {
  // Slices of 16 floats: the alltoallv pair's blocks (32 sent, 16 expected) start with slices
  // of the same size, so only the pair's count in the frame tells them apart in that call.
  if (what == Mismatch::kAllToAllVPair) setenv("GCCL_CHUNK_BYTES", "64", 1);
  gcclComm_t comm = join(rank, n, id, report);
  if (comm == nullptr) return 1;
  std::vector<float> in(64, 1.0f), out(64 * n, 0.0f);
  const bool odd = rank == 3;
  gcclResult_t result = gcclSuccess;
  switch (what) {
    case Mismatch::kRoot:
      result = gcclBroadcast(in.data(), out.data(), 64, gcclFloat32, odd ? 1 : 0, comm);
      break;
    case Mismatch::kCount:
      result = gcclAllGather(in.data(), out.data(), odd ? 32 : 64, gcclFloat32, comm);
      break;
    case Mismatch::kBlocks: {
      std::vector<size_t> counts(n, 16), displs;
      for (int b = 0; b < n; ++b) displs.push_back(static_cast<size_t>(b) * 16);
      if (odd) displs = {48, 32, 16, 0};  // same lengths, another layout
      result = gcclAllGatherV(in.data(), 16, out.data(), counts.data(), displs.data(), gcclFloat32,
                              comm);
      break;
    }
    case Mismatch::kAllToAllCount:
      result = gcclAllToAll(out.data(), in.data(), odd ? 8 : 16, gcclFloat32, comm);
      break;
    case Mismatch::kAllToAllVPair: {  // rank 3 sends rank 0 twice the block rank 0 expects
      std::vector<size_t> counts(n, 16), displs, sendDispls;
      for (int b = 0; b < n; ++b) {
        displs.push_back(static_cast<size_t>(b) * 16);
        sendDispls.push_back(static_cast<size_t>(b) * 32);
      }
      std::vector<size_t> sendcounts = counts;
      if (odd) sendcounts[0] = 32;
      result = gcclAllToAllV(out.data(), sendcounts.data(), sendDispls.data(), in.data(),
                             counts.data(), displs.data(), gcclFloat32, comm);
      if (rank == 0 && result == gcclSuccess) {
        report = "rank 0 took the first 16 of rank 3's 32 elements as its block";
        gcclCommAbort(comm);
        return 1;
      }
      break;
    }
  }
  if (result == gcclSuccess) result = gcclBarrier(comm);
  report = std::to_string(static_cast<int>(result)) + " " + gcclGetLastError(comm);
  gcclCommAbort(comm);
  return result == gcclInvalidUsage ? 0 : 1;
}

class CollectiveMismatch : public testing::TestWithParam<Mismatch> {};

TEST_P(CollectiveMismatch, FailsOnEveryRankAsAUsageError) {
  static Mismatch what;
  what = GetParam();
  setenv("GCCL_TIMEOUT_MS", "20000", 1);
  ProcessGroup group(kRanks, [](int rank, int n, const gcclUniqueId& id, std::string& report) {
    return mismatched(rank, n, id, report, what);
  });
  const auto reports = group.collect(30000);
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(reports[r].exitCode, 0) << "rank " << r << ": " << reports[r].text;
    EXPECT_NE(reports[r].text.find("mismatch"), std::string::npos)
        << "rank " << r << ": " << reports[r].text;
  }
}

std::string mismatchName(const testing::TestParamInfo<Mismatch>& info) {
  switch (info.param) {
    case Mismatch::kRoot: return "root";
    case Mismatch::kCount: return "count";
    case Mismatch::kBlocks: return "blocks";
    case Mismatch::kAllToAllCount: return "alltoall_count";
    case Mismatch::kAllToAllVPair: return "alltoallv_pair";
  }
  return "unknown";
}

INSTANTIATE_TEST_SUITE_P(Kinds, CollectiveMismatch,
                         testing::Values(Mismatch::kRoot, Mismatch::kCount, Mismatch::kBlocks,
                                         Mismatch::kAllToAllCount, Mismatch::kAllToAllVPair),
                         mismatchName);

}  // namespace
}  // namespace gccl
