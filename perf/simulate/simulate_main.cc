// simulate: gccl's schedules timed on a model machine, up to thousands of ranks.
//   simulate --nranks 4096 -b 25M -e 25M                    every allreduce algorithm, 512 hosts
//   simulate --collective broadcast --algo ring --nranks 64 -b 1K -e 1G -f 8
// See link_model.h for the machine, simulator.h for the rules, docs/benchmarks.md for how the
// model compares with measurements.
#include <cstdio>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include "algorithms/registry.h"
#include "report.h"
#include "sim_options.h"
#include "timing.h"

namespace gccl::sim {
namespace {

std::vector<size_t> sweepSizes(const SimOptions& options) {
  std::vector<size_t> sizes;
  for (double size = double(options.minBytes);;) {
    sizes.push_back(static_cast<size_t>(size));
    if (size >= double(options.maxBytes) || options.factor <= 1.0) break;
    size = std::min(size * options.factor, double(options.maxBytes));
  }
  return sizes;
}

// The cost model's figures for the simulated machine, as a tune file would give them: the
// selector then chooses for this machine, not for the defaults.
CostInputs costsFor(const SimOptions& options, size_t count) {
  const LinkModel& m = options.model;
  CostFigures figures;
  figures.intraHost = {m.intraAlpha * 1e6, 1e6 / m.intraBeta};
  figures.interHost = {m.alpha * 1e6, 1e6 / m.beta};
  figures.gammaUsPerByte = 1e6 / m.gamma;
  CostInputs costs = costInputsOf(shapeFor(options, count), options.chunkBytes, figures);
  costs.bytes = bytesFor(options, count);
  return costs;
}

// What GCCL_ALGO=`requested` runs for `count` elements. The shape and costs are named locals:
// g++ 13 takes a reference returned from a call with temporary arguments for one into them
// (-Wdangling-reference), though the algorithm is the registry's.
const Algorithm& selectFor(const SimOptions& options, std::string_view requested, size_t count) {
  const ScheduleShape shape = shapeFor(options, count);
  const CostInputs costs = costsFor(options, count);
  return selectAlgorithm(options.collective, requested, shape, costs);
}

// "all": every algorithm of the collective that supports the shape; "auto": none (only the
// selector's choice is timed).
std::vector<const Algorithm*> everyAlgorithm(const SimOptions& options) {
  std::vector<const Algorithm*> list;
  if (options.algo != "all") return list;
  const ScheduleShape shape = shapeFor(options, 0);
  for (const Algorithm& algorithm : algorithms()) {
    if (algorithm.collective == options.collective && algorithm.supports(shape)) {
      list.push_back(&algorithm);
    }
  }
  return list;
}

// --algo NAME: what GCCL_ALGO=NAME runs at each size, which is another algorithm where NAME
// does not apply (selectAlgorithm throws for a name that is no algorithm at all).
void timeRequested(const SimOptions& options, const std::vector<size_t>& sizes,
                   std::vector<SimRow>& rows) {
  printTableHeader(options.algo);
  for (size_t size : sizes) {
    const size_t count = countFor(options, size);
    const Algorithm& runs = selectFor(options, options.algo, count);
    SimRow row = timeAlgorithm(runs, options, count);
    row.algo = options.algo;
    printRow(row);
    rows.push_back(row);
  }
}

int run(const SimOptions& options) {
  if (options.algo != "all" && options.algo != "auto") {
    selectFor(options, options.algo, 0);  // a known name?
  }
  printModel(options);
  const std::vector<size_t> sizes = sweepSizes(options);
  std::vector<SimRow> rows;
  std::map<std::pair<std::string, size_t>, SimRow> timed;  // (algorithm, count) -> its row
  if (options.algo != "all" && options.algo != "auto") timeRequested(options, sizes, rows);
  for (const Algorithm* algorithm : everyAlgorithm(options)) {
    printTableHeader(std::string(algorithm->name));
    for (size_t size : sizes) {
      const size_t count = countFor(options, size);
      const size_t bytes = bytesFor(options, count);
      // What the engine would run when asked for this algorithm (the real GCCL_ALGO path).
      const Algorithm& runs = selectFor(options, algorithm->name, count);
      if (&runs != algorithm) {
        printSkipped(bytes, count, std::string(runs.name));
        continue;
      }
      SimRow row = timeAlgorithm(*algorithm, options, count);
      printRow(row);
      rows.push_back(row);
      timed.emplace(std::pair{row.algo, count}, row);
    }
  }
  if (options.algo == "all" || options.algo == "auto") {
    printSelectorHeader();
    for (size_t size : sizes) {
      const size_t count = countFor(options, size);
      const Algorithm& chosen = selectFor(options, "auto", count);
      auto it = timed.find({std::string(chosen.name), count});
      if (it == timed.end()) {
        it = timed
                 .emplace(std::pair{std::string(chosen.name), count},
                          timeAlgorithm(chosen, options, count))
                 .first;
      }
      SimRow row = it->second;
      row.algo = "auto";
      const SimRow* fastest = nullptr;
      for (const auto& [key, other] : timed) {
        if (key.second == count && (fastest == nullptr || other.timeUs < fastest->timeUs)) {
          fastest = &other;
        }
      }
      printSelectorRow(row, fastest);
      rows.push_back(row);
    }
  }
  if (!options.jsonPath.empty() && !writeJson(options.jsonPath, options, rows)) return 1;
  return 0;
}

}  // namespace
}  // namespace gccl::sim

int main(int argc, char** argv) {
  try {
    return gccl::sim::run(gccl::sim::parseSimOptions(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "simulate: %s\n", e.what());
    return 1;
  }
}
