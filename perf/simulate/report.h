// What simulate prints and writes: the model it ran, a table per algorithm in nccl-tests'
// units, the selector's choice beside the fastest simulated algorithm, and the JSON results.
#pragma once

#include <string>
#include <vector>

#include "base/collective.h"
#include "sim_options.h"
#include "simulator.h"

namespace gccl::sim {

struct SimRow {
  std::string algo;      // what the row is for: an algorithm's name, or "auto"
  std::string selected;  // the algorithm that ran (auto: the selector's choice)
  size_t bytes = 0;      // nccl-tests' size: the larger buffer of a rank
  size_t count = 0;      // the collective's count argument
  double timeUs = 0;
  double algbw = 0;  // GB/s
  double busbw = 0;  // GB/s
  SimResult result;
  double wallSeconds = 0;  // what simulating it took
};

// nccl-tests' bus bandwidth factor: allreduce 2(n-1)/n, allgather and reduce-scatter (n-1)/n,
// broadcast and reduce 1.
double busFactor(CollectiveKind collective, int nranks);

void printModel(const SimOptions& options);
void printTableHeader(const std::string& algo);
void printRow(const SimRow& row);
// A size the engine would not run with this algorithm (it falls back to `runs`).
void printSkipped(size_t bytes, size_t count, const std::string& runs);
void printSelectorHeader();
void printSelectorRow(const SimRow& chosen, const SimRow* fastest);

// {"results":[{"collective":C,"algo":A,"nranks":N,"bytes":B,"time_us":T,"busbw":W}, ...]};
// auto rows also name the algorithm they ran ("selected").
bool writeJson(const std::string& path, const SimOptions& options, const std::vector<SimRow>& rows);

}  // namespace gccl::sim
