#include "perf_args.h"

#include "../byte_size.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>

namespace baselines {
namespace {

const char* kUsage =
    "usage: %s [-b MINBYTES] [-e MAXBYTES] [-f FACTOR] [-n ITERS] [-w WARMUP]\n"
    "          [-c 0|1] [-d float32|float64|int32] [-o sum|prod|min|max] [--json FILE]\n"
    "%s";
const char* kCollectiveUsage =
    "          [--collective allreduce|broadcast|reduce|allgather|reduce_scatter|alltoall]\n"
    "          [-r ROOT]\n";
const char* kGlooUsage =
    "          [--algo NAME|all] [--np N] [--bind cpus|none] [--timeout SEC]\n"
    "          (allreduce: ring_chunked halving_doubling bcube; broadcast: binomial_tree;\n"
    "           reduce, allgather: ring; reduce_scatter: halving_doubling;\n"
    "           alltoall: pairwise)\n";
const char* kMpiUsage = "          [--transport-label NAME]   (run under mpirun)\n";
const char* kStreamUsage =
    "          [--np N] [--bind cpus|none] [--timeout SEC] [--congestion auto|system|NAME]\n";

const char* toolUsage(Tool tool) {
  switch (tool) {
    case Tool::kGloo: return kGlooUsage;
    case Tool::kMpi: return kMpiUsage;
    case Tool::kStream: break;
  }
  return kStreamUsage;
}

using Setter = std::function<bool(PerfArgs&, const std::string&)>;

// A flag's setter: parse the value, store it in `field` when it parsed.
template <typename Field, typename Parse>
Setter setParsed(Field PerfArgs::*field, Parse parse) {
  return [=](PerfArgs& args, const std::string& text) {
    auto value = parse(text);
    if (value) args.*field = static_cast<Field>(*value);
    return value.has_value();
  };
}

auto intAtLeast(long min) {
  return [=](const std::string& text) -> std::optional<long> {
    char* end = nullptr;
    const long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || v < min) return std::nullopt;
    return v;
  };
}

std::optional<double> parseDouble(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') return std::nullopt;
  return v;
}

std::optional<bool> parseZeroOne(const std::string& text) {
  if (text != "0" && text != "1") return std::nullopt;
  return text == "1";
}

std::optional<std::string> anyText(const std::string& text) {
  return text;
}

std::map<std::string, Setter> settersFor(Tool tool) {
  std::map<std::string, Setter> s = {
      {"-b", setParsed(&PerfArgs::minBytes, parseSize)},
      {"-e", setParsed(&PerfArgs::maxBytes, parseSize)},
      {"-f", setParsed(&PerfArgs::factor, parseDouble)},
      {"-n", setParsed(&PerfArgs::iters, intAtLeast(1))},
      {"-w", setParsed(&PerfArgs::warmup, intAtLeast(0))},
      {"-c", setParsed(&PerfArgs::check, parseZeroOne)},
      {"-d", setParsed(&PerfArgs::dtype, parseDType)},
      {"-o", setParsed(&PerfArgs::op, parseOp)},
      {"--json", setParsed(&PerfArgs::json, anyText)},
  };
  if (tool == Tool::kMpi) {
    s["--transport-label"] = setParsed(&PerfArgs::transportLabel, anyText);
  }
  if (tool != Tool::kStream) {
    s["--collective"] = setParsed(&PerfArgs::collective, parseCollective);
    s["-r"] = setParsed(&PerfArgs::root, intAtLeast(0));
  }
  if (tool != Tool::kMpi) {
    s["--np"] = setParsed(&PerfArgs::np, intAtLeast(1));
    s["--timeout"] = setParsed(&PerfArgs::timeoutSec, intAtLeast(1));
    s["--bind"] = setParsed(&PerfArgs::binding, cpu_binding::parseBinding);
  }
  if (tool == Tool::kGloo) s["--algo"] = setParsed(&PerfArgs::algo, anyText);
  if (tool == Tool::kStream) s["--congestion"] = setParsed(&PerfArgs::congestion, anyText);
  return s;
}

}  // namespace

std::optional<size_t> parseSize(const std::string& text) {
  return gccl::perf::parseByteSize(text);
}

std::vector<size_t> sweepSizes(const PerfArgs& args) {
  std::vector<size_t> sizes;
  const double maxBytes = static_cast<double>(args.maxBytes);
  for (double size = static_cast<double>(args.minBytes);;) {
    sizes.push_back(static_cast<size_t>(size));
    if (size >= maxBytes || args.factor <= 1.0) break;
    size = std::min(size * args.factor, maxBytes);
  }
  return sizes;
}

std::optional<PerfArgs> parseArgs(int argc, char** argv, Tool tool) {
  PerfArgs args;
  const auto setters = settersFor(tool);
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto it = setters.find(flag);
    if (it == setters.end() || i + 1 >= argc) {
      if (flag != "-h" && flag != "--help") std::fprintf(stderr, "bad argument: %s\n", argv[i]);
      std::fprintf(stderr, kUsage, argv[0], tool == Tool::kStream ? "" : kCollectiveUsage);
      std::fputs(toolUsage(tool), stderr);
      return std::nullopt;
    }
    if (!it->second(args, argv[++i])) {
      std::fprintf(stderr, "bad value for %s: %s\n", flag.c_str(), argv[i]);
      return std::nullopt;
    }
  }
  if (args.minBytes > args.maxBytes) {
    std::fprintf(stderr, "-b must not exceed -e\n");
    return std::nullopt;
  }
  if (args.factor <= 1.0 && args.minBytes != args.maxBytes) {
    std::fprintf(stderr, "-f must be > 1\n");
    return std::nullopt;
  }
  return args;
}

}  // namespace baselines
