// The connect-time probe of a shm pair (transport/shm/shm_handshake.h), both ends in this
// process on a socket pair: what each end may read and map of the other's memory, including
// where one end does not try or has no handle on the other's process. A sender names its
// regions only on the peer's word that it mapped one: an always-true verdict would send
// zero-copy descriptors that the peer copies the slow way.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <future>

#include "base/deadline.h"
#include "base/socket.h"
#include "transport/shm/shm_handshake.h"

namespace gccl::transport::shm {
namespace {

struct End {
  bool tries = true;      // GCCL_SHM_SINGLE_COPY=1
  bool hasHandle = true;  // a pidfd on the peer
};

std::pair<CmaAbility, CmaAbility> probePair(End a, End b) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  Socket first(fds[0]);
  Socket second(fds[1]);
  const int self = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
  EXPECT_GE(self, 0) << std::strerror(errno);
  auto probe = [self](const Socket& socket, End end, const char* peer) {
    return probeCma(socket, end.tries ? ::getpid() : 0, end.hasHandle ? self : -1, peer,
                    Deadline::afterMs(5000));
  };
  auto other = std::async(std::launch::async, [&] { return probe(second, b, "rank 0"); });
  const CmaAbility firstAbility = probe(first, a, "rank 1");
  const CmaAbility secondAbility = other.get();
  ::close(self);
  return {firstAbility, secondAbility};
}

TEST(ShmProbe, EndsThatMayReadAndMapEachOtherSayBoth) {
  const auto [a, b] = probePair({}, {});
  EXPECT_TRUE(a.receive && a.send && a.mapReceive && a.mapSend);
  EXPECT_TRUE(b.receive && b.send && b.mapReceive && b.mapSend);
}

// GCCL_SHM_SINGLE_COPY=0 on one end: it reads nothing and offers nothing to map.
TEST(ShmProbe, AnEndThatDoesNotTryOffersNothingToMap) {
  const auto [a, b] = probePair({}, {.tries = false});
  EXPECT_FALSE(b.receive);
  EXPECT_FALSE(b.mapReceive);
  EXPECT_FALSE(a.send) << "b does not read a's memory";
  EXPECT_FALSE(a.mapSend);
  EXPECT_TRUE(a.receive) << "a still reads b's memory";
  EXPECT_TRUE(b.send);
  EXPECT_FALSE(a.mapReceive) << "b offered no page";
  EXPECT_FALSE(b.mapSend);
}

// Without a process handle on its peer an end cannot fetch the peer's files: it receives
// single-copy by process_vm_readv, and its peer names no regions to it.
TEST(ShmProbe, AnEndWithoutAHandleOnItsPeerMapsNothing) {
  const auto [a, b] = probePair({.hasHandle = false}, {});
  EXPECT_TRUE(a.receive);
  EXPECT_FALSE(a.mapReceive);
  EXPECT_FALSE(b.mapSend);
  EXPECT_TRUE(b.send);
  EXPECT_TRUE(b.mapReceive);
  EXPECT_TRUE(a.mapSend);
}

}  // namespace
}  // namespace gccl::transport::shm
