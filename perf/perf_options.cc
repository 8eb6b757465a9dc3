#include "perf_options.h"

#include "byte_size.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace gccl::perf {

namespace {

const char* const kTypeNames[] = {"int8",   "uint8",   "int32",    "uint32",  "int64",
                                  "uint64", "float16", "bfloat16", "float32", "float64"};
const char* const kOpNames[] = {"sum", "prod", "min", "max", "avg"};

[[noreturn]] void usage(const char* problem) {
  if (problem != nullptr) std::fprintf(stderr, "allreduce_perf: %s\n", problem);
  std::fprintf(stderr,
               "usage: allreduce_perf [-b minbytes] [-e maxbytes] [-f factor] [-n iters]\n"
               "         [-w warmup] [-c 0|1] [-d dtype] [-o op] [--np N] [--json FILE]\n"
               "         [--timeout SECONDS] [--print-config] [--corrupt-rank R]\n"
               "  sizes take K/M/G suffixes; dtype: int8 uint8 int32 uint32 int64 uint64\n"
               "  float16 bfloat16 float32 float64; op: sum prod min max avg.\n"
               "  Without --np, runs one rank per process under mpirun/torchrun/GCCL_* variables\n"
               "  when they are set, else starts 2 local ranks.\n"
               "  #wrong counts rank 0's output; every rank checks its own and exits non-zero on\n"
               "  any wrong element. --corrupt-rank R flips a bit of rank R's checked output\n"
               "  (a test of the checker).\n");
  std::exit(2);
}

size_t parseBytes(const char* text) {
  const auto bytes = parseByteSize(text);
  if (!bytes) usage("bad size (examples: 8, 4K, 64M, 1G)");
  return *bytes;
}

int parseInt(const char* text, int min) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < min || value > 1000000000) usage("bad number");
  return static_cast<int>(value);
}

template <typename Enum, size_t N>
Enum parseName(const char* text, const char* const (&names)[N], const char* what) {
  std::string_view name(text);
  if (name == "float" || name == "half" || name == "double" || name == "bf16") {
    name = name == "float"    ? "float32"
           : name == "half"   ? "float16"
           : name == "double" ? "float64"
                              : "bfloat16";
  }
  for (size_t i = 0; i < N; ++i) {
    if (name == names[i]) return static_cast<Enum>(i);
  }
  usage(what);
}

}  // namespace

const char* dataTypeName(gcclDataType_t type) {
  return kTypeNames[type];
}
const char* opName(gcclRedOp_t op) {
  return kOpNames[op];
}

PerfOptions parsePerfOptions(int argc, char** argv) {
  PerfOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag(argv[i]);
    if (flag == "--print-config") {
      options.printConfig = true;
      continue;
    }
    if (flag == "-h" || flag == "--help") usage(nullptr);
    if (i + 1 >= argc) usage("missing value after a flag");
    const char* value = argv[++i];
    if (flag == "-b")
      options.minBytes = parseBytes(value);
    else if (flag == "-e")
      options.maxBytes = parseBytes(value);
    else if (flag == "-f")
      options.factor = std::strtod(value, nullptr);
    else if (flag == "-n")
      options.iterations = parseInt(value, 1);
    else if (flag == "-w")
      options.warmup = parseInt(value, 0);
    else if (flag == "-c")
      options.check = parseInt(value, 0) != 0;
    else if (flag == "-d")
      options.dataType = parseName<gcclDataType_t>(value, kTypeNames, "bad dtype");
    else if (flag == "-o")
      options.op = parseName<gcclRedOp_t>(value, kOpNames, "bad op");
    else if (flag == "--np")
      options.localRanks = parseInt(value, 1);
    else if (flag == "--json")
      options.jsonPath = value;
    else if (flag == "--timeout")
      options.timeoutSeconds = parseInt(value, 1);
    else if (flag == "--corrupt-rank")
      options.corruptRank = parseInt(value, 0);
    else
      usage("unknown flag");
  }
  if (options.factor <= 1.0 && options.minBytes != options.maxBytes) usage("-f must be > 1");
  if (options.minBytes > options.maxBytes) usage("-b must be <= -e");
  return options;
}

}  // namespace gccl::perf
