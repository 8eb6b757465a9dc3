// PeerRegions (transport/shm/peer_regions.h), with this process standing in for the peer: it
// maps a region once and reads it in place, refuses descriptors that do not fit what they name,
// and keeps a bounded number of mappings.
#include "transport/shm/peer_regions.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/shareable_memory.h"

namespace gccl::transport::shm {
namespace {

// What a sender puts in the ring for `bytes` at `address`.
CmaDescriptor describe(const void* address, size_t bytes) {
  return describeBuffer(address, bytes);
}

// A descriptor naming `fd` of this process as a region of its size.
CmaDescriptor describeFile(int fd) {
  struct stat status {};
  EXPECT_EQ(fstat(fd, &status), 0);
  CmaDescriptor descriptor{64, 4096};
  descriptor.region = 1000;
  descriptor.regionBytes = static_cast<uint64_t>(status.st_size);
  descriptor.device = static_cast<uint64_t>(status.st_dev);
  descriptor.inode = static_cast<uint64_t>(status.st_ino);
  descriptor.fd = fd;
  return descriptor;
}

// Mappings of gcclMemAlloc memory files in this process (its own and those of PeerRegions).
size_t mappingsOfSharedMemory() {
  std::ifstream maps("/proc/self/maps");
  size_t count = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.find("memfd:gccl-buffer") != std::string::npos) ++count;
  }
  return count;
}

// `regions` must refuse `descriptor` as a remote error naming `peer` and saying `words`.
void expectRefused(PeerRegions& regions, const CmaDescriptor& descriptor, const std::string& peer,
                   const std::string& words) {
  try {
    regions.payload(descriptor);
    ADD_FAILURE() << "accepted a descriptor that should fail with: " << words;
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kRemoteError);
    EXPECT_NE(std::string(e.what()).find(peer), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

// The protection ("rw-", "r--") of this process's mapping that holds `address`.
std::string protectionOf(const void* address) {
  std::ifstream maps("/proc/self/maps");
  const auto at = reinterpret_cast<uintptr_t>(address);
  for (std::string line; std::getline(maps, line);) {
    uintptr_t start = 0, end = 0;
    char permissions[5] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &start, &end, permissions) == 3 && start <= at &&
        at < end) {
      return std::string(permissions, 3);
    }
  }
  return "unmapped";
}

class PeerRegionsTest : public testing::Test {
 protected:
  void SetUp() override {
    self_ = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
    ASSERT_GE(self_, 0) << std::strerror(errno);
  }
  void TearDown() override { close(self_); }
  int self_ = -1;
};

// A region is mapped read-only, and made writable only when a peer offers it as a write-back
// destination: what is written then shows in the owner's buffer.
TEST_F(PeerRegionsTest, ARegionIsWritableOnlyOnceOfferedForWriting) {
  auto* buffer = static_cast<int*>(allocateShareable(1 << 16));
  ASSERT_NE(buffer, nullptr);
  PeerRegions regions(self_, "rank 1");
  const std::byte* read = regions.payload(describe(buffer + 16, 64));
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(protectionOf(read), "r--") << "read-only until offered";
  const CmaDescriptor offered = describe(buffer + 16, 64);
  std::byte* written = regions.destination(offered, offered.region);
  ASSERT_EQ(written, read) << "the same mapping, made writable";
  EXPECT_EQ(protectionOf(read), "rw-");
  const int value = 42;
  std::memcpy(written, &value, sizeof value);
  EXPECT_EQ(buffer[16], 42);
  EXPECT_TRUE(regions.payload(describe(buffer + 32, 4)) != nullptr);
  EXPECT_TRUE(freeShareable(buffer));
}

// Out of place, the destination is another region than the payload, mapped beside it: the
// payload's stays read-only, and mapping the destination never unmaps the payload's region,
// even with every mapping kept in use.
TEST_F(PeerRegionsTest, ADestinationMapsBesideItsPayloadWithoutUnmappingIt) {
  std::vector<int*> buffers;
  for (int i = 0; i < 17; ++i) {  // one more than the mappings kept
    buffers.push_back(static_cast<int*>(allocateShareable(4096)));
    ASSERT_NE(buffers.back(), nullptr);
    buffers.back()[3] = i;
  }
  PeerRegions regions(self_, "rank 1");
  // The payload's region is mapped first, so it is the least recently used of all.
  const CmaDescriptor payload = describe(buffers[0] + 3, 4);
  const std::byte* read = regions.payload(payload);
  ASSERT_NE(read, nullptr);
  for (int i = 1; i < 16; ++i) ASSERT_NE(regions.payload(describe(buffers[i], 4)), nullptr);
  // A 17th region as the destination: the least recently used other than the payload's goes.
  std::byte* written = regions.destination(describe(buffers[16] + 3, 4), payload.region);
  ASSERT_NE(written, nullptr);
  int value = -1;
  std::memcpy(&value, read, sizeof value);
  EXPECT_EQ(value, 0) << "the payload's mapping was kept";
  EXPECT_EQ(protectionOf(read), "r--");
  const int result = 99;
  std::memcpy(written, &result, sizeof result);
  EXPECT_EQ(buffers[16][3], 99);
  for (int* buffer : buffers) EXPECT_TRUE(freeShareable(buffer));
}

TEST_F(PeerRegionsTest, MapsARegionOnceAndReadsItInPlace) {
  auto* buffer = static_cast<int*>(allocateShareable(1 << 20));
  ASSERT_NE(buffer, nullptr);
  for (int i = 0; i < (1 << 18); ++i) buffer[i] = i;
  PeerRegions regions(self_, "rank 1");
  const std::byte* first = regions.payload(describe(buffer + 1000, 4000));
  ASSERT_NE(first, nullptr);
  EXPECT_NE(static_cast<const void*>(first), static_cast<const void*>(buffer + 1000));
  EXPECT_EQ(std::memcmp(first, buffer + 1000, 4000), 0);
  // The same mapping serves the next message, and shows what the sender writes since.
  buffer[5000] = -5;
  const std::byte* second = regions.payload(describe(buffer + 5000, 4));
  EXPECT_EQ(second, first + 4000 * sizeof(int));
  int value = 0;
  std::memcpy(&value, second, sizeof value);
  EXPECT_EQ(value, -5);
  EXPECT_TRUE(freeShareable(buffer));
}

TEST_F(PeerRegionsTest, PlainBuffersAndNoProcessHandleMapNothing) {
  std::vector<int> heap(1024);
  PeerRegions regions(self_, "rank 1");
  EXPECT_EQ(regions.payload(describe(heap.data(), 4096)), nullptr);
  void* shared = allocateShareable(4096);
  ASSERT_NE(shared, nullptr);
  PeerRegions withoutHandle(-1, "rank 1");
  EXPECT_EQ(withoutHandle.payload(describe(shared, 4096)), nullptr);
  EXPECT_TRUE(freeShareable(shared));
}

TEST_F(PeerRegionsTest, DescriptorsThatDoNotFitTheirRegionAreRefusedNamingThePeer) {
  void* shared = allocateShareable(8192);
  ASSERT_NE(shared, nullptr);
  PeerRegions regions(self_, "rank 3 (host a)");
  auto expectRefused = [&](const CmaDescriptor& descriptor, const char* words) {
    gccl::transport::shm::expectRefused(regions, descriptor, "rank 3 (host a)", words);
  };
  const CmaDescriptor good = describe(shared, 8192);
  CmaDescriptor pastTheEnd = good;
  pastTheEnd.offset = 4096;
  expectRefused(pastTheEnd, "of a region of 8192 B");
  CmaDescriptor hugeOffset = good;
  hugeOffset.offset = UINT64_MAX;
  expectRefused(hugeOffset, "malformed message");
  CmaDescriptor otherFile = good;
  otherFile.fd = self_;  // a descriptor of the peer, but not its region's file
  expectRefused(otherFile, "is not the sealed memory file");
  CmaDescriptor otherInode = good;
  ++otherInode.inode;
  expectRefused(otherInode, "is not the sealed memory file");
  CmaDescriptor otherDevice = good;
  ++otherDevice.device;
  expectRefused(otherDevice, "is not the sealed memory file");
  CmaDescriptor closed = good;
  closed.fd = 1 << 20;  // no such descriptor in the peer
  expectRefused(closed, "Bad file descriptor");
  ASSERT_NE(regions.payload(good), nullptr);
  CmaDescriptor resized = good;  // the mapped region, named with another size
  resized.regionBytes = 1 << 20;
  resized.bytes = 8192;
  expectRefused(resized, "mapped at 8192 B");
  EXPECT_TRUE(freeShareable(shared));
}

// Only a sealed memory file is mapped: a file on disk or a memory file that may shrink could
// be cut short under the mapping, and a read past its end would fault (SIGBUS).
TEST_F(PeerRegionsTest, FilesThatCouldShrinkUnderTheMappingAreRefused) {
  PeerRegions regions(self_, "rank 2");
  auto expectRefused = [&](int fd) {
    gccl::transport::shm::expectRefused(regions, describeFile(fd), "rank 2",
                                        "is not the sealed memory file");
  };
  const int unsealed = memfd_create("unsealed", MFD_CLOEXEC);
  ASSERT_GE(unsealed, 0);
  ASSERT_EQ(ftruncate(unsealed, 4096), 0);
  expectRefused(unsealed);
  close(unsealed);
  const int onDisk = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);  // no seals, not tmpfs
  ASSERT_GE(onDisk, 0);
  expectRefused(onDisk);
  close(onDisk);
}

// A sealed memory file of the hugetlbfs kind passes every other check, but its pages come from
// a pool that can run dry, and a read of a page it cannot back faults.
TEST_F(PeerRegionsTest, HugePageMemoryFilesAreRefused) {
  const size_t bytes = size_t{2} << 20;
  const int huge = memfd_create("huge", MFD_CLOEXEC | MFD_HUGETLB | MFD_ALLOW_SEALING);
  if (huge < 0 || ftruncate(huge, bytes) != 0 ||
      fcntl(huge, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
    if (huge >= 0) close(huge);
    GTEST_SKIP() << "no sealable hugetlbfs memory file here: " << std::strerror(errno);
  }
  PeerRegions regions(self_, "rank 2");
  expectRefused(regions, describeFile(huge), "rank 2", "is not the sealed memory file");
  close(huge);
}

// A peer's memory file may claim any size (its pages come only when touched): one larger than
// this machine's memory is not mapped, and the message is copied instead.
TEST_F(PeerRegionsTest, RegionsLargerThanThisMachinesMemoryAreCopiedInstead) {
  void* shared = allocateShareable(4096);
  ASSERT_NE(shared, nullptr);
  void* kept = allocateShareable(4096);
  ASSERT_NE(kept, nullptr);
  PeerRegions regions(self_, "rank 1");
  const std::byte* mapped = regions.payload(describe(kept, 4096));
  ASSERT_NE(mapped, nullptr);
  CmaDescriptor descriptor = describe(shared, 4096);
  descriptor.regionBytes = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
                           static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) * 2;
  const size_t before = mappingsOfSharedMemory();
  EXPECT_EQ(regions.payload(descriptor), nullptr);
  EXPECT_EQ(mappingsOfSharedMemory(), before) << "a mapping went for a region then refused";
  EXPECT_EQ(regions.payload(describe(kept, 4096)), mapped);
  EXPECT_NE(regions.payload(describe(shared, 4096)), nullptr) << "a later region still maps";
  EXPECT_TRUE(freeShareable(shared));
  EXPECT_TRUE(freeShareable(kept));
}

TEST_F(PeerRegionsTest, NothingIsMappedOnceDetached) {
  void* shared = allocateShareable(4096);
  ASSERT_NE(shared, nullptr);
  PeerRegions regions(self_, "rank 1");
  regions.detach();
  EXPECT_EQ(regions.payload(describe(shared, 4096)), nullptr);
  EXPECT_TRUE(freeShareable(shared));
}

// More regions than the cache keeps: each still reads right, the oldest mapped anew.
TEST_F(PeerRegionsTest, ManyRegionsEachReadRight) {
  std::vector<int*> buffers;
  for (int i = 0; i < 40; ++i) {
    buffers.push_back(static_cast<int*>(allocateShareable(4096)));
    ASSERT_NE(buffers.back(), nullptr);
    buffers.back()[7] = i;
  }
  PeerRegions regions(self_, "rank 1");
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 40; ++i) {
      const std::byte* payload = regions.payload(describe(buffers[i] + 7, 4));
      ASSERT_NE(payload, nullptr);
      int value = -1;
      std::memcpy(&value, payload, sizeof value);
      EXPECT_EQ(value, i);
    }
  }
  for (int* buffer : buffers) EXPECT_TRUE(freeShareable(buffer));
}

}  // namespace
}  // namespace gccl::transport::shm
