// What a bucket looks like on the wire. fp32 gradients may travel as float16 or bfloat16: the
// bucket is encoded once (optionally pre-divided by the rank count, so that loss-scaled sums
// stay in fp16's range), allreduced in the 16-bit type (each hop widens to fp32, adds and
// rounds once: reduce.h), and decoded back. Other types always travel as they are.
#pragma once

#include <cstddef>
#include <optional>

#include "base/dtype.h"
#include "fp16/codec.h"

namespace gccl {

enum class WireFormat { kNone, kFloat16, kBfloat16 };

// The half format a bucket of `type` is encoded to, or none when it travels as it is.
std::optional<HalfFormat> halfFormatFor(WireFormat wire, DataType type);

// The type a bucket of `type` is allreduced in.
DataType wireType(WireFormat wire, DataType type);

}  // namespace gccl
