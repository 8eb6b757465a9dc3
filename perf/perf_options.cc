#include "perf_options.h"

#include "algorithms/registry.h"
#include "buffer_space.h"
#include "byte_size.h"
#include "collective.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace gccl::perf {

namespace {

const char* const kTypeNames[] = {"int8",   "uint8",   "int32",    "uint32",  "int64",
                                  "uint64", "float16", "bfloat16", "float32", "float64"};
const char* const kOpNames[] = {"sum", "prod", "min", "max", "avg"};
const char* const kBadSize = "bad size (examples: 8, 4K, 64M, 1G)";

// "auto" and every name in gccl's algorithm table, which is what GCCL_ALGO accepts.
std::string algorithmNames() {
  std::string names = "auto";
  for (const Algorithm& algorithm : algorithms()) {
    if (names.find(algorithm.name) == std::string::npos)
      names += ", " + std::string(algorithm.name);
  }
  return names;
}

std::optional<std::string> knownAlgorithm(std::string_view name) {
  if (name == "auto") return std::string(name);
  for (const Algorithm& algorithm : algorithms()) {
    if (algorithm.name == name) return std::string(name);
  }
  return std::nullopt;
}

// -a's value: one name, or several to take in turn (PerfOptions::algorithmsInTurn), each known,
// none twice, and each an algorithm of this collective (one name alone may be another's:
// GCCL_ALGO serves every collective, and one without it runs its automatic choice). Returns
// the problem, if any.
std::optional<std::string> parseAlgorithms(const CollectiveSpec& spec, std::string_view value,
                                           PerfOptions& options) {
  std::vector<std::string> names;
  for (size_t start = 0;;) {
    const size_t comma = value.find(',', start);
    const std::string_view text = value.substr(start, comma - start);
    const std::optional<std::string> name = knownAlgorithm(text);
    if (!name) return "unknown algorithm " + std::string(text) + " (see -h)";
    if (std::find(names.begin(), names.end(), *name) != names.end()) {
      return *name + " is named twice";
    }
    names.push_back(*name);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  for (const std::string& name : names) {
    if (names.size() > 1 && !hasVariant(spec, name)) {
      return std::string(spec.name) + " has no " + name + " algorithm to take a turn";
    }
  }
  options.algorithm = names.size() == 1 ? names.front() : "";
  options.algorithmsInTurn = names.size() > 1 ? names : std::vector<std::string>{};
  return std::nullopt;
}

// Asked for (-h): on stdout, exit 0. After a bad argument: on stderr, exit 2.
[[noreturn]] void usage(const CollectiveSpec& spec, const char* problem) {
  if (problem != nullptr) std::fprintf(stderr, "%s: %s\n", spec.tool, problem);
  std::fprintf(problem != nullptr ? stderr : stdout,
               "usage: %s [-b minbytes] [-e maxbytes] [-f factor] [-n iters]\n"
               "         [-w warmup] [-c 0|1] [-R 0|1] [-d dtype]%s%s [-a algo] [--np N]\n"
               "         [--bind cpus|none] [--device host|cuda|standin] [--json FILE]\n"
               "         [--timeout SECONDS]\n"
               "         [--print-config] [--corrupt-rank R]\n"
               "  sizes take K/M/G suffixes; dtype: int8 uint8 int32 uint32 int64 uint64\n"
               "  float16 bfloat16 float32 float64%s.\n"
               "  -a/--algo sets GCCL_ALGO for the ranks: %s.\n"
               "  -a A,B,... times several in one launch, each on its own communicator, their\n"
               "  calls taken in turn: a row per size and algorithm.\n"
               "  Without --np, runs one rank per process under mpirun/torchrun/GCCL_* variables\n"
               "  when they are set, else starts 2 local ranks.\n"
               "  With --np, --bind cpus (the default) pins each rank to its own block of the\n"
               "  CPUs this process may use (one CPU each, round robin, with more ranks than\n"
               "  CPUs), so that launches place their ranks alike; none leaves them to the\n"
               "  scheduler.\n"
               "  #wrong counts rank %s's output; every rank checks its own and exits non-zero on\n"
               "  any wrong element. --corrupt-rank R flips a bit of rank R's checked output\n"
               "  (a test of the checker).\n"
               "  -R 1 takes the host buffers from gcclMemAlloc: ranks of one machine then read\n"
               "  each other's buffers in place (zero-copy over shm).\n"
               "  --device cuda puts the buffers in GPU memory (rank r on device r %% devices;\n"
               "  results checked on the host); standin in the host stand-in GPU, which runs\n"
               "  the same staging path without one.\n"
               "  allreduce_perf --tune FILE --np N calibrates the cost model on this machine\n"
               "  and writes FILE for GCCL_TUNE_FILE (docs/tuning.md).\n",
               spec.tool, spec.reduces ? " [-o op]" : "", spec.rooted ? " [-r root]" : "",
               spec.reduces ? "; op: sum prod min max avg" : "", algorithmNames().c_str(),
               spec.rooted ? "root" : "0");
  std::exit(problem != nullptr ? 2 : 0);
}

std::optional<int> parseInt(const char* text, int min) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < min || value > 1000000000) return std::nullopt;
  return static_cast<int>(value);
}

template <typename Enum, size_t N>
std::optional<Enum> parseName(const char* text, const char* const (&names)[N]) {
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
  return std::nullopt;
}

// A parsed value, or the usage with `problem`.
template <typename T>
T orUsage(const CollectiveSpec& spec, std::optional<T> value, const char* problem) {
  if (!value) usage(spec, problem);
  return *value;
}

}  // namespace

const char* dataTypeName(gcclDataType_t type) {
  return kTypeNames[type];
}
const char* opName(gcclRedOp_t op) {
  return kOpNames[op];
}

bool hasVariant(const CollectiveSpec& spec, std::string_view name) {
  if (name == "auto") return true;
  for (const Algorithm& algorithm : algorithms()) {
    if (algorithm.collective == spec.kind && algorithm.name == name) return true;
  }
  return false;
}

PerfOptions parsePerfOptions(const CollectiveSpec& spec, int argc, char** argv) {
  PerfOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag(argv[i]);
    if (flag == "--print-config") {
      options.printConfig = true;
      continue;
    }
    if (flag == "-h" || flag == "--help") usage(spec, nullptr);
    if (i + 1 >= argc) usage(spec, "missing value after a flag");
    const char* value = argv[++i];
    auto number = [&](int min) { return orUsage(spec, parseInt(value, min), "bad number"); };
    if (flag == "-b")
      options.minBytes = orUsage(spec, parseByteSize(value), kBadSize);
    else if (flag == "-e")
      options.maxBytes = orUsage(spec, parseByteSize(value), kBadSize);
    else if (flag == "-f")
      options.factor = std::strtod(value, nullptr);
    else if (flag == "-n")
      options.iterations = number(1);
    else if (flag == "-w")
      options.warmup = number(0);
    else if (flag == "-c")
      options.check = number(0) != 0;
    else if (flag == "-R")
      options.sharedBuffers = number(0) != 0;
    else if (flag == "-d")
      options.dataType = orUsage(spec, parseName<gcclDataType_t>(value, kTypeNames), "bad dtype");
    else if (flag == "-o" && spec.reduces)
      options.op = orUsage(spec, parseName<gcclRedOp_t>(value, kOpNames), "bad op");
    else if (flag == "-r" && spec.rooted)
      options.root = number(0);
    else if (flag == "-a" || flag == "--algo") {
      if (const auto problem = parseAlgorithms(spec, value, options)) usage(spec, problem->c_str());
    } else if (flag == "--np")
      options.localRanks = number(1);
    else if (flag == "--bind")
      options.binding =
          orUsage(spec, cpu_binding::parseBinding(value), "--bind takes cpus or none");
    else if (flag == "--json")
      options.jsonPath = value;
    else if (flag == "--tune" && std::string_view(spec.tool) == "allreduce_perf")
      options.tunePath = value;
    else if (flag == "--timeout")
      options.timeoutSeconds = number(1);
    else if (flag == "--corrupt-rank")
      options.corruptRank = number(0);
    else if (flag == "--device")
      options.device = isDeviceName(value) ? value : "";
    else
      usage(spec, ("unknown flag " + std::string(flag)).c_str());
  }
  if (options.device.empty()) usage(spec, "--device takes host, cuda or standin");
  if (options.factor <= 1.0 && options.minBytes != options.maxBytes) usage(spec, "-f must be > 1");
  if (options.minBytes > options.maxBytes) usage(spec, "-b must be <= -e");
  // Under a launcher the rank count is known only at init, where gccl refuses such a root.
  if (options.root >= options.localRanks.value_or(options.root + 1))
    usage(spec, "-r must be < --np");
  if (!options.tunePath.empty() &&
      (!options.algorithm.empty() || !options.algorithmsInTurn.empty()))
    usage(spec, "--tune times every algorithm: -a does not apply");
  return options;
}

}  // namespace gccl::perf
