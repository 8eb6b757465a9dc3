// The bootstrap store over real sockets: values flow, a wrong token or a stranger is refused
// with a warning, and the store keeps serving the job afterwards.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "bootstrap/tcp_store.h"
#include "bootstrap/unique_id.h"

namespace gccl {
namespace {

struct StoreFixture : testing::Test {
  JobToken token = randomJobToken();
  TcpStoreServer server{Socket::listenOn("127.0.0.1", 0), token};
  SocketAddress address = server.address();
};

TEST_F(StoreFixture, SetThenGet) {
  TcpStoreClient a(address, token, 5000);
  TcpStoreClient b(address, token, 5000);
  a.set("key", "value");
  EXPECT_EQ(b.get("key", Deadline::afterMs(5000)), "value");
}

TEST_F(StoreFixture, GetWaitsForALaterSet) {
  TcpStoreClient a(address, token, 5000);
  std::thread setter([&] {
    TcpStoreClient b(address, token, 5000);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    b.set("late", std::string(100000, 'x'));
  });
  EXPECT_EQ(a.get("late", Deadline::afterMs(5000)).size(), 100000u);
  setter.join();
}

TEST_F(StoreFixture, GetTimesOut) {
  TcpStoreClient a(address, token, 5000);
  try {
    a.get("never", Deadline::afterMs(200));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kTimeout);
    EXPECT_NE(std::string(e.what()).find("never"), std::string::npos);
  }
}

TEST_F(StoreFixture, ProbeAnswersAtOnceWhetherAKeyExists) {
  TcpStoreClient a(address, token, 5000);
  EXPECT_EQ(a.probe("missing", Deadline::afterMs(2000)).result, StoreProbe::Result::kAbsent);
  EXPECT_TRUE(a.trySet("present", "yes", Deadline::afterMs(2000)));
  const StoreProbe found = a.probe("present", Deadline::afterMs(2000));
  EXPECT_EQ(found.result, StoreProbe::Result::kFound);
  EXPECT_EQ(found.value, "yes");
  a.set("k", "v");  // the connection is still in step after probes
  EXPECT_EQ(a.get("k", Deadline::afterMs(2000)), "v");
}

// A client shared by a split communicator and its parent: while one thread's get waits for
// its key, another thread's probe or trySet (a stall diagnosis) gives up at its own deadline
// instead of queueing behind the get, and leaves the connection good.
TEST_F(StoreFixture, ProbeBehindALongGetKeepsItsDeadline) {
  TcpStoreClient shared(address, token, 5000);
  std::thread getter([&] { EXPECT_EQ(shared.get("late", Deadline::afterMs(5000)), "v"); });
  // Until the getter holds the client, a probe gets its answer: "not there yet".
  StoreProbe::Result result = StoreProbe::Result::kAbsent;
  for (const Deadline giveUp = Deadline::afterMs(10000);
       result == StoreProbe::Result::kAbsent && !giveUp.expired();) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const auto started = Clock::now();
    result = shared.probe("late", Deadline::afterMs(200)).result;
    EXPECT_LT(Clock::now() - started, std::chrono::milliseconds(1500));
  }
  EXPECT_EQ(result, StoreProbe::Result::kNoAnswer);
  const auto started = Clock::now();
  EXPECT_FALSE(shared.trySet("other", "x", Deadline::afterMs(200)));
  EXPECT_LT(Clock::now() - started, std::chrono::milliseconds(1500));
  TcpStoreClient(address, token, 5000).set("late", "v");
  getter.join();
  EXPECT_EQ(shared.probe("late", Deadline::afterMs(2000)).result, StoreProbe::Result::kFound);
}

// The server end of a hand-made store: takes one client and answers its hello.
std::optional<Socket> greetOneClient(const Socket& listener) {
  std::optional<Socket> accepted = listener.accept(Deadline::afterMs(5000));
  if (!accepted) return accepted;
  char hello[sizeof(store_wire::Header) + kJobTokenBytes];
  accepted->recvAll(hello, sizeof hello, Deadline::afterMs(5000));
  const store_wire::Header ok{store_wire::kMagic, static_cast<uint32_t>(store_wire::Type::kHelloOk),
                              0, 0};
  accepted->sendAll(&ok, sizeof ok, Deadline::afterMs(5000));
  return accepted;
}

// A store whose server stopped answering (rank 0 stopped by SIGSTOP): a probe returns
// kNoAnswer by its deadline, and the connection is not trusted afterwards.
TEST(StoreProbe, SilentServerIsNoAnswerWithinTheDeadline) {
  const JobToken token = randomJobToken();
  Socket listener = Socket::listenOn("127.0.0.1", 0);
  const SocketAddress address = listener.localAddress();
  std::optional<Socket> accepted;
  std::thread server([&] { accepted = greetOneClient(listener); });  // then silent
  TcpStoreClient client(address, token, 5000);
  server.join();
  const auto started = Clock::now();
  EXPECT_EQ(client.probe("anything", Deadline::afterMs(200)).result, StoreProbe::Result::kNoAnswer);
  EXPECT_LT(Clock::now() - started, std::chrono::milliseconds(1500));
  EXPECT_FALSE(client.trySet("k", "v", Deadline::afterMs(200)));
  EXPECT_EQ(client.probe("anything", Deadline::afterMs(200)).result, StoreProbe::Result::kNoAnswer);
  EXPECT_THROW(client.get("k", Deadline::afterMs(200)), Error);
}

// A server that stops half-way through a value: the get fails naming the key and the store,
// and the connection is not trusted afterwards (the rest of the value is no reply header).
TEST(StoreProbe, ValueCutOffMidWayFailsNamingTheKey) {
  const JobToken token = randomJobToken();
  Socket listener = Socket::listenOn("127.0.0.1", 0);
  const SocketAddress address = listener.localAddress();
  std::optional<Socket> accepted;
  std::thread server([&] {
    accepted = greetOneClient(listener);
    if (!accepted) return;
    char get[sizeof(store_wire::Header) + 3];  // a get of "key"
    accepted->recvAll(get, sizeof get, Deadline::afterMs(5000));
    const store_wire::Header value{store_wire::kMagic,
                                   static_cast<uint32_t>(store_wire::Type::kValue), 0, 100};
    accepted->sendAll(&value, sizeof value, Deadline::afterMs(5000));
    accepted->sendAll("only forty bytes of the hundred promised", 40, Deadline::afterMs(5000));
  });
  TcpStoreClient client(address, token, 5000);
  try {
    client.get("key", Deadline::afterMs(300));
    ADD_FAILURE() << "a value cut off mid-way was returned";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("receiving 'key' from the bootstrap store at"),
              std::string::npos)
        << e.what();
  }
  server.join();
  try {
    client.get("key", Deadline::afterMs(300));
    ADD_FAILURE() << "the connection was used again";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no longer used"), std::string::npos) << e.what();
  }
}

TEST_F(StoreFixture, WrongTokenIsRefusedAndTheJobGoesOn) {
  JobToken wrong = token;
  wrong[0] ^= 1;
  EXPECT_THROW(TcpStoreClient(address, wrong, 3000), Error);
  TcpStoreClient good(address, token, 5000);
  good.set("k", "v");
  EXPECT_EQ(good.get("k", Deadline::afterMs(5000)), "v");
}

TEST_F(StoreFixture, StrangerSendingGarbageIsDropped) {
  Socket stranger = Socket::connectTo(address, Deadline::afterMs(3000));
  const std::string garbage = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  stranger.sendAll(garbage.data(), garbage.size(), Deadline::afterMs(1000));
  char byte;
  EXPECT_THROW(stranger.recvAll(&byte, 1, Deadline::afterMs(3000)), Error);  // closed on us
  TcpStoreClient good(address, token, 5000);
  good.set("still", "serving");
  EXPECT_EQ(good.get("still", Deadline::afterMs(5000)), "serving");
}

// Strangers that trickle bytes (a header's first byte, again and again) cost the store no
// waiting: ranks arriving among them are served at once, not after each stranger's pause.
TEST_F(StoreFixture, TricklingStrangersDelayNoRank) {
  std::vector<Socket> strangers;
  for (int i = 0; i < 60; ++i) {
    strangers.push_back(Socket::connectTo(address, Deadline::afterMs(3000)));
  }
  TcpStoreClient early(address, token, 5000);  // all strangers admitted by now
  for (int round = 0; round < 3; ++round) {
    for (Socket& stranger : strangers) {
      const char byte = static_cast<char>(store_wire::kMagic & 0xff);
      stranger.sendAll(&byte, 1, Deadline::afterMs(1000));
    }
  }
  const auto start = std::chrono::steady_clock::now();
  TcpStoreClient late(address, token, 5000);
  late.set("key", "value");
  EXPECT_EQ(early.get("key", Deadline::afterMs(5000)), "value");
  // Waiting 100 ms per trickling stranger, as a blocking read of their frames would, is 6 s.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(StoreFixture, HugeLengthIsRefusedWithoutAllocating) {
  Socket stranger = Socket::connectTo(address, Deadline::afterMs(3000));
  const store_wire::Header header{store_wire::kMagic, 1, 0, 0xffffffffu};
  stranger.sendAll(&header, sizeof header, Deadline::afterMs(1000));
  char byte;
  EXPECT_THROW(stranger.recvAll(&byte, 1, Deadline::afterMs(3000)), Error);
}

TEST(JobToken, EveryByteCounts) {
  const JobToken token = randomJobToken();
  JobToken presented = token;
  EXPECT_TRUE(isJobToken(token, presented.data()));
  for (const size_t at : {size_t{0}, kJobTokenBytes / 2, kJobTokenBytes - 1}) {
    presented = token;
    presented[at] = static_cast<char>(presented[at] ^ 1);
    EXPECT_FALSE(isJobToken(token, presented.data())) << "byte " << at;
  }
}

TEST(UniqueId, RoundTripsAndRejectsGarbage) {
  UniqueId id;
  id.root = {"10.1.2.3", 4567};
  id.token = randomJobToken();
  char bytes[kUniqueIdBytes];
  encodeUniqueId(id, bytes);
  const UniqueId back = decodeUniqueId(bytes);
  EXPECT_EQ(back.root.toString(), "10.1.2.3:4567");
  EXPECT_EQ(back.token, id.token);
  char zeros[kUniqueIdBytes] = {};
  EXPECT_THROW(decodeUniqueId(zeros), Error);
}

// Ids made and never used hold the sockets of the last few only, not one each for ever; an
// id whose reservation went can still have its port bound by rank 0.
TEST(UniqueId, UnusedIdsHoldABoundedNumberOfSockets) {
  const auto openDescriptors = [] {
    return std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                         std::filesystem::directory_iterator());
  };
  const auto before = openDescriptors();
  Config config;
  config.socketAddr = "127.0.0.1";
  std::vector<UniqueId> ids;
  for (size_t i = 0; i <= kMaxReservedListeners; ++i) ids.push_back(createUniqueId(config));
  // The last id took the first one's reservation. Its port is bound at once: a port left free
  // for longer may go to another process's socket (tests run in parallel).
  EXPECT_TRUE(Socket::listenOn(ids.front().root.host, ids.front().root.port).valid());
  EXPECT_FALSE(takeReservedListener(ids.front().token).valid());
  for (int i = 0; i < 100; ++i) ids.push_back(createUniqueId(config));
  EXPECT_LE(openDescriptors(), before + static_cast<long>(kMaxReservedListeners));
  EXPECT_TRUE(takeReservedListener(ids.back().token).valid());
}

}  // namespace
}  // namespace gccl
