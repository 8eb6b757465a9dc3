// Connecting never outlives its deadline: refused attempts back off only until it, and a host
// name is checked against it as soon as the resolver returns.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "base/error.h"
#include "base/socket.h"

namespace gccl {
namespace {

using std::chrono::milliseconds;

// A loopback port that nobody listens on (it was free a moment ago).
SocketAddress closedPort() {
  const Socket listener = Socket::listenOn("127.0.0.1", 0);
  return listener.localAddress();
}

TEST(Socket, ConnectingToAClosedPortGivesUpAtTheDeadline) {
  const SocketAddress address = closedPort();
  const auto start = Clock::now();
  try {
    Socket::connectTo(address, Deadline::afterMs(300));
    FAIL() << "connected to " << address.toString() << ", where nobody listens";
  } catch (const Error& e) {
    const auto elapsed = Clock::now() - start;
    EXPECT_EQ(e.status(), Status::kTimeout) << e.what();
    EXPECT_NE(std::string(e.what()).find(address.toString()), std::string::npos) << e.what();
    // It retried until the deadline, and slept past it by no more than a loaded machine's
    // scheduling delay (the back-off alone used to add up to 100 ms).
    EXPECT_GE(elapsed, milliseconds(300));
    EXPECT_LT(elapsed, milliseconds(1500));
  }
}

TEST(Socket, AResolvedNameIsCheckedAgainstTheDeadline) {
  const SocketAddress address{"localhost", closedPort().port};
  try {
    Socket::connectTo(address, Deadline::afterMs(0));
    FAIL() << "connected to " << address.toString() << ", where nobody listens";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kTimeout) << e.what();
    EXPECT_NE(std::string(e.what()).find("localhost:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("resolving"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gccl
