#include "grad_expect.h"

#include <algorithm>

#include "sparse/chunk_select.h"

namespace gccl::perf {

namespace {

// One bucket's count, given its tensors' element offsets from its start.
SparseChunks bucketChunks(const std::vector<GradTensor>& tensors, const std::vector<size_t>& first,
                          size_t begin, size_t end, size_t chunk, double density) {
  const size_t count = first[end - 1] + tensors[end - 1].count;
  const size_t chunks = (count + chunk - 1) / chunk;
  std::vector<bool> exempt(chunks, false);
  for (size_t t = begin; t < end; ++t) {
    if (!tensors[t].vector || tensors[t].count == 0) continue;
    const size_t last = first[t] + tensors[t].count - 1;
    for (size_t c = first[t] / chunk; c <= last / chunk; ++c) exempt[c] = true;
  }
  const size_t exempted = static_cast<size_t>(std::count(exempt.begin(), exempt.end(), true));
  // ceil(rho K) as the library rounds it (0.07 of 100 chunks is 7, not 8): derived from the
  // docs here is which chunks count, not that rounding.
  return {exempted + std::min(chunks - exempted, topCount(chunks, density)), chunks};
}

}  // namespace

SparseChunks expectedSparseChunks(const std::vector<GradTensor>& tensors, size_t alignment,
                                  size_t bucketBytes, size_t chunk, double density) {
  SparseChunks result;
  size_t begin = 0;
  size_t bucketStart = 0;                     // bytes
  size_t end = 0;                             // bytes: where the previous tensor ends
  std::vector<size_t> first(tensors.size());  // element offset within the tensor's bucket
  for (size_t t = 0; t < tensors.size(); ++t) {
    const size_t offset = (end + alignment - 1) / alignment * alignment;
    if (t == begin) bucketStart = offset;
    first[t] = (offset - bucketStart) / sizeof(float);
    end = offset + tensors[t].count * sizeof(float);
    if (end - bucketStart >= bucketBytes || t + 1 == tensors.size()) {
      const SparseChunks bucket = bucketChunks(tensors, first, begin, t + 1, chunk, density);
      result.sent += bucket.sent;
      result.total += bucket.total;
      begin = t + 1;
    }
  }
  return result;
}

}  // namespace gccl::perf
