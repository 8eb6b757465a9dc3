// A write-back opens the peers' views of one block together: when opening the view of the
// second of several peers fails (that peer aborted), the one already open is closed again, at
// once and only once, and the error is the failing peer's.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "core/open_view_writes.h"

namespace gccl {
namespace {

// A peer whose views can be opened, or that refuses as an aborted shm peer does; counts the
// views it has open.
class ViewPeer final : public Connection {
 public:
  ViewPeer(int peer, bool aborted)
      : peer_(peer), name_("rank " + std::to_string(peer)), aborted_(aborted) {}
  int peer() const override { return peer_; }
  const std::string& peerName() const override { return name_; }
  void postSend(Message&) override {}
  void postRecv(Message&) override {}
  bool progress() override { return false; }
  void updatePoller(Poller&) override {}
  void abort(Status, const std::string&) override {}
  void* beginViewWrite(Message& message, size_t offset, size_t /*bytes*/) override {
    if (aborted_) fail(Status::kRemoteError, "write-back to ", name_, " cut short");
    ++open_;
    return static_cast<std::byte*>(message.writeView) + offset;
  }
  void endViewWrite(Message&) noexcept override {
    --open_;
    ++closed_;
  }
  int open() const { return open_; }
  int closed() const { return closed_; }

 private:
  int peer_;
  std::string name_;
  bool aborted_;
  int open_ = 0;
  int closed_ = 0;
};

TEST(OpenViewWrites, AViewThatFailsToOpenClosesTheOnesOpenedBefore) {
  std::vector<std::byte> first(64), third(64);
  Message toFirst, toSecond, toThird;
  toFirst.writeView = first.data();
  toThird.writeView = third.data();
  ViewPeer opens(1, false), aborted(2, true), never(3, false);
  try {
    OpenViewWrites views;
    EXPECT_EQ(views.open(opens, toFirst, 16, 32), first.data() + 16);
    EXPECT_EQ(opens.open(), 1);
    views.open(aborted, toSecond, 16, 32);
    views.open(never, toThird, 16, 32);
    ADD_FAILURE() << "opening the aborted peer's view did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kRemoteError);
    EXPECT_NE(std::string(e.what()).find("rank 2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(opens.open(), 0) << "the first peer's view left open";
  EXPECT_EQ(opens.closed(), 1);
  EXPECT_EQ(aborted.closed(), 0) << "the view that failed to open was closed";
  EXPECT_EQ(never.closed(), 0) << "a view never opened was closed";
}

// A chain has at most kMaxChainLinks links, so no block has more writers: one more is refused
// as an internal error, and the views opened up to it are closed all the same.
TEST(OpenViewWrites, MoreViewsThanAChainHasLinksAreRefused) {
  std::vector<std::byte> memory(64);
  Message message;
  message.writeView = memory.data();
  ViewPeer peer(1, false);
  try {
    OpenViewWrites views;
    for (size_t i = 0; i <= kMaxChainLinks; ++i) views.open(peer, message, 0, 8);
    ADD_FAILURE() << "a view more than a chain has links was opened";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInternalError) << e.what();
  }
  EXPECT_EQ(peer.open(), 0);
  EXPECT_EQ(peer.closed(), static_cast<int>(kMaxChainLinks));
}

TEST(OpenViewWrites, EveryOpenedViewIsClosedOnceWhenTheBlockIsWritten) {
  std::vector<std::byte> memory(64);
  Message a, b;
  a.writeView = b.writeView = memory.data();
  ViewPeer first(1, false), second(2, false);
  {
    OpenViewWrites views;
    views.open(first, a, 0, 8);
    views.open(second, b, 8, 8);
    EXPECT_EQ(first.open() + second.open(), 2);
  }
  EXPECT_EQ(first.closed(), 1);
  EXPECT_EQ(second.closed(), 1);
}

}  // namespace
}  // namespace gccl
