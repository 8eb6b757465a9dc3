// simulate's command line: the collective, the algorithms, the machine (link_model.h) and an
// nccl-tests style size sweep.
#pragma once

#include <cstddef>
#include <string>

#include "base/collective.h"
#include "link_model.h"

namespace gccl::sim {

struct SimOptions {
  CollectiveKind collective = CollectiveKind::kAllreduce;
  std::string algo = "all";  // a name, "all" (every one that supports the shape) or "auto"
  int nranks = 8;
  LinkModel model;
  size_t chunkBytes = size_t{1} << 20;  // GCCL_CHUNK_BYTES' default
  size_t minBytes = 8;
  size_t maxBytes = size_t{64} << 20;
  double factor = 4.0;
  size_t slotsPerPeer = 4;  // the engine's kScratchSlotsPerPeer
  int root = 0;
  bool inPlace = false;
  std::string jsonPath;
};

// Parses argv; on bad input prints the problem and the usage, and exits with status 2.
SimOptions parseSimOptions(int argc, char** argv);

}  // namespace gccl::sim
