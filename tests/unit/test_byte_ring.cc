// The shared-memory ring: bytes come out in order across the wrap-around, a full ring takes
// nothing more, and two mappings of one segment see each other's bytes.
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

}  // namespace
}  // namespace gccl::transport::shm
