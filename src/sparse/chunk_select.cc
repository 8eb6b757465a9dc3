#include "sparse/chunk_select.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gccl {

size_t chunkCount(size_t count, size_t chunk) {
  return count / chunk + (count % chunk != 0 ? 1 : 0);
}

float l1Norm(const float* v, size_t n) {
  constexpr size_t kLanes = 8;
  float lane[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) lane[j] += std::fabs(v[i + j]);
  }
  for (size_t j = 0; i < n; ++i, ++j) lane[j] += std::fabs(v[i]);
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

void chunkNorms(const float* v, size_t count, size_t chunk, float* norms) {
  for (size_t c = 0, begin = 0; begin < count; ++c, begin += chunk) {
    norms[c] = l1Norm(v + begin, std::min(count, begin + chunk) - begin);
  }
}

size_t topCount(size_t chunks, double rho) {
  // ceil in double, then clamped: rho = 1 sends all, a tiny positive rho still sends one. The
  // product is shrunk by far more than its rounding error first, so that a rho the user meant
  // as k / K exactly (0.07 of 100 chunks is 7.000000000000001 in double) gives k, not k + 1.
  const double k = std::ceil(rho * static_cast<double>(chunks) * (1.0 - 1e-12));
  return std::min(chunks, static_cast<size_t>(std::max(0.0, k)));
}

std::vector<size_t> selectChunks(const std::vector<float>& norms, double rho,
                                 const std::vector<bool>& exempt) {
  std::vector<size_t> candidates;
  std::vector<size_t> picked;
  for (size_t i = 0; i < norms.size(); ++i) {
    (i < exempt.size() && exempt[i] ? picked : candidates).push_back(i);
  }
  // A strict weak order even with NaN: NaN maps to +inf, the index breaks every tie.
  const auto key = [&](size_t i) {
    return std::isnan(norms[i]) ? std::numeric_limits<float>::infinity() : norms[i];
  };
  const size_t k = std::min(candidates.size(), topCount(norms.size(), rho));
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(k),
                    candidates.end(), [&](size_t a, size_t b) {
                      const float ka = key(a), kb = key(b);
                      return ka != kb ? ka > kb : a < b;
                    });
  picked.insert(picked.end(), candidates.begin(),
                candidates.begin() + static_cast<std::ptrdiff_t>(k));
  std::sort(picked.begin(), picked.end());
  return picked;
}

}  // namespace gccl
