// What the ranks' gradient syncs must share, as one hash that every bucket's collective carries
// (CollectiveCall::agreement, checked like the count). Ranks that differ then fail at their
// first bucket with a mismatched collective, where they would otherwise mix up gradients (two
// tensors registered in another order fill a bucket of the same size) or wait for a
// collective the others never start (copy mode combines the ranks' flags whatever the size).
#pragma once

#include <cstdint>
#include <vector>

#include "lazy/bucket_plan.h"
#include "lazy/gradient_sync.h"

namespace gccl {

// FNV-1a over the tensors in registration order (count, type, exempt), and the options that
// decide which collectives a step runs and what they mean: theta, alignment, wire, average,
// pre-division, copy mode and, when sparse is on, its parameters. Not the copy functions and
// notices (a rank's own), nor whether the pool is shareable (it changes no result).
uint32_t syncAgreement(const GradientSyncOptions& options, const std::vector<TensorSpec>& tensors,
                       const std::vector<bool>& exempt);

}  // namespace gccl
