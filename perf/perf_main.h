// The main of every <collective>_perf tool: parse, then run the sweep as --np local ranks or as
// one rank of a job that mpirun/torchrun/GCCL_* variables describe.
#pragma once

#include "collective.h"

namespace gccl::perf {

int perfMain(const CollectiveSpec& spec, int argc, char** argv);

}  // namespace gccl::perf
