#include "report.h"

#include <cstdio>
#include <string>

#include "table_header.h"
#include "turns.h"

namespace gccl::perf {

namespace {

const char* opColumn(const CollectiveSpec& spec, const PerfOptions& options) {
  return spec.reduces ? opName(options.op) : "none";
}

// GCCL_ALGO names an algorithm of any collective and a collective without one of that name
// takes its automatic choice (algorithms/registry.h): say so rather than suggest it ran.
std::string variantNote(const CollectiveSpec& spec, const std::string& requested) {
  if (hasVariant(spec, requested)) return "";
  return " (no " + std::string(spec.name) + " variant: automatic choice)";
}

std::string algorithmNote(const CollectiveSpec& spec, const std::string& requested) {
  return requested.empty() ? "" : ", algo " + requested + variantNote(spec, requested);
}

}  // namespace

void printHeader(const CollectiveSpec& spec, const PerfOptions& options, int nranks) {
  const std::string op = spec.reduces ? std::string(", op ") + opName(options.op) : "";
  const std::string root = spec.rooted ? ", root " + std::to_string(options.root) : "";
  std::printf("# gccl %s: nranks %d, dtype %s%s%s, iters %d, warmup %d, check %d%s\n", spec.tool,
              nranks, dataTypeName(options.dataType), op.c_str(), root.c_str(), options.iterations,
              options.warmup, options.check ? 1 : 0,
              algorithmNote(spec, options.algorithm).c_str());
  if (!options.algorithmsInTurn.empty()) {
    std::string names;
    for (const std::string& name : options.algorithmsInTurn) {
      names += (names.empty() ? "" : ", ") + name;
    }
    std::printf(
        "# Algorithms %s in turn: each on its own communicator, their calls in blocks\n"
        "# of %zu rounds, each block after an untimed call (perf/turns.h); a row per size\n"
        "# and algorithm.\n",
        names.c_str(), kTurnRounds);
  }
  std::printf(
      "# #wrong: wrong elements in rank %d's output. Every rank checks its own, names any wrong\n"
      "# size on stderr and exits non-zero; --np sums all ranks' counts at the end.\n",
      reportingRank(spec, options));
  if (spec.kind == CollectiveKind::kReduce) {
    std::printf("# Only the root's output is defined, so only the root checks.\n");
  }
  if (options.device != "host") {
    std::printf("# Buffers in %s device memory, staged by gccl; checked on the host.\n",
                options.device.c_str());
  }
  if (options.sharedBuffers) {
    std::printf("# Host buffers from gcclMemAlloc (-R 1): shm peers read them zero-copy.\n");
  }
  printColumnHeaders(!options.algorithmsInTurn.empty());
}

namespace {

// Unchecked (-c 0) rows say N/A, as nccl-tests' do: a 0 would read as a clean check.
std::string wrongColumn(const PerfOptions& options, size_t wrong) {
  return options.check ? std::to_string(wrong) : "N/A";
}

}  // namespace

void printRow(const CollectiveSpec& spec, const PerfOptions& options, const SizeResult& r) {
  std::printf(" %11zu %12zu %8s %6s %8.2f %8.3f %8.3f %7s %8.2f %8.3f %8.3f %7s%s%s\n", r.bytes,
              r.count, dataTypeName(options.dataType), opColumn(spec, options), r.outOfPlace.timeUs,
              r.outOfPlace.algbw, r.outOfPlace.busbw,
              wrongColumn(options, r.outOfPlace.wrong).c_str(), r.inPlace.timeUs, r.inPlace.algbw,
              r.inPlace.busbw, wrongColumn(options, r.inPlace.wrong).c_str(),
              r.algorithm.empty() ? "" : " ", r.algorithm.c_str());
  std::fflush(stdout);
}

void printFooter(const CollectiveSpec& spec, const PerfOptions& options,
                 const std::vector<SizeResult>& results) {
  size_t wrong = 0;
  for (const SizeResult& r : results) wrong += r.outOfPlace.wrong + r.inPlace.wrong;
  if (options.check) {
    std::printf("# Out of bounds values : %zu %s (rank %d)\n", wrong, wrong == 0 ? "OK" : "FAILED",
                reportingRank(spec, options));
  } else {
    std::printf("# Out of bounds values : not checked (-c 0)\n");
  }
  // One average per algorithm in turn (their rows carry its name), else one for all.
  const std::vector<std::string> names =
      options.algorithmsInTurn.empty() ? std::vector<std::string>{""} : options.algorithmsInTurn;
  for (const std::string& name : names) {
    double sum = 0;
    size_t rows = 0;
    for (const SizeResult& r : results) {
      if (r.algorithm != name) continue;
      sum += (r.outOfPlace.busbw + r.inPlace.busbw) / 2;
      ++rows;
    }
    std::printf("# Avg bus bandwidth    : %.4f%s%s\n", rows == 0 ? 0.0 : sum / rows,
                name.empty() ? "" : " ", name.c_str());
  }
  std::fflush(stdout);
}

bool writeJson(const CollectiveSpec& spec, const PerfOptions& options, int nranks,
               const std::vector<SizeResult>& results) {
  FILE* file = std::fopen(options.jsonPath.c_str(), "w");
  if (file == nullptr) {
    std::perror(options.jsonPath.c_str());
    return false;
  }
  auto measurement = [&](const Measurement& m) {
    std::fprintf(file, "{\"time_us\":%.3f,\"algbw\":%.6f,\"busbw\":%.6f,\"wrong\":%s}", m.timeUs,
                 m.algbw, m.busbw, options.check ? std::to_string(m.wrong).c_str() : "null");
  };
  std::fprintf(file, "{\"library\":\"gccl\",");
  if (spec.kind != CollectiveKind::kAllreduce) {
    std::fprintf(file, "\"collective\":\"%s\",", spec.name);
  }
  if (!options.algorithm.empty()) {
    std::fprintf(file, "\"algorithm\":\"%s\",", options.algorithm.c_str());
  }
  if (!options.algorithmsInTurn.empty()) {
    std::fprintf(file, "\"algorithms_in_turn\":[");
    for (size_t i = 0; i < options.algorithmsInTurn.size(); ++i) {
      std::fprintf(file, "%s\"%s\"", i == 0 ? "" : ",", options.algorithmsInTurn[i].c_str());
    }
    std::fprintf(file, "],");
  }
  std::fprintf(file, "\"nranks\":%d,\"dtype\":\"%s\",\"op\":\"%s\",", nranks,
               dataTypeName(options.dataType), opColumn(spec, options));
  if (spec.rooted) std::fprintf(file, "\"root\":%d,", options.root);
  std::fprintf(file, "\"device\":\"%s\",\"checked\":%s,", options.device.c_str(),
               options.check ? "true" : "false");
  if (options.sharedBuffers) std::fprintf(file, "\"shared_buffers\":true,");
  std::fprintf(file, "\"results\":[");
  for (size_t i = 0; i < results.size(); ++i) {
    std::fprintf(file, "%s{", i == 0 ? "" : ",");
    if (!results[i].algorithm.empty()) {
      std::fprintf(file, "\"algorithm\":\"%s\",", results[i].algorithm.c_str());
    }
    std::fprintf(file, "\"bytes\":%zu,\"count\":%zu,\"oop\":", results[i].bytes, results[i].count);
    measurement(results[i].outOfPlace);
    std::fprintf(file, ",\"ip\":");
    measurement(results[i].inPlace);
    std::fprintf(file, "}");
  }
  std::fprintf(file, "]}\n");
  return std::fclose(file) == 0;
}

}  // namespace gccl::perf
