// A TCP connection fed malformed or mismatched bytes fails with a clear error, never a crash
// or an allocation sized by the peer.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "base/error.h"
#include "base/socket.h"
#include "transport/frame.h"
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
    // One socket serves as both of the connection's streams.
    std::vector<Socket> out, in;
    out.emplace_back(fds[0]);
    in.emplace_back(::dup(fds[0]));
    connection = std::make_unique<transport::tcp::TcpConnection>(std::move(out), std::move(in), 1,
                                                                 "rank 1 (test)");
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
  char garbage[sizeof(FrameHeader)] = "this is not a gccl frame header, no";
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
  header.bytes = UINT64_MAX;
  EXPECT_EQ(feed(&header, sizeof header), Status::kInvalidUsage);
}

// The length is 64 bits on the wire: a length that agrees only in its low 32 bits is a
// mismatch, not a match.
TEST_F(ConnectionPair, LengthIsComparedInFull) {
  FrameHeader header = message.header;
  header.bytes = message.bytes + (uint64_t{1} << 32);
  std::string text;
  EXPECT_EQ(feed(&header, sizeof header, &text), Status::kInvalidUsage);
  EXPECT_NE(text.find(std::to_string(header.bytes) + " B"), std::string::npos) << text;
}

TEST(Frame, RootAndKindArePartOfTheCollective) {
  FrameHeader expected;
  expected.collective = static_cast<uint8_t>(CollectiveKind::kAllreduce);
  expected.sequence = 3;
  expected.count = 10;
  expected.bytes = 40;
  FrameHeader otherRoot = expected;
  otherRoot.root = 2;
  EXPECT_THROW(checkFrame(expected, otherRoot, "rank 1"), Error);
  FrameHeader otherKind = expected;
  otherKind.collective = 0x7F;  // no collective of this version
  try {
    checkFrame(expected, otherKind, "rank 1");
    ADD_FAILURE() << "another collective kind was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInvalidUsage);
    EXPECT_NE(std::string(e.what()).find("collective#127"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(checkFrame(expected, expected, "rank 1"));
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

TEST_F(ConnectionPair, HeaderSplitAcrossReadsStillArrives) {
  FrameHeader header = message.header;
  header.bytes = 64;
  std::vector<char> frame(sizeof header + 64, 'q');
  std::memcpy(frame.data(), &header, sizeof header);
  // One byte per read through the header, then the payload in two pieces.
  for (size_t i = 0; i < sizeof header; ++i) {
    remote.sendAll(frame.data() + i, 1, Deadline::afterMs(1000));
    connection->progress();
    EXPECT_FALSE(message.done);
  }
  remote.sendAll(frame.data() + sizeof header, 10, Deadline::afterMs(1000));
  connection->progress();
  EXPECT_FALSE(message.done);
  EXPECT_EQ(feed(frame.data() + sizeof header + 10, 54), Status::kSuccess);
  EXPECT_TRUE(message.done);
  EXPECT_EQ(buffer[0], 'q');
  EXPECT_EQ(buffer[63], 'q');
}

std::vector<char> noticeFrame(uint32_t status, const std::string& reason, uint32_t claimedBytes) {
  FrameHeader header = failureNoticeHeader(static_cast<int>(status), 0);
  header.bytes = claimedBytes;
  std::vector<char> frame(sizeof header + reason.size());
  std::memcpy(frame.data(), &header, sizeof header);
  std::memcpy(frame.data() + sizeof header, reason.data(), reason.size());
  return frame;
}

TEST_F(ConnectionPair, FailureNoticeReportsThePeersReason) {
  const std::string reason = "allreduce #7 on rank 3 (of 4): mismatched collective";
  const auto frame = noticeFrame(static_cast<uint32_t>(Status::kInvalidUsage), reason,
                                 static_cast<uint32_t>(reason.size()));
  remote.sendAll(frame.data(), frame.size(), Deadline::afterMs(1000));
  try {
    for (int i = 0; i < 100; ++i) connection->progress();
    ADD_FAILURE() << "the notice was not reported";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInvalidUsage);
    EXPECT_EQ(std::string(e.what()), "rank 1 (test) reported: " + reason);
    EXPECT_EQ(e.origin(), reason);  // passed on verbatim, not nested
  }
}

TEST_F(ConnectionPair, NoticeCannotChooseAnyStatusButUsageOrRemote) {
  for (uint32_t status : {uint32_t{5}, uint32_t{0}, uint32_t{999}}) {
    SetUp();
    const auto frame = noticeFrame(status, "x", 1);
    EXPECT_EQ(feed(frame.data(), frame.size()), Status::kRemoteError) << status;
  }
}

TEST_F(ConnectionPair, NoticeLengthIsBoundedAndItsTextSanitised) {
  std::string reason(kMaxNoticeBytes + 500, 'a');
  reason[3] = '\n';
  reason[4] = '\x1b';
  const auto frame = noticeFrame(static_cast<uint32_t>(Status::kRemoteError), reason, 0xffffffffu);
  std::string text;
  EXPECT_EQ(feed(frame.data(), frame.size(), &text), Status::kRemoteError);
  const std::string prefix = "rank 1 (test) reported: ";
  ASSERT_EQ(text.size(), prefix.size() + kMaxNoticeBytes);
  EXPECT_EQ(text.substr(prefix.size(), 6), "aaa??a");
}

// The peer left a notice and reset before this rank read anything: the failed send reports
// the notice rather than a bare "broken pipe".
TEST_F(ConnectionPair, NoticeQueuedBeforeACloseExplainsTheFailedSend) {
  const std::string reason = "rank 1 aborted: watchdog";
  const auto frame = noticeFrame(static_cast<uint32_t>(Status::kRemoteError), reason,
                                 static_cast<uint32_t>(reason.size()));
  remote.sendAll(frame.data(), frame.size(), Deadline::afterMs(1000));
  remote.close();
  std::vector<char> payload(1 << 20, 's');  // larger than the socket buffer
  Message send;
  send.header = message.header;
  send.data = payload.data();
  send.bytes = payload.size();
  std::string text;
  try {
    connection->postSend(send);
    for (int i = 0; i < 100 && !send.done; ++i) connection->progress();
  } catch (const Error& e) {
    text = e.what();
  }
  EXPECT_EQ(text, "rank 1 (test) reported: " + reason);
}

}  // namespace
}  // namespace gccl
