// The stall diagnosis: the verdict drawn from wait-for edges (pure), and the whole diagnosis
// over a real store with the other ranks' edges published (or not) as a hung job leaves them.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "base/error.h"
#include "bootstrap/memory_store.h"
#include "bootstrap/tcp_store.h"
#include "core/stall_diagnosis.h"

namespace gccl {
namespace {

TEST(StallVerdict, FollowsTheChainToTheRankThatPublishedNothing) {
  // A ring of 16 with rank 11 stopped: everyone waits on its left neighbour.
  WaitGraph edges;
  for (int rank = 0; rank < 16; ++rank) {
    if (rank != 11) edges[rank] = {(rank + 15) % 16};
  }
  const StallVerdict verdict = judgeStall(13, edges);
  EXPECT_EQ(verdict.kind, StallVerdict::Kind::kSilentRank);
  EXPECT_EQ(verdict.silentRank, 11);
  EXPECT_EQ(verdict.waiters, 15);
}

TEST(StallVerdict, OnlyRanksLeadingToTheSilentOneCountAsWaiters) {
  WaitGraph edges = {{0, {1}}, {1, {2}}, {3, {}}, {4, {3}}};
  const StallVerdict verdict = judgeStall(0, edges);
  EXPECT_EQ(verdict.kind, StallVerdict::Kind::kSilentRank);
  EXPECT_EQ(verdict.silentRank, 2);
  EXPECT_EQ(verdict.waiters, 2);
}

TEST(StallVerdict, ExploresEveryWaitedPeer) {
  // Rank 10 waits on 9 (which waits on nobody: it failed otherwise) and on 11 (silent).
  WaitGraph edges = {{10, {9, 11}}, {9, {}}};
  const StallVerdict verdict = judgeStall(10, edges);
  EXPECT_EQ(verdict.kind, StallVerdict::Kind::kSilentRank);
  EXPECT_EQ(verdict.silentRank, 11);
}

TEST(StallVerdict, ACycleIsADeadlockNotASilentRank) {
  WaitGraph edges = {{0, {1}}, {1, {3}}, {3, {5}}, {5, {1}}};
  const StallVerdict verdict = judgeStall(0, edges);
  EXPECT_EQ(verdict.kind, StallVerdict::Kind::kCycle);
  EXPECT_EQ(verdict.cycle, (std::vector<int>{1, 3, 5, 1}));
}

TEST(StallVerdict, ASilentRankBeatsACycleOfPeersThatStillExpectEachOther) {
  // Halving-doubling on 4 ranks, rank 3 stopped: a rank's edges name every peer it still
  // expects data from, and the stage-1 partners (0, 2) meet again at the last stage.
  const WaitGraph edges = {{0, {2, 1}}, {1, {3, 0}}, {2, {0, 3}}};
  for (int self : {0, 1, 2}) {
    const StallVerdict verdict = judgeStall(self, edges);
    EXPECT_EQ(verdict.kind, StallVerdict::Kind::kSilentRank) << "rank " << self;
    EXPECT_EQ(verdict.silentRank, 3) << "rank " << self;
    EXPECT_EQ(verdict.waiters, 3) << "rank " << self;
  }
}

TEST(StallVerdict, NothingToBlameIsUnknown) {
  EXPECT_EQ(judgeStall(0, {{0, {}}}).kind, StallVerdict::Kind::kUnknown);
  EXPECT_EQ(judgeStall(0, {{0, {1}}, {1, {}}}).kind, StallVerdict::Kind::kUnknown);
}

const std::atomic<bool> kGoOn{false};

void publishRing(Store& store, uint64_t sequence, int size, int silent, int skip) {
  for (int rank = 0; rank < size; ++rank) {
    store.set(strCat("host/", rank), strCat("h", rank));
    if (rank == silent || rank == skip) continue;
    store.set(strCat("stall/", rank), strCat(sequence, " waits ", (rank + size - 1) % size));
  }
}

TEST(StallDiagnosis, NamesTheSilentRankItsHostAndItsWaiters) {
  MemoryStore store;
  publishRing(store, 43, 16, 11, 13);
  StallDiagnosis diagnosis(store, 13, 16, 400);
  const auto started = Clock::now();
  const std::string text = diagnosis.diagnose(43, {12}, "waiting to receive from rank 12", kGoOn);
  EXPECT_LT(Clock::now() - started, std::chrono::milliseconds(100 + 1000));
  EXPECT_NE(text.find("rank 11 (host h11) stopped responding"), std::string::npos) << text;
  EXPECT_NE(text.find("15 ranks wait on it"), std::string::npos) << text;
  EXPECT_NE(text.find("waiting to receive from rank 12"), std::string::npos) << text;
  // This rank's own edge is published for the others.
  EXPECT_EQ(store.get("stall/13", Deadline::afterMs(0)), "43 waits 12");
}

TEST(StallDiagnosis, WaitsWithinTheGraceForAChainRankStillTimingOut) {
  MemoryStore fresh;
  publishRing(fresh, 7, 8, 3, 4);
  std::thread late([&] {
    fresh.get("stall/5", Deadline::afterMs(20000));  // the diagnosis below has begun
    // Well inside the grace, but late enough that the diagnosis must have waited for it.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fresh.set("stall/4", "6 waits 3");  // a rank still one operation behind
  });
  StallDiagnosis diagnosis(fresh, 5, 8, 2000);  // grace 500 ms
  const std::string text = diagnosis.diagnose(7, {4}, "peer level", kGoOn);
  late.join();
  EXPECT_NE(text.find("rank 3 (host h3) stopped responding"), std::string::npos) << text;
}

TEST(StallDiagnosis, ACycleIsReportedAsSuch) {
  MemoryStore store;
  store.set("stall/1", "2 waits 0");
  StallDiagnosis diagnosis(store, 0, 2, 400);
  const std::string text = diagnosis.diagnose(2, {1}, "peer level", kGoOn);
  EXPECT_NE(text.find("ranks 0 -> 1 -> 0 wait for each other"), std::string::npos) << text;
}

TEST(StallDiagnosis, GarbageInTheStoreDoesNotMisleadIt) {
  MemoryStore store;
  store.set("stall/1", "9 waits 999 -5 x");
  StallDiagnosis diagnosis(store, 0, 4, 400);
  const std::string text = diagnosis.diagnose(9, {1}, "peer level", kGoOn);
  EXPECT_EQ(text, "peer level");  // rank 1 reported, waiting on nobody valid
}

// An abort from another thread cuts the wait for the silent rank short.
TEST(StallDiagnosis, AnAbortEndsItAtOnce) {
  MemoryStore store;
  std::atomic<bool> abandon{false};
  StallDiagnosis diagnosis(store, 0, 4, 20000);  // grace 1 s
  std::thread aborter([&] {
    store.get("stall/0", Deadline::afterMs(20000));  // the diagnosis below has begun
    abandon.store(true);
  });
  const auto started = Clock::now();
  const std::string text = diagnosis.diagnose(5, {1}, "peer level", abandon);
  aborter.join();
  EXPECT_LT(Clock::now() - started, std::chrono::milliseconds(500));
  EXPECT_EQ(text, "peer level");
}

// Rank 0 (the store's host) is the silent one: the store cannot help, and says so.
TEST(StallDiagnosis, SilentStoreFallsBackToThePeerLevelMessage) {
  const JobToken token = randomJobToken();
  auto server = std::make_unique<TcpStoreServer>(Socket::listenOn("127.0.0.1", 0), token);
  TcpStoreClient client(server->address(), token, 2000);
  server.reset();  // its connections close with it
  StallDiagnosis diagnosis(client, 1, 4, 400);
  const auto started = Clock::now();
  const std::string text = diagnosis.diagnose(3, {0}, "waiting to receive from rank 0", kGoOn);
  EXPECT_LT(Clock::now() - started, std::chrono::milliseconds(1000));
  EXPECT_NE(text.find("waiting to receive from rank 0; the bootstrap store (rank 0, at " +
                      client.location() + ") does not answer either: rank 0 is stopped"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace gccl
