// Who am I in the job, from whatever launched us: GCCL_* variables, torchrun, Open MPI or Slurm.
#pragma once

#include "base/config.h"
#include "bootstrap/unique_id.h"

namespace gccl {

struct LaunchInfo {
  int rank = 0;
  int size = 1;
  UniqueId id;
};

// The root port when no variable names one. torchrun's MASTER_PORT is taken by its own store,
// so gccl uses MASTER_PORT + 1 there.
inline constexpr int kDefaultRootPort = 29511;

// Pure: reads only `config` and `environment`. Throws Error(kInvalidArgument) naming the
// missing or inconsistent variables.
LaunchInfo resolveLaunch(const Config& config, const Environment& environment);

}  // namespace gccl
