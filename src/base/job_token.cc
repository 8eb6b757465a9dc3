#include "base/job_token.h"

#include <sys/random.h>

#include <cerrno>

#include "base/error.h"

namespace gccl {

JobToken randomJobToken() {
  JobToken token{};
  size_t filled = 0;
  while (filled < token.size()) {
    const ssize_t n = getrandom(token.data() + filled, token.size() - filled, 0);
    if (n < 0 && errno != EINTR) failErrno(errno, "getrandom");
    if (n > 0) filled += static_cast<size_t>(n);
  }
  return token;
}

JobToken jobTokenFromText(std::string_view text) {
  // FNV-1a stretched over the token so long texts use all their bytes.
  JobToken token{};
  uint64_t hash = 1469598103934665603ull;
  for (size_t i = 0; i < token.size(); ++i) {
    for (char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    hash = (hash ^ i) * 1099511628211ull;
    token[i] = static_cast<char>(hash >> 56);
  }
  return token;
}

bool isJobToken(const JobToken& token, const void* presented) {
  const auto* bytes = static_cast<const unsigned char*>(presented);
  unsigned difference = 0;
  for (size_t i = 0; i < token.size(); ++i) {
    difference |= static_cast<unsigned char>(token[i]) ^ bytes[i];
  }
  return difference == 0;
}

}  // namespace gccl
