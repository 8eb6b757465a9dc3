// The shared-memory ring: bytes come out in order across the wrap-around, a full ring takes
// nothing more, counters a peer corrupted move nothing past it, two mappings of one segment
// see each other's bytes, and warming a ring touches its pages and nothing else.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "base/error.h"
#include "transport/shm/byte_ring.h"
#include "transport/shm/shm_segment.h"
#include "unit/smaps.h"

namespace gccl::transport::shm {
namespace {

TEST(ByteRing, KeepsOrderAcrossTheWrapAndStopsWhenFull) {
  RingControl control;
  std::vector<std::byte> data(64);
  ByteRing ring(&control, data.data(), data.size());
  std::vector<unsigned char> in(200), out(200);
  std::iota(in.begin(), in.end(), 0);
  size_t written = 0, read = 0;
  // Odd-sized pieces so that writes and reads straddle the end of the buffer.
  while (read < in.size()) {
    written += ring.write(in.data() + written, std::min<size_t>(23, in.size() - written));
    EXPECT_LE(written - read, data.size());
    read += ring.read(out.data() + read, 17);
  }
  EXPECT_EQ(in, out);
  std::vector<unsigned char> fill(100, 1);
  EXPECT_EQ(ring.write(fill.data(), fill.size()), 64u);
  EXPECT_EQ(ring.write(fill.data(), 1), 0u);
  unsigned char first = 0;
  EXPECT_TRUE(ring.peek(&first, 1));
  EXPECT_EQ(ring.readable(), 64u);
}

// The consumer's `tail` lives in memory the peer can write: a tail ahead of `head`, or more
// than a ring behind it, leaves no room (the send waits, and the timeout names the peer)
// instead of a copy past the ring's end. Likewise a `head` out of range reads at most a ring.
TEST(ByteRing, CountersOutOfRangeMoveNothingPastTheRing) {
  RingControl control;
  std::vector<std::byte> memory(64 + 64, std::byte{0x5a});  // the ring, then a guard
  ByteRing ring(&control, memory.data(), 64);
  std::vector<unsigned char> in(64, 1);
  EXPECT_EQ(ring.write(in.data(), 10), 10u);
  for (const uint64_t tail : {uint64_t{10} + 100, uint64_t{10} - 65}) {
    control.tail.store(tail);
    EXPECT_EQ(ring.writable(), 0u) << tail;
    EXPECT_EQ(ring.write(in.data(), in.size()), 0u) << tail;
  }
  EXPECT_TRUE(std::all_of(memory.begin() + 64, memory.end(),
                          [](std::byte b) { return b == std::byte{0x5a}; }));
  control.tail.store(0);
  control.head.store(1000);
  EXPECT_EQ(ring.readable(), 64u);
}

// The producer reads the consumer's `tail` again only when the one it saw leaves less room than
// it wants: what it shows is never more than there is, and all of it once asked for.
TEST(ByteRing, TheProducerRereadsTheTailOnlyWhenItNeedsMoreRoom) {
  RingControl control;
  std::vector<std::byte> data(64);
  ByteRing ring(&control, data.data(), data.size());
  std::vector<unsigned char> in(64, 1);
  ASSERT_EQ(ring.write(in.data(), 40), 40u);  // the tail it knows: 0, where rings start
  control.tail.store(30);                     // the consumer read 30
  EXPECT_EQ(ring.writable(10), 24u) << "enough room seen: tail not read again";
  EXPECT_EQ(ring.writable(25), 54u) << "more wanted: the consumer's progress is seen";
  EXPECT_EQ(ring.write(in.data(), 54), 54u);
  EXPECT_EQ(ring.writable(), 0u);
  control.tail.store(40);
  EXPECT_EQ(ring.writable(1), 10u) << "no room seen: the tail is read again";
}

// What the peer maps from the descriptor is the creator's memory; anything else is refused.
TEST(SharedSegment, AdoptedDescriptorSharesTheRings) {
  SharedSegment creator = SharedSegment::create(4096);
  SharedSegment adopter = SharedSegment::adopt(dup(creator.fd()), 4096);
  const char text[] = "over shared memory";
  EXPECT_EQ(creator.ring(0).write(text, sizeof text), sizeof text);
  char got[sizeof text] = {};
  EXPECT_EQ(adopter.ring(0).read(got, sizeof got), sizeof text);
  EXPECT_STREQ(got, text);
  EXPECT_EQ(adopter.ring(1).readable(), 0u);
  EXPECT_THROW(SharedSegment::adopt(dup(creator.fd()), 8192), Error);  // other ring sizes
  const int file = memfd_create("not-a-segment", MFD_CLOEXEC);
  ASSERT_GE(file, 0);
  ASSERT_EQ(ftruncate(file, 4096 + 2 * 4096), 0);  // the right size, but no gccl magic
  EXPECT_THROW(SharedSegment::adopt(file, 4096), Error);
}

// The rings' pages exist from the creation on (MAP_POPULATE), not faulted in by the first
// messages: a second, unpopulated mapping of the same file finds every page resident.
TEST(SharedSegment, RingPagesAreAllocatedAtCreation) {
  constexpr size_t kRingBytes = size_t{1} << 20;
  const SharedSegment segment = SharedSegment::create(kRingBytes);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t bytes = 4096 + 2 * kRingBytes;  // the control page and two rings
  void* view = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, segment.fd(), 0);
  ASSERT_NE(view, MAP_FAILED);
  std::vector<unsigned char> resident((bytes + page - 1) / page);
  ASSERT_EQ(mincore(view, bytes, resident.data()), 0);
  const auto absent =
      std::count_if(resident.begin(), resident.end(), [](unsigned char r) { return !(r & 1); });
  EXPECT_EQ(absent, 0) << "of " << resident.size() << " pages";
  munmap(view, bytes);
}

// Warming a ring before its first message: the producer's writes reach every page (so its
// first messages do not each pay for a first touch, in a VM several microseconds a page) and
// leave the ring empty; the consumer's reads change nothing. What the consumer's
// reads do to its mapping cannot be seen from here: smaps' "Referenced" already counts every
// populated page (the kernel marks the pages, not the page-table entries, when it populates).
TEST(ByteRing, WarmingDirtiesTheProducersPagesAndLeavesTheRingEmpty) {
  constexpr size_t kRingBytes = size_t{1} << 20;
  SharedSegment creator = SharedSegment::create(kRingBytes);
  SharedSegment adopter = SharedSegment::adopt(dup(creator.fd()), kRingBytes);
  ByteRing out = creator.ring(0);
  const void* mapping = &out.control();  // the control page begins the creator's mapping
  const long dirtyBefore = testing_support::dirtyKibAt(mapping);
  ASSERT_GE(dirtyBefore, 0);
  EXPECT_LT(dirtyBefore, 64) << "only the control page was written at creation";
  out.warmForProducer();
  EXPECT_GE(testing_support::dirtyKibAt(mapping), long{kRingBytes / 1024} + dirtyBefore)
      << "every page of the producer's ring written";
  ByteRing in = adopter.ring(0);
  in.warmForConsumer();
  EXPECT_EQ(in.readable(), 0u);
  EXPECT_EQ(out.control().head.load(), 0u);
  EXPECT_EQ(out.control().tail.load(), 0u);
  const char text[] = "after warming";
  EXPECT_EQ(out.write(text, sizeof text), sizeof text);
  char got[sizeof text] = {};
  EXPECT_EQ(in.read(got, sizeof got), sizeof text);
  EXPECT_STREQ(got, text);
}

// A segment whose creator could still shrink it would let the creator crash the peer with
// SIGBUS: the creator seals its size, and a segment that comes unsealed (even one with a
// gccl pair's contents) is refused.
TEST(SharedSegment, OnlySealedSegmentsAreAdopted) {
  SharedSegment creator = SharedSegment::create(4096);
  EXPECT_NE(ftruncate(creator.fd(), 4096), 0) << "the size is sealed";
  const int unsealed = memfd_create("gccl-pair", MFD_CLOEXEC);
  ASSERT_GE(unsealed, 0);
  const size_t bytes = 4096 + 2 * 4096;
  ASSERT_EQ(ftruncate(unsealed, static_cast<off_t>(bytes)), 0);
  void* from = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, creator.fd(), 0);
  ASSERT_NE(from, MAP_FAILED);
  ASSERT_EQ(pwrite(unsealed, from, bytes, 0), static_cast<ssize_t>(bytes));  // a faithful copy
  munmap(from, bytes);
  try {
    SharedSegment::adopt(unsealed, 4096);
    ADD_FAILURE() << "an unsealed segment was adopted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sealed"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gccl::transport::shm
