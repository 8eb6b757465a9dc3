// A stranger connecting to a rank's data port during init is refused with a warning, and the
// ranks still connect.
#include <gtest/gtest.h>

#include <thread>

#include "base/error.h"
#include "base/poller.h"
#include "bootstrap/memory_store.h"
#include "transport/tcp/tcp_handshake.h"
#include "transport/tcp/tcp_transport.h"

namespace gccl {
namespace {

TEST(TcpHandshake, StrangersAreRefusedAndTheRanksStillConnect) {
  Config config;
  MemoryStore store;
  const JobToken token = randomJobToken();
  transport::tcp::TcpTransport transport("127.0.0.1", config);
  Poller poller0, poller1;
  ConnectionMap rank0, rank1;
  ConnectRequest request0{0, 2, {1}, token, 10000};
  std::thread acceptor([&] { rank0 = transport.connect(request0, store, poller0); });

  const SocketAddress address = [&] {
    const std::string value = store.get("tcp/address/0", Deadline::afterMs(5000));
    return SocketAddress::parse(value.substr(0, value.find(' ')));
  }();
  // A stranger with the wrong token, then one that sends garbage, then one that hangs up.
  Socket wrongToken = Socket::connectTo(address, Deadline::afterMs(2000));
  transport::tcp::Hello hello;
  hello.fromRank = 1;
  hello.toRank = 0;
  EXPECT_THROW(transport::tcp::sendHello(wrongToken, hello, Deadline::afterMs(3000)), Error);
  Socket garbage = Socket::connectTo(address, Deadline::afterMs(2000));
  const char junk[64] = "SSH-2.0-OpenSSH_9.2";
  garbage.sendAll(junk, sizeof junk, Deadline::afterMs(1000));
  { Socket hangUp = Socket::connectTo(address, Deadline::afterMs(2000)); }

  ConnectRequest request1{1, 2, {0}, token, 10000};
  rank1 = transport.connect(request1, store, poller1);
  acceptor.join();
  ASSERT_EQ(rank0.size(), 1u);
  ASSERT_EQ(rank1.size(), 1u);
  EXPECT_NE(rank0.at(1)->peerName().find("rank 1"), std::string::npos);
}

TEST(TcpHandshake, ConnectingToItselfIsAnInternalError) {
  Config config;
  MemoryStore store;
  transport::tcp::TcpTransport transport("127.0.0.1", config);
  Poller poller;
  ConnectRequest request{0, 2, {1, 0}, randomJobToken(), 2000};
  try {
    transport.connect(request, store, poller);
    FAIL() << "connected to itself";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInternalError);
    EXPECT_NE(std::string(e.what()).find("itself"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gccl
