// GCCL_NSOCKS > 1: the stripe split covers every byte exactly once, and a connection over
// several socket pairs delivers messages of every size intact, in order, with failure notices
// still found on whichever lane the receiver waits on.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#include "base/error.h"
#include "transport/tcp/stripes.h"
#include "transport/tcp/tcp_connection.h"

namespace gccl {
namespace {

using transport::tcp::kMinStripeBytes;
using transport::tcp::stripeCount;
using transport::tcp::StripeRange;
using transport::tcp::stripeRange;
using transport::tcp::TcpConnection;

TEST(Stripes, CoverEveryByteOnceAndNoneIsEmpty) {
  for (int sockets = 1; sockets <= kMaxNsocks; ++sockets) {
    for (size_t bytes :
         {size_t{0}, size_t{1}, kMinStripeBytes - 1, kMinStripeBytes, 2 * kMinStripeBytes - 1,
          2 * kMinStripeBytes, 16 * kMinStripeBytes + 1, (size_t{1} << 20) + 3, size_t{64} << 20}) {
      const size_t count = stripeCount(bytes, sockets);
      ASSERT_GE(count, 1u);
      ASSERT_LE(count, static_cast<size_t>(sockets));
      size_t next = 0;
      for (size_t i = 0; i < count; ++i) {
        const StripeRange range = stripeRange(bytes, sockets, i);
        EXPECT_EQ(range.offset, next) << bytes << " B on " << sockets << ", stripe " << i;
        EXPECT_TRUE(range.bytes > 0 || bytes == 0) << bytes << " B on " << sockets;
        next += range.bytes;
      }
      EXPECT_EQ(next, bytes) << bytes << " B on " << sockets;
    }
  }
  EXPECT_EQ(stripeCount(kMinStripeBytes * 2 - 1, 4), 1u);  // small messages stay on one socket
  EXPECT_EQ(stripeCount(size_t{64} << 20, 4), 4u);
}

// Two connections joined by `kLanes` socket pairs per direction, like two ranks' ends.
struct StripedPair : testing::Test {
  static constexpr int kLanes = 4;
  std::unique_ptr<TcpConnection> a, b;

  void SetUp() override {
    std::vector<Socket> aOut, aIn, bOut, bIn;
    for (int i = 0; i < 2 * kLanes; ++i) {
      int fds[2];
      ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
      (i < kLanes ? aOut : bOut).emplace_back(fds[0]);
      (i < kLanes ? bIn : aIn).emplace_back(fds[1]);
    }
    a = std::make_unique<TcpConnection>(std::move(aOut), std::move(aIn), 1, "rank 1 (test)");
    b = std::make_unique<TcpConnection>(std::move(bOut), std::move(bIn), 0, "rank 0 (test)");
  }

  // Drives both ends until every message is done (or a bounded number of rounds passes).
  static void drive(TcpConnection& x, TcpConnection& y, const std::vector<Message*>& messages) {
    for (int round = 0; round < 100000; ++round) {
      bool all = true;
      for (Message* m : messages) all = all && m->done.load();
      if (all) return;
      x.progress();
      y.progress();
    }
  }
};

TEST_F(StripedPair, MessagesOfEverySizeArriveIntactAndInOrder) {
  const std::vector<size_t> sizes = {0, 5, kMinStripeBytes * 2, (size_t{3} << 20) + 7, 100};
  std::vector<std::vector<uint8_t>> sent, received;
  std::vector<Message> sends(sizes.size()), recvs(sizes.size());
  std::vector<Message*> all;
  for (size_t i = 0; i < sizes.size(); ++i) {
    sent.emplace_back(sizes[i]);
    std::iota(sent.back().begin(), sent.back().end(), static_cast<uint8_t>(i * 31));
    received.emplace_back(sizes[i], 0xEE);
    for (Message* m : {&sends[i], &recvs[i]}) {
      m->header.collective = 1;
      m->header.sequence = i + 1;
      m->bytes = sizes[i];
      all.push_back(m);
    }
    sends[i].data = sent.back().data();
    recvs[i].data = received.back().data();
    b->postRecv(recvs[i]);
  }
  for (Message& m : sends) a->postSend(m);
  drive(*a, *b, all);
  for (size_t i = 0; i < sizes.size(); ++i) {
    ASSERT_TRUE(recvs[i].done.load()) << "message " << i;
    EXPECT_TRUE(sends[i].done.load()) << "message " << i;
    EXPECT_EQ(received[i], sent[i]) << "message " << i << " of " << sizes[i] << " B";
  }
}

// The sender aborts while the receiver waits for a striped message: the notice goes out on every
// lane, so the reason arrives whichever lane the receiver reads first.
TEST_F(StripedPair, AbortNoticeReachesAReceiverWaitingOnAnyLane) {
  std::vector<uint8_t> buffer(kMinStripeBytes * kLanes);
  Message recv;
  recv.header.collective = 1;
  recv.header.sequence = 1;
  recv.data = buffer.data();
  recv.bytes = buffer.size();
  b->postRecv(recv);
  a->abort(Status::kInvalidUsage, "rank 1 aborted: mismatched collective");
  try {
    for (int i = 0; i < 100; ++i) b->progress();
    ADD_FAILURE() << "the abort was not reported";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInvalidUsage) << e.what();
    EXPECT_NE(std::string(e.what()).find("mismatched collective"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gccl
