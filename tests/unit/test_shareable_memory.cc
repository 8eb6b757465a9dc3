// Shareable memory (base/shareable_memory.h): what gcclMemAlloc hands out and what the shm
// transport looks a send buffer up in.
#include "base/shareable_memory.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <vector>

namespace gccl {
namespace {

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

TEST(ShareableMemory, IsZeroedPageAlignedAndSealedAtItsSize) {
  auto* memory = static_cast<unsigned char*>(allocateShareable(10000));
  ASSERT_NE(memory, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(memory) % kPage, 0u);
  for (size_t i = 0; i < 10000; ++i) ASSERT_EQ(memory[i], 0) << i;
  std::memset(memory, 0x5A, 10000);
  const auto span = findShareable(memory, 10000);
  ASSERT_TRUE(span.has_value());
  EXPECT_EQ(span->offset, 0u);
  EXPECT_EQ(span->regionBytes, (10000 + kPage - 1) / kPage * kPage);
  struct stat status {};
  ASSERT_EQ(fstat(span->fd, &status), 0);
  EXPECT_EQ(static_cast<uint64_t>(status.st_ino), span->inode);
  EXPECT_EQ(static_cast<uint64_t>(status.st_size), span->regionBytes);
  const int seals = fcntl(span->fd, F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW), F_SEAL_SHRINK | F_SEAL_GROW);
  EXPECT_NE(ftruncate(span->fd, 0), 0);  // what a peer's mapping relies on
  EXPECT_TRUE(freeShareable(memory));
  EXPECT_EQ(allocateShareable(0), nullptr);
}

TEST(ShareableMemory, FindsOnlyRangesWhollyInsideALiveRegion) {
  auto* a = static_cast<unsigned char*>(allocateShareable(4 * kPage));
  auto* b = static_cast<unsigned char*>(allocateShareable(kPage));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const auto inside = findShareable(a + 100, 2 * kPage);
  ASSERT_TRUE(inside.has_value());
  EXPECT_EQ(inside->offset, 100u);
  EXPECT_EQ(inside->regionBytes, 4 * kPage);
  EXPECT_TRUE(findShareable(a + 4 * kPage - 8, 8).has_value());
  EXPECT_FALSE(findShareable(a + 4 * kPage - 8, 9).has_value());  // runs past the end
  EXPECT_FALSE(findShareable(a - 1, 2).has_value());
  EXPECT_FALSE(findShareable(a, SIZE_MAX).has_value());
  std::vector<char> heap(64);
  EXPECT_FALSE(findShareable(heap.data(), heap.size()).has_value());
  const auto other = findShareable(b, kPage);
  ASSERT_TRUE(other.has_value());
  EXPECT_NE(other->region, inside->region);
  EXPECT_NE(other->fd, inside->fd);
  EXPECT_TRUE(freeShareable(a));
  EXPECT_FALSE(findShareable(a + 100, 8).has_value());
  EXPECT_TRUE(freeShareable(b));
}

TEST(ShareableMemory, RegionNumbersAreNeverReused) {
  void* first = allocateShareable(kPage);
  ASSERT_NE(first, nullptr);
  const uint64_t firstRegion = findShareable(first, 1)->region;
  ASSERT_TRUE(freeShareable(first));
  void* second = allocateShareable(kPage);  // often at the same address
  ASSERT_NE(second, nullptr);
  EXPECT_GT(findShareable(second, 1)->region, firstRegion);
  EXPECT_TRUE(freeShareable(second));
}

TEST(ShareableMemory, FreeRefusesWhatItDidNotHandOut) {
  void* memory = allocateShareable(2 * kPage);
  ASSERT_NE(memory, nullptr);
  std::vector<char> heap(64);
  EXPECT_FALSE(freeShareable(heap.data()));
  EXPECT_FALSE(freeShareable(static_cast<char*>(memory) + kPage));
  EXPECT_TRUE(freeShareable(memory));
  EXPECT_FALSE(freeShareable(memory));
}

// A peer that mapped the region keeps its file open: the pages still go back at the free, and
// the stale mapping reads zeros, never faults.
TEST(ShareableMemory, FreeGivesThePagesBackWhileAPeerStillMapsThem) {
  const size_t bytes = 64 * kPage;
  auto* memory = static_cast<unsigned char*>(allocateShareable(bytes));
  ASSERT_NE(memory, nullptr);
  std::memset(memory, 0x77, bytes);
  const int peerFile = dup(findShareable(memory, bytes)->fd);
  ASSERT_GE(peerFile, 0);
  auto* peerView =
      static_cast<unsigned char*>(mmap(nullptr, bytes, PROT_READ, MAP_SHARED, peerFile, 0));
  ASSERT_NE(peerView, MAP_FAILED);
  EXPECT_EQ(peerView[bytes - 1], 0x77);
  struct stat before {};
  ASSERT_EQ(fstat(peerFile, &before), 0);
  EXPECT_GE(static_cast<uint64_t>(before.st_blocks) * 512, bytes);
  ASSERT_TRUE(freeShareable(memory));
  struct stat after {};
  ASSERT_EQ(fstat(peerFile, &after), 0);
  EXPECT_EQ(after.st_blocks, 0);
  EXPECT_EQ(peerView[0], 0);
  EXPECT_EQ(peerView[bytes - 1], 0);
  munmap(peerView, bytes);
  close(peerFile);
}

// A child forked after the allocation shares the pages: its free (a worker process dropping a
// buffer it inherited) unmaps them there and leaves the parent's data alone.
TEST(ShareableMemory, AForkedChildsFreeLeavesTheParentsData) {
  auto* memory = static_cast<unsigned char*>(allocateShareable(kPage));
  ASSERT_NE(memory, nullptr);
  std::memset(memory, 0x42, kPage);
  const pid_t child = fork();
  if (child == 0) _exit(freeShareable(memory) ? 0 : 1);
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(memory[0], 0x42);
  EXPECT_EQ(memory[kPage - 1], 0x42);
  EXPECT_TRUE(freeShareable(memory));
}

}  // namespace
}  // namespace gccl
