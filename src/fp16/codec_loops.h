// Shared by the vectorised codec files: how far a vector loop got and whether it wrote a
// non-finite value, and the selection of a loop instantiation from the runtime arguments.
#pragma once

#include <cstddef>

#include "fp16/codec.h"

namespace gccl::kernels {

struct CodecProgress {
  size_t done;     // elements handled
  bool nonFinite;  // any of them inf or NaN (only tracked when asked)
};

// Calls loop.template operator()<Lanes, kCheck>() with the lane traits of format and the
// finiteness check compiled in or out, so neither choice costs a branch per vector.
template <typename Float16Lanes, typename Bfloat16Lanes, typename Loop>
CodecProgress withFormat(HalfFormat format, bool check, Loop&& loop) {
  if (format == HalfFormat::kFloat16) {
    return check ? loop.template operator()<Float16Lanes, true>()
                 : loop.template operator()<Float16Lanes, false>();
  }
  return check ? loop.template operator()<Bfloat16Lanes, true>()
               : loop.template operator()<Bfloat16Lanes, false>();
}

}  // namespace gccl::kernels
