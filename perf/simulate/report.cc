#include "report.h"

#include <cstdio>

namespace gccl::sim {

namespace {

std::string collectiveLabel(CollectiveKind collective) {
  return collective == CollectiveKind::kReduceScatter ? "reduce_scatter"
                                                      : std::string(collectiveName(collective));
}

}  // namespace

double busFactor(CollectiveKind collective, int nranks) {
  const double n = nranks;
  switch (collective) {
    case CollectiveKind::kAllreduce: return 2 * (n - 1) / n;
    case CollectiveKind::kAllgather:
    case CollectiveKind::kReduceScatter:
    case CollectiveKind::kAllToAll: return (n - 1) / n;
    default: return 1.0;
  }
}

void printModel(const SimOptions& o) {
  const LinkModel& m = o.model;
  const int hosts = (o.nranks + m.ranksPerHost - 1) / m.ranksPerHost;
  std::printf("# gccl simulate: %s, %d ranks on %d host%s of %d, float32, chunk %zu B, %s\n",
              collectiveLabel(o.collective).c_str(), o.nranks, hosts, hosts == 1 ? "" : "s",
              m.ranksPerHost, o.chunkBytes, o.inPlace ? "in place" : "out of place");
  std::printf(
      "# between hosts: %.2f us + bytes / %.1f Gbit/s (%.2f GB/s) per host NIC and direction\n",
      m.alpha * 1e6, m.beta * 8 / 1e9, m.beta / 1e9);
  std::printf(
      "# within a host: %.2f us + bytes / %.1f Gbit/s (%.2f GB/s) %s\n", m.intraAlpha * 1e6,
      m.intraBeta * 8 / 1e9, m.intraBeta / 1e9,
      m.intraOnCore ? "per rank, one way at a time (its core copies)" : "per rank and direction");
  std::printf("# reduce/copy: %.1f Gbit/s (%.2f GB/s) per rank; %zu scratch slots per peer%s\n",
              m.gamma * 8 / 1e9, m.gamma / 1e9, o.slotsPerPeer,
              m.intraOnCore ? "; reductions on the same core" : "");
  if (m.coresPerHost > 0 && m.coresPerHost < m.ranksPerHost) {
    std::printf("# %d cores per host: port and compute times x %.2f, %.2f us wakeup per receive\n",
                m.coresPerHost, double(m.ranksPerHost) / m.coresPerHost, m.wakeup * 1e6);
  }
}

void printTableHeader(const std::string& algo) {
  std::printf("#\n# algorithm %s\n", algo.c_str());
  std::printf("#%11s %12s %12s %9s %9s %12s %12s %8s\n", "size", "count", "time", "algbw", "busbw",
              "steps", "events", "sim");
  std::printf("#%11s %12s %12s %9s %9s %12s %12s %8s\n", "(B)", "(elements)", "(us)", "(GB/s)",
              "(GB/s)", "", "", "(s)");
}

void printRow(const SimRow& r) {
  std::printf(" %11zu %12zu %12.2f %9.3f %9.3f %12llu %12llu %8.2f", r.bytes, r.count, r.timeUs,
              r.algbw, r.busbw, static_cast<unsigned long long>(r.result.steps),
              static_cast<unsigned long long>(r.result.events), r.wallSeconds);
  if (r.selected != r.algo) std::printf("  (runs %s)", r.selected.c_str());
  std::printf("\n");
  std::fflush(stdout);
}

void printSkipped(size_t bytes, size_t count, const std::string& runs) {
  std::printf(" %11zu %12zu   (the engine runs %s at this size)\n", bytes, count, runs.c_str());
  std::fflush(stdout);
}

void printSelectorHeader() {
  std::printf(
      "#\n# selector: selectAlgorithm(collective, \"auto\", shape, costs of this model) and the "
      "fastest "
      "simulated\n");
  std::printf("#%11s %20s %12s %9s %20s %12s %9s\n", "size", "auto picks", "time", "busbw",
              "fastest", "time", "auto/best");
  std::printf("#%11s %20s %12s %9s %20s %12s %9s\n", "(B)", "", "(us)", "(GB/s)", "", "(us)", "");
}

void printSelectorRow(const SimRow& chosen, const SimRow* fastest) {
  if (fastest == nullptr) fastest = &chosen;
  std::printf(" %11zu %20s %12.2f %9.3f %20s %12.2f %9.2f\n", chosen.bytes, chosen.selected.c_str(),
              chosen.timeUs, chosen.busbw, fastest->selected.c_str(), fastest->timeUs,
              fastest->timeUs > 0 ? chosen.timeUs / fastest->timeUs : 1.0);
  std::fflush(stdout);
}

bool writeJson(const std::string& path, const SimOptions& options,
               const std::vector<SimRow>& rows) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) {
    std::perror(path.c_str());
    return false;
  }
  const std::string collective = collectiveLabel(options.collective);
  std::fprintf(file, "{\"results\":[");
  for (size_t i = 0; i < rows.size(); ++i) {
    const SimRow& r = rows[i];
    std::fprintf(file,
                 "%s\n{\"collective\":\"%s\",\"algo\":\"%s\",\"nranks\":%d,\"bytes\":%zu,"
                 "\"time_us\":%.3f,\"busbw\":%.6f",
                 i == 0 ? "" : ",", collective.c_str(), r.algo.c_str(), options.nranks, r.bytes,
                 r.timeUs, r.busbw);
    if (r.algo != r.selected) std::fprintf(file, ",\"selected\":\"%s\"", r.selected.c_str());
    std::fprintf(file, "}");
  }
  std::fprintf(file, "\n]}\n");
  return std::fclose(file) == 0;
}

}  // namespace gccl::sim
