// The memory behind the gradient pool: zeroed, aligned, and asking for huge pages when large;
// or shareable, for a communicator with shm peers.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "base/shareable_memory.h"
#include "lazy/aligned_buffer.h"

namespace gccl {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

bool zeroed(const AlignedBuffer& buffer) {
  for (size_t i = 0; i < buffer.size(); ++i) {
    if (buffer.data()[i] != std::byte{0}) return false;
  }
  return true;
}

// The VmFlags line of the mapping holding `address` in /proc/self/smaps.
std::string vmFlagsOf(const void* address) {
  const auto at = reinterpret_cast<uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= at && at < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

bool kernelHasTransparentHugePages() {
  struct stat info {};
  return stat("/sys/kernel/mm/transparent_hugepage", &info) == 0;
}

TEST(AlignedBuffer, SmallBuffersAreZeroedAndAlignedAsAsked) {
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{100}, size_t{4096}, kHugePage - 1}) {
    const AlignedBuffer buffer(bytes, 256);
    ASSERT_NE(buffer.data(), nullptr) << bytes;
    EXPECT_EQ(buffer.size(), bytes);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.data()) % 256, 0u) << bytes;
    EXPECT_TRUE(zeroed(buffer)) << bytes;
  }
}

TEST(AlignedBuffer, LargeBuffersStartOnAHugePageAndAskForHugePages) {
  const AlignedBuffer buffer(3 * kHugePage + 12345, 64);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.data()) % kHugePage, 0u);
  EXPECT_TRUE(zeroed(buffer));
  const std::string flags = vmFlagsOf(buffer.data());
  ASSERT_FALSE(flags.empty()) << "no mapping holds the buffer in /proc/self/smaps";
  if (!kernelHasTransparentHugePages()) {
    GTEST_SKIP() << "this kernel has no transparent huge pages (madvise refuses the advice)";
  }
  // "hg": the mapping carries MADV_HUGEPAGE, whatever the system-wide setting makes of it.
  EXPECT_NE(flags.find(" hg"), std::string::npos) << flags;
}

TEST(AlignedBuffer, ShareableBuffersAreZeroedRegisteredAndFreed) {
  const void* address = nullptr;
  {
    const AlignedBuffer buffer(size_t{5} << 20, 4096, true);
    ASSERT_NE(buffer.data(), nullptr);
    EXPECT_TRUE(buffer.shareable());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.data()) % 4096, 0u);
    EXPECT_TRUE(zeroed(buffer));
    EXPECT_TRUE(findShareable(buffer.data(), buffer.size()).has_value());
    address = buffer.data();
    const AlignedBuffer empty(0, 64, true);
    EXPECT_NE(empty.data(), nullptr);
  }
  EXPECT_FALSE(findShareable(address, 1).has_value());  // freed with the buffer
  EXPECT_FALSE(AlignedBuffer(4096, 64).shareable());
  EXPECT_THROW(AlignedBuffer(4096, kHugePage, true), std::invalid_argument);
}

}  // namespace
}  // namespace gccl
