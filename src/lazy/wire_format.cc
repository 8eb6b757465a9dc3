#include "lazy/wire_format.h"

#include <cstdint>
#include <cstring>

namespace gccl {

namespace {

// Any element whose exponent bits (`mask`) are all ones: inf or NaN in every IEEE-like format.
template <typename Bits>
bool anyExponentAllOnes(const void* data, size_t count, Bits mask) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  bool found = false;
  for (size_t i = 0; i < count; ++i) {
    Bits bits;
    std::memcpy(&bits, bytes + i * sizeof(Bits), sizeof bits);  // the pool may be unaligned
    found |= (bits & mask) == mask;  // no early exit: the loop vectorises
  }
  return found;
}

}  // namespace

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

bool hasNonFinite(DataType type, const void* data, size_t count) {
  switch (type) {
    case DataType::kFloat16: return anyExponentAllOnes<uint16_t>(data, count, 0x7c00u);
    case DataType::kBfloat16: return anyExponentAllOnes<uint16_t>(data, count, 0x7f80u);
    case DataType::kFloat32: return anyExponentAllOnes<uint32_t>(data, count, 0x7f800000u);
    case DataType::kFloat64:
      return anyExponentAllOnes<uint64_t>(data, count, uint64_t{0x7ff0000000000000u});
    default: return false;
  }
}

}  // namespace gccl
