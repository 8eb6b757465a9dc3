#include "sim_options.h"

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "byte_size.h"
#include "core/execution.h"

namespace gccl::sim {

namespace {

[[noreturn]] void usage(const char* problem) {
  if (problem != nullptr) std::fprintf(stderr, "simulate: %s\n", problem);
  std::fprintf(
      stderr,
      "usage: simulate [--collective "
      "allreduce|broadcast|reduce|allgather|reduce_scatter|alltoall]\n"
      "  [--algo NAME|all|auto] [--nranks N] [--ranks-per-host R] [--cores-per-host C]\n"
      "  [--alpha-us A] [--bandwidth-gbps B] [--intra-alpha-us A]\n"
      "  [--intra-bandwidth-gbps B] [--reduce-gbps G] [--intra-on-core 1|0] [--wakeup-us W]\n"
      "  [--chunk-bytes S] [--slots K] [--root R] [--in-place]\n"
      "  [-b minbytes] [-e maxbytes] [-f factor] [--json FILE]\n"
      "Times gccl's own schedules (every rank's, from the algorithm table) on a link\n"
      "model: alpha + bytes/bandwidth per message, queued per host NIC between hosts and\n"
      "per rank within one; reductions and copies at --reduce-gbps. Rates in Gbit/s.\n"
      "Sizes as nccl-tests count them (a rank's larger buffer; allgather and\n"
      "reduce_scatter ranks each contribute size/N), float32, K/M/G suffixes.\n"
      "--cores-per-host C below R stretches every rank's port and compute times by R/C,\n"
      "and each receive there completes --wakeup-us after its last byte;\n"
      "--intra-on-core 1 (the default) puts a rank's intra-host sends, receives and\n"
      "reductions on one resource, its core (loopback TCP); 0 gives each rank full-duplex\n"
      "ports and a separate compute resource. Defaults: perf/simulate/link_model.h.\n"
      "--algo all times every algorithm that supports the shape, then the selector's\n"
      "choice beside the fastest.\n");
  std::exit(2);
}

double parseNumber(const char* text, double min) {
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(value >= min)) usage("bad number");
  return value;
}

int parseCount(const char* text, int min, int max) {
  const double value = parseNumber(text, min);
  if (value > max || value != static_cast<int>(value)) usage("bad count");
  return static_cast<int>(value);
}

size_t parseBytes(const char* text) {
  const auto bytes = perf::parseByteSize(text);
  if (!bytes) usage("bad size (examples: 8, 4K, 64M, 1G)");
  return *bytes;
}

CollectiveKind parseCollective(std::string_view name) {
  if (name == "allreduce") return CollectiveKind::kAllreduce;
  if (name == "broadcast") return CollectiveKind::kBroadcast;
  if (name == "reduce") return CollectiveKind::kReduce;
  if (name == "allgather") return CollectiveKind::kAllgather;
  if (name == "reduce_scatter" || name == "reduce-scatter") return CollectiveKind::kReduceScatter;
  if (name == "alltoall") return CollectiveKind::kAllToAll;
  usage("bad collective");
}

constexpr double kGbit = 1e9 / 8;  // bytes/s per Gbit/s

}  // namespace

SimOptions parseSimOptions(int argc, char** argv) {
  SimOptions o;
  o.slotsPerPeer = kScratchSlotsPerPeer;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag(argv[i]);
    if (flag == "-h" || flag == "--help") usage(nullptr);
    if (flag == "--in-place") {
      o.inPlace = true;
      continue;
    }
    if (i + 1 >= argc) usage("missing value after a flag");
    const char* value = argv[++i];
    if (flag == "--collective")
      o.collective = parseCollective(value);
    else if (flag == "--algo")
      o.algo = value;
    else if (flag == "--nranks")
      o.nranks = parseCount(value, 1, 1 << 16);
    else if (flag == "--ranks-per-host")
      o.model.ranksPerHost = parseCount(value, 1, 1 << 16);
    else if (flag == "--cores-per-host")
      o.model.coresPerHost = parseCount(value, 0, 1 << 16);
    else if (flag == "--alpha-us")
      o.model.alpha = parseNumber(value, 0) * 1e-6;
    else if (flag == "--bandwidth-gbps")
      o.model.beta = parseNumber(value, 1e-9) * kGbit;
    else if (flag == "--intra-alpha-us")
      o.model.intraAlpha = parseNumber(value, 0) * 1e-6;
    else if (flag == "--intra-bandwidth-gbps")
      o.model.intraBeta = parseNumber(value, 1e-9) * kGbit;
    else if (flag == "--intra-on-core")
      o.model.intraOnCore = parseCount(value, 0, 1) == 1;
    else if (flag == "--wakeup-us")
      o.model.wakeup = parseNumber(value, 0) * 1e-6;
    else if (flag == "--reduce-gbps")
      o.model.gamma = parseNumber(value, 1e-9) * kGbit;
    else if (flag == "--chunk-bytes")
      o.chunkBytes = parseBytes(value);
    else if (flag == "--slots")
      o.slotsPerPeer = static_cast<size_t>(parseCount(value, 1, 1 << 20));
    else if (flag == "--root")
      o.root = parseCount(value, 0, 1 << 16);
    else if (flag == "-b")
      o.minBytes = parseBytes(value);
    else if (flag == "-e")
      o.maxBytes = parseBytes(value);
    else if (flag == "-f")
      o.factor = parseNumber(value, 0);
    else if (flag == "--json")
      o.jsonPath = value;
    else
      usage("unknown flag");
  }
  if (o.factor <= 1.0 && o.minBytes != o.maxBytes) usage("-f must be > 1");
  if (o.minBytes > o.maxBytes) usage("-b must be <= -e");
  if (o.root >= o.nranks) usage("--root must be a rank");
  if (o.chunkBytes < 4) usage("--chunk-bytes must hold an element");
  return o;
}

}  // namespace gccl::sim
