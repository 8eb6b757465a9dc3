// The residual of a sparse bucket and its error feedback: whatever a rank has not transmitted
// stays in its residual V and competes again next step, so no gradient is lost, only delayed.
//
//   accumulate   m = 0:  V += g                 m > 0:  U = m U + g;  V += U   (momentum
//                                                        correction: the momentum, not the raw
//                                                        gradient, is what is delayed)
//   pack         wire_c = P(V_c) for each picked chunk c, P = fp32 copy or fp16 rounding
//                V_c   -= widen(P(V_c))  (0 for fp32; the fp16 rounding error otherwise)
//                U_c    = 0               (momentum factor masking: the sent part restarts)
//   unpack       grad = the reduced chunks in their places, 0 elsewhere
//
//   drop         V, U = 0 where inf or NaN in chunks not sent (dropNonFiniteUnsent)
//
// Conservation, per rank: sum over steps of g (of U with momentum) = sum of widen(P(V_c)) sent
// + the final V, as long as every value stays finite.
#pragma once

#include <cstddef>
#include <vector>

namespace gccl {

enum class SparsePayload { kFloat16, kFloat32 };

size_t payloadElementSize(SparsePayload payload);

// V += g, or with momentum > 0: U = momentum * U + g, V += U (u may be null when momentum is 0).
void accumulateResidual(float* v, float* u, const float* g, size_t count, float momentum);

// accumulateResidual, then chunkNorms of the new V, chunk by chunk: each chunk's norm is taken
// while the chunk is still in cache, one pass over memory instead of two.
void accumulateResidualAndNorms(float* v, float* u, const float* g, size_t count, float momentum,
                                size_t chunk, float* norms);

// Packs the picked chunks of V (ascending, chunks of `chunk` over `count`) back to back into
// `wire` (payloadElementSize each) and leaves the packing error in V; clears U on them (u may be
// null). Returns the number of elements packed. A value beyond fp16's range packs as inf (the
// step is flagged non-finite) and leaves 0 in V, so the residual itself stays finite.
size_t packChunks(SparsePayload payload, void* wire, float* v, float* u, size_t count, size_t chunk,
                  const std::vector<size_t>& picked);

// After packChunks: sets the inf and NaN of V and U to 0 in the chunks whose summed norm
// (`norms`) is not finite and that were not picked (ascending). Returns whether there was such
// a chunk: the step is then flagged non-finite, the same on every rank (they hold the same
// summed norms), whatever was sent (a finite chunk whose norm overflowed may have won the
// tie). Left in the residual, those values would be sent in the steps after it, flagging each
// (a loss scaler would shrink its scale step after step for one overflow). Only those chunks
// are scanned.
bool dropNonFiniteUnsent(float* v, float* u, size_t count, size_t chunk,
                         const std::vector<float>& norms, const std::vector<size_t>& picked);

// grad = the packed chunks widened to fp32 at their places, 0 elsewhere (the layout of
// packChunks). Sets *nonFinite when a value written is inf or NaN (if not null).
void unpackChunks(SparsePayload payload, float* grad, const void* wire, size_t count, size_t chunk,
                  const std::vector<size_t>& picked, bool* nonFinite);

}  // namespace gccl
