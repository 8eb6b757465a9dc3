#include "perf_report.h"

#include "../table_header.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace baselines {
namespace {

// The upper median for an even count, as gccl's allreduce_perf takes it.
double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

void jsonTiming(FILE* f, const char* key, const Timing& t) {
  std::fprintf(f, "\"%s\":{\"time_us\":%.3f,\"algbw\":%.6f,\"busbw\":%.6f,\"wrong\":%lld}", key,
               t.timeUs, t.algbw, t.busbw, static_cast<long long>(t.wrong));
}

const char* opColumn(const RunInfo& info) {
  return reduces(info.collective) ? opName(info.op) : "none";
}

void jsonRun(FILE* f, const Run& run) {
  const RunInfo& i = run.info;
  std::fprintf(f, "{\"library\":\"%s\",", i.library.c_str());
  if (i.collective != Collective::kAllreduce) {
    std::fprintf(f, "\"collective\":\"%s\",", collectiveName(i.collective));
  }
  std::fprintf(
      f, "\"algorithm\":\"%s\",\"transport\":\"%s\",\"nranks\":%d,\"dtype\":\"%s\",\"op\":\"%s\",",
      i.algorithm.c_str(), i.transport.c_str(), i.nranks, dtypeName(i.dtype), opColumn(i));
  if (rooted(i.collective)) std::fprintf(f, "\"root\":%d,", i.root);
  std::fprintf(f, "\"results\":[");
  for (size_t k = 0; k < run.results.size(); ++k) {
    const SizeResult& r = run.results[k];
    std::fprintf(f, "%s\n  {\"bytes\":%zu,\"count\":%zu,", k ? "," : "", r.bytes, r.count);
    jsonTiming(f, "oop", r.oop);
    std::fputc(',', f);
    jsonTiming(f, "ip", r.ip);
    std::fputc('}', f);
  }
  std::fprintf(f, "]}");
}

}  // namespace

Timing makeTiming(Collective c, size_t bytes, int nranks, std::vector<double> iterTimesUs,
                  int64_t wrong) {
  Timing t;
  t.timeUs = median(std::move(iterTimesUs));
  t.algbw = t.timeUs > 0 ? bytes / (t.timeUs * 1e3) : 0;  // B/us / 1e3 = GB/s
  t.busbw = busBw(c, t.algbw, nranks);
  t.wrong = wrong;
  return t;
}

// The formats below are those of gccl's perf tools (perf/report.cc), so tables line up.
void printHeader(const RunInfo& i) {
  const std::string op = reduces(i.collective) ? std::string(", op ") + opName(i.op) : "";
  const std::string root = rooted(i.collective) ? ", root " + std::to_string(i.root) : "";
  std::printf("# %s %s: nranks %d, dtype %s%s%s, algo %s, iters %d, warmup %d, check %d%s\n",
              i.library.c_str(), toolName(i.collective), i.nranks, dtypeName(i.dtype), op.c_str(),
              root.c_str(), i.algorithm.c_str(), i.iters, i.warmup, i.check ? 1 : 0,
              i.note.c_str());
  gccl::perf::printColumnHeaders();
}

void printRow(const RunInfo& info, const SizeResult& r) {
  std::printf(" %11zu %12zu %8s %6s", r.bytes, r.count, dtypeName(info.dtype), opColumn(info));
  for (const Timing* t : {&r.oop, &r.ip}) {
    std::printf(" %8.2f %8.3f %8.3f %7lld", t->timeUs, t->algbw, t->busbw,
                static_cast<long long>(t->wrong));
  }
  std::printf("\n");
  std::fflush(stdout);  // progress stays visible when a later size hangs
}

// As nccl-tests: the mean busbw over every row, out-of-place and in-place alike.
void printFooter(const std::vector<SizeResult>& results) {
  double sum = 0;
  int64_t wrong = 0;
  for (const SizeResult& r : results) {
    sum += (r.oop.busbw + r.ip.busbw) / 2;
    wrong += r.oop.wrong + r.ip.wrong;
  }
  std::printf("# Out of bounds values : %lld %s\n", static_cast<long long>(wrong),
              wrong == 0 ? "OK" : "FAILED");
  std::printf("# Avg bus bandwidth    : %.4f\n", results.empty() ? 0.0 : sum / results.size());
  std::fflush(stdout);
}

bool writeJson(const std::string& path, const std::vector<Run>& runs) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  if (runs.size() != 1) std::fputc('[', f);
  for (size_t k = 0; k < runs.size(); ++k) {
    if (k) std::fprintf(f, ",\n");
    jsonRun(f, runs[k]);
  }
  if (runs.size() != 1) std::fputc(']', f);
  std::fputc('\n', f);
  return std::fclose(f) == 0;
}

}  // namespace baselines
