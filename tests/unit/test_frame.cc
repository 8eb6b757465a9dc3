// A TCP connection fed malformed or mismatched bytes fails with a clear error, never a crash
// or an allocation sized by the peer.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>

#include "core/error.h"
#include "core/socket.h"
#include "transport/tcp/tcp_connection.h"

namespace gccl {
namespace {

struct ConnectionPair : testing::Test {
  Socket remote;
  std::unique_ptr<transport::tcp::TcpConnection> connection;
  std::vector<char> buffer = std::vector<char>(64);
  Message message;

  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    remote = Socket(fds[1]);
    connection =
        std::make_unique<transport::tcp::TcpConnection>(Socket(fds[0]), 1, "rank 1 (test)");
    message.header.collective = 1;
    message.header.sequence = 7;
    message.header.count = 16;
    message.data = buffer.data();
    message.bytes = 64;
    connection->postRecv(message);
  }

  Status feed(const void* bytes, size_t size, std::string* text = nullptr) {
    remote.sendAll(bytes, size, Deadline::afterMs(1000));
    try {
      for (int i = 0; i < 100 && !message.done; ++i) connection->progress();
    } catch (const Error& e) {
      if (text != nullptr) *text = e.what();
      return e.status();
    }
    return Status::kSuccess;
  }
};

TEST_F(ConnectionPair, MatchingMessageArrives) {
  FrameHeader header = message.header;
  header.bytes = 64;
  std::vector<char> frame(sizeof header + 64, 'z');
  std::memcpy(frame.data(), &header, sizeof header);
  EXPECT_EQ(feed(frame.data(), frame.size()), Status::kSuccess);
  EXPECT_TRUE(message.done);
  EXPECT_EQ(buffer[63], 'z');
}

TEST_F(ConnectionPair, GarbageIsAMalformedMessage) {
  const char garbage[32] = "this is not a gccl frame header";
  std::string text;
  EXPECT_EQ(feed(garbage, sizeof garbage, &text), Status::kRemoteError);
  EXPECT_NE(text.find("malformed"), std::string::npos) << text;
  EXPECT_NE(text.find("rank 1"), std::string::npos) << text;
}

TEST_F(ConnectionPair, OtherCollectiveIsAMismatch) {
  FrameHeader header = message.header;
  header.sequence = 8;
  header.bytes = 64;
  std::string text;
  EXPECT_EQ(feed(&header, sizeof header, &text), Status::kInvalidUsage);
  EXPECT_NE(text.find("mismatched collective"), std::string::npos) << text;
}

TEST_F(ConnectionPair, HugeLengthIsRejectedNotAllocated) {
  FrameHeader header = message.header;
  header.bytes = 0xffffffffu;
  EXPECT_EQ(feed(&header, sizeof header), Status::kInvalidUsage);
}

TEST_F(ConnectionPair, PeerClosingIsARemoteError) {
  remote.close();
  std::string text;
  try {
    for (int i = 0; i < 10; ++i) connection->progress();
  } catch (const Error& e) {
    text = e.what();
    EXPECT_EQ(e.status(), Status::kRemoteError);
  }
  EXPECT_NE(text.find("closed by the peer"), std::string::npos) << text;
}

}  // namespace
}  // namespace gccl
