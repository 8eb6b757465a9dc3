// The machine census behind GCCL_SPIN_US=auto.
#include <gtest/gtest.h>

#include <gccl/gccl.h>

#include <sched.h>

#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/config.h"
#include "base/error.h"
#include "bootstrap/locality.h"
#include "bootstrap/memory_store.h"

namespace gccl {
namespace {

// A mask with the given CPUs set, in cpuMaskHex()'s format.
std::string maskOf(std::initializer_list<int> cpus) {
  std::string hex(cpuMaskHex().size(), '0');
  for (int cpu : cpus) {
    char& digit = hex[hex.size() - 1 - static_cast<size_t>(cpu / 4)];
    const int value = (digit >= 'a' ? digit - 'a' + 10 : digit - '0') | (1 << (cpu % 4));
    digit = "0123456789abcdef"[value];
  }
  return hex;
}

// Runs the census for `ranks` as threads (the others must have published already) and
// rethrows the first error one of them met.
std::vector<MachineShare> census(MemoryStore& store, int size, std::vector<int> ranks,
                                 std::vector<std::string> hostIds = {}) {
  hostIds.resize(static_cast<size_t>(size));
  std::vector<MachineShare> shares(static_cast<size_t>(size));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(size));
  std::vector<std::thread> threads;
  for (int rank : ranks) {
    threads.emplace_back([&, rank] {
      try {
        shares[rank] = shareOfMachine(store, rank, size, Deadline::afterMs(2000), hostIds[rank]);
      } catch (...) {
        errors[rank] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  return shares;
}

TEST(Locality, EveryRankOfOneMachineCountsAllOfThem) {
  MemoryStore store;
  const auto shares = census(store, 5, {0, 1, 2, 3, 4});
  for (int rank = 0; rank < 5; ++rank) EXPECT_EQ(shares[rank].ranks, 5) << "rank " << rank;
}

TEST(Locality, RanksOnOtherMachinesAreNotCounted) {
  // Ranks 1 and 3 pose as another machine with four CPUs of its own.
  MemoryStore store;
  store.set("locality/machine/1", "elsewhere elsewhere " + maskOf({0, 1}) + " 4 - 1@elsewhere#1");
  store.set("locality/machine/3", "elsewhere elsewhere " + maskOf({2, 3}) + " 4 - 3@elsewhere#3");
  const auto shares = census(store, 4, {0, 2});
  EXPECT_EQ(shares[0].ranks, 2);
  EXPECT_EQ(shares[2].ranks, 2);
  EXPECT_EQ(shares[0].localRanks, (std::vector<int>{0, 2}));
  EXPECT_EQ(shares[2].localRanks, (std::vector<int>{0, 2}));
  // The other machine's answer: its CPUs, then its ranks.
  EXPECT_EQ(store.get("locality/share/1", Deadline::afterMs(0)), "4 1 3");
}

// Machines are hosts unless GCCL_HOST_ID says otherwise; hosts are numbered by first rank.
TEST(Locality, HostMapFollowsTheHostIdsAndIsEmptyForOneHost) {
  MemoryStore one;
  for (const auto& share : census(one, 3, {0, 1, 2})) EXPECT_TRUE(share.hostOf.empty());
  MemoryStore faked;
  const auto shares = census(faked, 4, {0, 1, 2, 3}, {"b", "a", "b", "a"});
  for (const auto& share : shares) {
    EXPECT_EQ(share.hostOf, (std::vector<int>{0, 1, 0, 1}));
    EXPECT_EQ(share.ranks, 4);  // still one machine: transports may treat them as local
  }
  MemoryStore machines;
  machines.set("locality/machine/1", "elsewhere elsewhere " + maskOf({0}) + " 2 - 1@elsewhere#1");
  EXPECT_EQ(census(machines, 2, {0})[0].hostOf, (std::vector<int>{0, 1}));
}

TEST(Locality, MalformedHostMapIsAnError) {
  for (const char* map : {"2 0 1 1", "2 0 5", "0", "x", "1 0"}) {
    MemoryStore store;
    store.set("locality/size", "2");
    store.set("locality/share/1", "4 1");
    store.set("locality/hosts", map);
    EXPECT_THROW(shareOfMachine(store, 1, 2, Deadline::afterMs(1000)), Error) << map;
  }
}

TEST(Locality, PinnedRanksAddUpTheirCores) {
  // Four ranks pinned one core each: four cores between them, not one.
  MemoryStore store;
  for (int rank = 1; rank < 4; ++rank)
    store.set("locality/machine/" + std::to_string(rank), machineId() + " " + machineId() + " " +
                                                              maskOf({rank}) + " 4 - " +
                                                              std::to_string(rank) + "@here#1");
  const auto shares = census(store, 4, {0});
  EXPECT_EQ(shares[0].ranks, 4);
  EXPECT_EQ(shares[0].localRanks, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(store.get("locality/share/3", Deadline::afterMs(0)),
            std::to_string(shares[0].cpus) + " 0 1 2 3");
  EXPECT_GE(shares[0].cpus, 3);  // cores 1-3 plus whatever this process may use
}

TEST(Locality, MalformedEntryIsAnErrorNotACrash) {
  MemoryStore store;
  store.set("locality/machine/1", "no-mask-here");
  EXPECT_THROW(census(store, 2, {0}), Error);
}

TEST(Locality, MalformedAnswerIsAnErrorNotACrash) {
  // Rank 0 answered rank 1 with a list that does not include rank 1.
  MemoryStore store;
  store.set("locality/size", "3");
  store.set("locality/share/1", "4 0 2");
  EXPECT_THROW(shareOfMachine(store, 1, 3, Deadline::afterMs(1000)), Error);
  MemoryStore garbage;
  garbage.set("locality/size", "3");
  garbage.set("locality/share/1", "4 1 x");
  EXPECT_THROW(shareOfMachine(garbage, 1, 3, Deadline::afterMs(1000)), Error);
}

// Runs `failingInit(rank)` for 3 ranks as threads, each returning its error message, and
// checks that every rank's names rank 1's nranks of 2 against rank 0's 3. Rank 0 starts last,
// `rankZeroAfter` after the others: over the real store their connections then wait for it in
// its listener's queue, so a slow thread cannot come after the short while a failed rank 0
// keeps its store up for ranks still on their way.
void expectEveryRankNamesRankOnesNranks(const std::function<std::string(int rank)>& failingInit,
                                        std::chrono::milliseconds rankZeroAfter = {}) {
  std::vector<std::string> messages(3);
  std::vector<std::thread> threads;
  for (int rank : {1, 2, 0}) {
    if (rank == 0) std::this_thread::sleep_for(rankZeroAfter);
    threads.emplace_back([&, rank] { messages[rank] = failingInit(rank); });
  }
  for (auto& thread : threads) thread.join();
  for (int rank = 0; rank < 3; ++rank) {
    EXPECT_NE(messages[rank].find("rank 1 was started with nranks 2, rank 0 with nranks 3"),
              std::string::npos)
        << "rank " << rank << ": '" << messages[rank] << "'";
  }
}

// Ranks started with different nranks fail the census at once, every one of them naming the
// odd rank, instead of waiting for ranks that never come (or connecting to the wrong ones).
TEST(Locality, RanksThatDisagreeOnNranksAllFailNamingIt) {
  // Rank 1 says 2, ranks 0 and 2 say 3: rank 1 sees rank 0's nranks, rank 0 sees rank 1's and
  // tells rank 2.
  MemoryStore store;
  expectEveryRankNamesRankOnesNranks([&](int rank) -> std::string {
    try {
      shareOfMachine(store, rank, rank == 1 ? 2 : 3, Deadline::afterMs(5000));
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::kInvalidUsage) << e.what();
      return e.what();
    }
    return "no error";
  });
}

// Over the real store, through the C API: rank 0 fails the census and keeps its store up long
// enough for the others to read why, so every rank names the odd one.
TEST(Locality, NranksDisagreementReachesEveryRankThroughRankZerosStore) {
  setenv("GCCL_SOCKET_ADDR", "127.0.0.1", 1);  // NOLINT(concurrency-mt-unsafe): no threads yet
  gcclUniqueId id;
  ASSERT_EQ(gcclGetUniqueId(&id), gcclSuccess);
  const int sizes[3] = {3, 2, 3};
  expectEveryRankNamesRankOnesNranks(
      [&](int rank) -> std::string {
        gcclComm_t comm = nullptr;
        EXPECT_EQ(gcclCommInitRank(&comm, sizes[rank], id, rank), gcclInvalidUsage);
        return gcclGetLastError(nullptr);
      },
      std::chrono::milliseconds(300));
}

// Settings every rank must share (a rank started with another GCCL_TRANSPORT would route its
// pairs differently and time out connecting) fail the census at once on every rank, naming
// the odd rank and both values.
TEST(Locality, RanksThatDisagreeOnSharedSettingsAllFailNamingThem) {
  MemoryStore store;
  std::vector<std::string> messages(3);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 3; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        shareOfMachine(store, rank, 3, Deadline::afterMs(5000), {},
                       rank == 2 ? "GCCL_TRANSPORT=tcp" : "GCCL_TRANSPORT=auto");
        messages[rank] = "no error";
      } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::kInvalidUsage) << e.what();
        messages[rank] = e.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int rank = 0; rank < 3; ++rank) {
    EXPECT_NE(messages[rank].find("rank 2 was started with GCCL_TRANSPORT=tcp, rank 0 with "
                                  "GCCL_TRANSPORT=auto"),
              std::string::npos)
        << "rank " << rank << ": '" << messages[rank] << "'";
  }
}

// Through the C API: the config struct's algorithm is one of the shared settings.
TEST(Locality, AnAlgorithmSetOnOneRankOnlyFailsEveryRanksInit) {
  setenv("GCCL_SOCKET_ADDR", "127.0.0.1", 1);  // NOLINT(concurrency-mt-unsafe): no threads yet
  gcclUniqueId id;
  ASSERT_EQ(gcclGetUniqueId(&id), gcclSuccess);
  std::vector<std::string> messages(2);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 2; ++rank) {
    threads.emplace_back([&, rank] {
      gcclConfig_t config = GCCL_CONFIG_INITIALIZER;
      config.timeoutMs = 20000;
      if (rank == 1) config.algorithm = "tree";
      gcclComm_t comm = nullptr;
      EXPECT_EQ(gcclCommInitRankConfig(&comm, 2, id, rank, &config), gcclInvalidUsage);
      messages[rank] = gcclGetLastError(nullptr);
    });
  }
  for (auto& thread : threads) thread.join();
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_NE(messages[rank].find("GCCL_ALGO=tree"), std::string::npos) << messages[rank];
    EXPECT_NE(messages[rank].find("every rank must set these alike"), std::string::npos)
        << messages[rank];
  }
}

// A second process joining as the same rank overwrites the first's census entry: the first
// finds another's signature on it and fails naming both, instead of two processes taking part
// as one rank. (The store below plays the second process, writing right after rank 1.)
TEST(Locality, ARankStartedTwiceIsNamed) {
  class SecondClaimant final : public Store {
   public:
    void set(const std::string& key, const std::string& value) override {
      store.set(key, value);
      if (key == "locality/machine/1") {
        store.set(key, value.substr(0, value.rfind(' ')) + " 4242@othernode#7");
      }
    }
    std::string get(const std::string& key, const Deadline& deadline) override {
      return store.get(key, deadline);
    }
    bool trySet(const std::string& key, const std::string& value,
                const Deadline& deadline) override {
      return store.trySet(key, value, deadline);
    }
    StoreProbe probe(const std::string& key, const Deadline& deadline) override {
      return store.probe(key, deadline);
    }
    std::string location() const override { return store.location(); }
    MemoryStore store;
  };
  SecondClaimant store;
  std::string message;
  std::thread root([&] { shareOfMachine(store, 0, 2, Deadline::afterMs(5000)); });
  try {
    shareOfMachine(store, 1, 2, Deadline::afterMs(5000));
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInvalidUsage);
    message = e.what();
  }
  root.join();
  EXPECT_NE(message.find("rank 1 was started twice: pid 4242@othernode also joined as rank 1"),
            std::string::npos)
      << "'" << message << "'";
}

// A census that times out names who is missing, not the store key it waited for.
TEST(Locality, TimeoutsNameTheMissingRank) {
  const auto messageOf = [](auto&& census) {
    try {
      census();
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::kTimeout) << e.what();
      return std::string(e.what());
    }
    return std::string("no error");
  };
  MemoryStore rootAlone;
  EXPECT_NE(messageOf([&] {
              shareOfMachine(rootAlone, 0, 3, Deadline::afterMs(100));
            }).find("rank 1 has not joined the job"),
            std::string::npos);
  MemoryStore noRoot;
  EXPECT_NE(messageOf([&] {
              shareOfMachine(noRoot, 2, 3, Deadline::afterMs(100));
            }).find("rank 0 has not started"),
            std::string::npos);
  MemoryStore noAnswer;
  noAnswer.set("locality/size", "3");
  EXPECT_NE(messageOf([&] {
              shareOfMachine(noAnswer, 2, 3, Deadline::afterMs(100));
            }).find("rank 0 has not heard from every rank"),
            std::string::npos);
}

// The kernel's boot id and this process's network namespace: ranks in other namespaces of one
// kernel (the netns testbed, containers) cannot share abstract Unix sockets.
TEST(Locality, MachineIdIsTheKernelBootIdAndTheNetworkNamespace) {
  std::ifstream bootId("/proc/sys/kernel/random/boot_id");
  std::string expected;
  ASSERT_TRUE(bootId >> expected) << "this test needs /proc/sys/kernel/random/boot_id";
  EXPECT_EQ(expected.size(), 36u);                                                 // a UUID
  const std::string network = std::filesystem::read_symlink("/proc/self/ns/net");  // net:[N]
  const std::string inode = network.substr(5, network.size() - 6);
  EXPECT_EQ(machineId(), expected + "/" + inode);
}

TEST(Locality, CpuMaskIsThisProcessAffinity) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  const std::string hex = cpuMaskHex();
  for (int cpu = 0; cpu < 64; ++cpu) {
    const char digit = hex[hex.size() - 1 - static_cast<size_t>(cpu / 4)];
    const int nibble = digit >= 'a' ? digit - 'a' + 10 : digit - '0';
    EXPECT_EQ((nibble >> (cpu % 4)) & 1, CPU_ISSET(cpu, &set) ? 1 : 0) << "cpu " << cpu;
  }
}

TEST(Locality, SpinWhileEveryRankHasACoreElseYield) {
  auto share = [](int ranks, int cpus) {
    MachineShare s;
    s.ranks = ranks;
    s.cpus = cpus;
    return s;
  };
  EXPECT_EQ(autoSpinUs(share(2, 2)), kDefaultSpinUs);
  EXPECT_EQ(autoSpinUs(share(1, 64)), kDefaultSpinUs);
  EXPECT_EQ(autoSpinUs(share(3, 2)), 0);
  EXPECT_EQ(autoSpinUs(share(16, 8)), 0);
  EXPECT_EQ(autoYieldUs(share(2, 2)), 0);
  EXPECT_EQ(autoYieldUs(share(1, 64)), 0);
  EXPECT_EQ(autoYieldUs(share(3, 2)), kOversubscribedYieldUs);
  EXPECT_EQ(autoYieldUs(share(16, 8)), kOversubscribedYieldUs);
}

}  // namespace
}  // namespace gccl
