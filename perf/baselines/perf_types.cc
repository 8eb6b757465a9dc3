#include "perf_types.h"

namespace baselines {

std::optional<DType> parseDType(const std::string& name) {
  if (name == "float32" || name == "float") return DType::kFloat32;
  if (name == "float64" || name == "double") return DType::kFloat64;
  if (name == "int32" || name == "int") return DType::kInt32;
  return std::nullopt;
}

std::optional<Op> parseOp(const std::string& name) {
  if (name == "sum") return Op::kSum;
  if (name == "prod") return Op::kProd;
  if (name == "min") return Op::kMin;
  if (name == "max") return Op::kMax;
  return std::nullopt;
}

const char* dtypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt32: return "int32";
  }
  return "?";
}

const char* opName(Op op) {
  switch (op) {
    case Op::kSum: return "sum";
    case Op::kProd: return "prod";
    case Op::kMin: return "min";
    case Op::kMax: return "max";
  }
  return "?";
}

}  // namespace baselines
