// GCCL_SOCKET_CONGESTION: which sockets get which congestion control.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>

#include "base/error.h"
#include "base/socket.h"
#include "transport/tcp/congestion.h"

namespace gccl::transport::tcp {
namespace {

std::string algorithmOf(const Socket& socket) {
  char name[32] = {};
  socklen_t length = sizeof name;
  ::getsockopt(socket.fd(), IPPROTO_TCP, TCP_CONGESTION, name, &length);
  return name;
}

Socket loopbackSocket() {
  Socket listener = Socket::listenOn("127.0.0.1", 0);
  return Socket::connectTo(listener.localAddress(), Deadline::afterMs(2000));
}

TEST(Congestion, SameMachineMeansLoopbackOrOurOwnAddress) {
  EXPECT_TRUE(isSameMachine("127.0.0.1", "10.0.0.5"));
  EXPECT_TRUE(isSameMachine("127.3.2.1", "10.0.0.5"));
  EXPECT_TRUE(isSameMachine("10.0.0.5", "10.0.0.5"));
  EXPECT_FALSE(isSameMachine("10.0.0.6", "10.0.0.5"));
}

TEST(Congestion, AutoPicksRenoOnlyWithinOneMachine) {
  EXPECT_EQ(congestionFor("auto", "127.0.0.1", "10.0.0.5"), "reno");
  EXPECT_EQ(congestionFor("auto", "10.0.0.6", "10.0.0.5"), "");
  EXPECT_EQ(congestionFor("system", "127.0.0.1", "10.0.0.5"), "");
  EXPECT_EQ(congestionFor("cubic", "10.0.0.6", "10.0.0.5"), "cubic");
}

TEST(Congestion, AppliedToARealSocket) {
  const Socket socket = loopbackSocket();
  const std::string before = algorithmOf(socket);
  applyCongestion(socket, "system", "127.0.0.1", "127.0.0.1");
  EXPECT_EQ(algorithmOf(socket), before);
  applyCongestion(socket, "auto", "127.0.0.1", "127.0.0.1");
  EXPECT_EQ(algorithmOf(socket), "reno");
}

TEST(Congestion, AnUnknownAlgorithmIsAClearError) {
  const Socket socket = loopbackSocket();
  try {
    applyCongestion(socket, "warp-drive", "127.0.0.1", "127.0.0.1");
    FAIL() << "accepted an unknown algorithm";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("GCCL_SOCKET_CONGESTION=warp-drive"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace gccl::transport::tcp
