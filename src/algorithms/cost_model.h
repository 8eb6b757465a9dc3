// The alpha-beta-gamma model behind automatic algorithm choice: a message costs alpha plus
// beta per byte on its link, a reduction gamma per byte. Each (collective, algorithm) has a
// closed form of its critical path; the selector takes the cheapest algorithm that can run.
// Figures come from `allreduce_perf --tune` (a file named by GCCL_TUNE_FILE, read by rank 0 and
// shared at init, so that every rank predicts the same) or from the defaults below.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/collective.h"

namespace gccl {

enum class AlgorithmId : uint8_t;

struct LinkCost {
  double alphaUs = 0;        // per message: latency and per-message overhead
  double betaUsPerByte = 0;  // per byte: 1 / bandwidth
};

// How far one algorithm's measured times stray from its closed form: its latency part (alpha
// terms) and its bandwidth part (beta and gamma terms) are multiplied by these. A closed form
// cannot know that a ring of 4 ranks on 2 cores waits for the scheduler at every hop, or that
// two trees share one loopback; a measurement does.
struct Scale {
  double latency = 1;
  double bandwidth = 1;
  // Bandwidth scales measured at these sizes (bytes ascending, each once), when the tune timed
  // more than one size: a closed form's error is no single factor from 64 KiB to 64 MiB (caches
  // fill, a pipeline's fill stops mattering, the scheduler's share shrinks). Empty: `bandwidth`
  // at every size.
  std::vector<std::pair<size_t, double>> bandwidthAt;

  // The bandwidth scale for a call of `bytes`: at a measured size its own; between two,
  // interpolated in log(bytes); beyond the ends, the nearest end's.
  double bandwidthFor(size_t bytes) const;
};

struct CostFigures {
  // Loopback TCP on one machine; 10 Gbit/s Ethernet between hosts; an AVX2 float sum.
  LinkCost intraHost{15.0, 1.0 / 2000};
  LinkCost interHost{25.0, 1.0 / 1250};
  double gammaUsPerByte = 1.0 / 4000;
  std::map<std::pair<CollectiveKind, AlgorithmId>, Scale> scales;  // absent: 1, 1
};

// "gccl-tune 1" then key=value lines (intra_alpha_us, intra_beta_us_per_byte, inter_alpha_us,
// inter_beta_us_per_byte, gamma_us_per_byte, scale.<collective>.<algorithm>=<latency>,
// <bandwidth>, and scale.<collective>.<algorithm>@<bytes>=<bandwidth> for Scale::bandwidthAt);
// '#' starts a comment. Missing keys keep the defaults; a malformed file throws
// Error(kInvalidArgument) naming the line.
CostFigures parseCostFigures(const std::string& text);
std::string formatCostFigures(const CostFigures& figures);

// What a prediction depends on besides the algorithm: the same on every rank.
struct CostInputs {
  int size = 1;
  size_t bytes = 0;       // the larger of one rank's input and output
  size_t sliceBytes = 0;  // GCCL_CHUNK_BYTES
  int hosts = 1;          // distinct hosts
  int ranksPerHost = 1;   // when uniform; else 0
  // The largest power of two D such that every rank's partner at each distance d < D (rank ^ d)
  // is on its own host: the exchanges of recursive doubling and halving-doubling that stay
  // within a host (8 for hosts of 8 consecutive ranks, 1 for ranks dealt round-robin).
  int sameHostDistance = 1;
  CostFigures figures;
};

// The closed form's two parts, unscaled: its alpha terms, and its beta and gamma terms.
struct CostParts {
  double latencyUs = 0;
  double bandwidthUs = 0;
};
std::optional<CostParts> predictParts(CollectiveKind collective, AlgorithmId algorithm,
                                      const CostInputs& inputs);

// Microseconds on the critical path (scaled), or nullopt for a pair the model does not know.
std::optional<double> predictMicros(CollectiveKind collective, AlgorithmId algorithm,
                                    const CostInputs& inputs);

}  // namespace gccl
