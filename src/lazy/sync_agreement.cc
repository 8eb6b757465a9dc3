#include "lazy/sync_agreement.h"

#include <bit>
#include <cstddef>

#include "base/fnv1a.h"

namespace gccl {

uint32_t syncAgreement(const GradientSyncOptions& options, const std::vector<TensorSpec>& tensors,
                       const std::vector<bool>& exempt) {
  Fnv1a hash;
  hash.add(options.thetaBytes);
  hash.add(options.alignment);
  hash.add(static_cast<uint64_t>(options.wire));
  hash.add(options.average);
  hash.add(options.preDivide);
  hash.add(options.copyMode);
  const SparseOptions& sparse = options.sparse;
  hash.add(sparse.enabled);
  if (sparse.enabled) {  // unused otherwise: ranks may leave them as they like
    hash.add(sparse.chunkElements);
    hash.add(std::bit_cast<uint64_t>(sparse.density));
    hash.add(sparse.warmupSteps);
    hash.add(std::bit_cast<uint32_t>(sparse.momentum));
    hash.add(static_cast<uint64_t>(sparse.payload));
  }
  hash.add(tensors.size());
  for (size_t t = 0; t < tensors.size(); ++t) {
    hash.add(tensors[t].count);
    hash.add(static_cast<uint64_t>(tensors[t].type));
    hash.add(t < exempt.size() && exempt[t]);
  }
  return hash.folded();
}

}  // namespace gccl
