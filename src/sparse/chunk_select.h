// Which chunks of a bucket a sparse step sends (coarse-grained sparse communication, docs/api.md
// "Sparse gradients"): pure functions of the residual and the parameters, so that every rank,
// given the same allreduced norm vector, picks the same chunks without further agreement.
//
//   residual V:  |  chunk 0  |  chunk 1  | ... | chunk K-1 (short) |    C elements per chunk
//   norms:       |V_0|_1      |V_1|_1     ...   |V_K-1|_1            local, fp32, then summed
//   picked:      top ceil(rho K) summed norms (ties: lower index)  +  every exempt chunk
#pragma once

#include <cstddef>
#include <vector>

namespace gccl {

// Chunks of `chunk` elements covering `count` elements (the last may be short); chunk > 0.
size_t chunkCount(size_t count, size_t chunk);

// The fp32 sum of |v[i]| over n elements in a fixed order: eight running sums (element i into
// sum i % 8, so the compiler may keep them in one vector register), then combined pairwise.
// The same on every machine for the same input; each rank's own norms only need to be
// deterministic, since what every rank picks by is their allreduced sum.
float l1Norm(const float* v, size_t n);

// norms[i] = l1Norm of chunk i. `norms` holds chunkCount(count, chunk) values.
void chunkNorms(const float* v, size_t count, size_t chunk, float* norms);

// How many non-exempt chunks a step sends: ceil(rho * chunks), at most `chunks`. rho in (0, 1].
size_t topCount(size_t chunks, double rho);

// The picked chunks, ascending: every chunk with exempt[i] (exempt may be empty: none), plus
// the topCount(norms.size(), rho) non-exempt chunks of largest norm (ties to the lower index; a
// NaN norm counts as larger than any number, so a non-finite residual is sent and flagged).
std::vector<size_t> selectChunks(const std::vector<float>& norms, double rho,
                                 const std::vector<bool>& exempt);

}  // namespace gccl
