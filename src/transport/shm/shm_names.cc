#include "transport/shm/shm_names.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "base/error.h"

namespace gccl::transport::shm {

namespace {

// FNV-1a over the token, the scope and the ranks, twice with different offsets: 128 bits.
// The token itself never appears in the name, because /proc/net/unix is readable by every
// local user and the token authenticates the job's connections. The digest need not be a MAC:
// the socket checks its callers itself; the name only has to be one a stranger cannot compute
// before the socket listens (and so cannot take first).
uint64_t fnv1a(uint64_t hash, const std::string& bytes) {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string hex64(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace

std::string doorbellName(const JobToken& token, const std::string& scope, int rankA, int rankB) {
  const int lo = std::min(rankA, rankB);
  const int hi = std::max(rankA, rankB);
  // The scope is hashed with the token: a split communicator's pair (0, 1) is another pair.
  const std::string key =
      strCat(std::string(token.begin(), token.end()), "\n", scope, "\n", lo, "\n", hi);
  const std::string digest =
      hex64(fnv1a(0xcbf29ce484222325ULL, key)) + hex64(fnv1a(0x84222325cbf29ce4ULL, key + "#"));
  return strCat(kSegmentPrefix, digest, "-", lo, "-", hi, ".bell");
}

}  // namespace gccl::transport::shm
