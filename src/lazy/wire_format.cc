#include "lazy/wire_format.h"

namespace gccl {

std::optional<HalfFormat> halfFormatFor(WireFormat wire, DataType type) {
  if (type != DataType::kFloat32) return std::nullopt;
  switch (wire) {
    case WireFormat::kFloat16: return HalfFormat::kFloat16;
    case WireFormat::kBfloat16: return HalfFormat::kBfloat16;
    case WireFormat::kNone: break;
  }
  return std::nullopt;
}

DataType wireType(WireFormat wire, DataType type) {
  const auto half = halfFormatFor(wire, type);
  if (!half) return type;
  return *half == HalfFormat::kFloat16 ? DataType::kFloat16 : DataType::kBfloat16;
}

}  // namespace gccl
