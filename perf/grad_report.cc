#include "grad_report.h"

#include <cstdio>
#include <cstring>

namespace gccl::perf {

namespace {

// The speedup column is relative to per_tensor, gccl's unfused baseline; "-" when it did not run.
double perTensorMs(const std::vector<GradResult>& rows) {
  for (const GradResult& row : rows) {
    if (std::strcmp(row.mode, "per_tensor") == 0) return row.stepMs;
  }
  return 0;
}

}  // namespace

void printGradTable(const GradBenchOptions& options, const std::vector<GradTensor>& model,
                    int nranks, const std::vector<GradResult>& rows) {
  const size_t parameters = totalParameters(model);
  std::printf(
      "# grad_bench: %s, %zu fp32 tensors, %zu parameters (%.2f MiB), %d ranks, median of %d "
      "steps after %d warm-up, backward %g ms, gradients in %s memory\n",
      options.model.c_str(), model.size(), parameters, parameters * 4.0 / 1048576, nranks,
      options.iterations, options.warmup, options.backwardMs, options.device.c_str());
  std::printf("# %-16s %10s %8s %14s %8s %7s\n", "mode", "step_ms", "speedup", "wire_bytes",
              "buckets", "#wrong");
  const double base = perTensorMs(rows);
  for (const GradResult& row : rows) {
    char speedup[16] = "-";
    if (base > 0 && row.stepMs > 0)
      std::snprintf(speedup, sizeof speedup, "%.2fx", base / row.stepMs);
    std::printf("  %-16s %10.2f %8s %14llu %8llu %7llu\n", row.mode, row.stepMs, speedup,
                static_cast<unsigned long long>(row.wireBytes),
                static_cast<unsigned long long>(row.buckets),
                static_cast<unsigned long long>(row.wrong));
  }
  std::fflush(stdout);
}

bool writeGradJson(const std::string& path, const GradBenchOptions& options, int nranks,
                   const std::vector<GradResult>& rows) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) {
    std::perror(path.c_str());
    return false;
  }
  std::fprintf(file, "{\"nranks\":%d,\"model\":\"%s\",\"device\":\"%s\",\"results\":[", nranks,
               options.model.c_str(), options.device.c_str());
  for (size_t i = 0; i < rows.size(); ++i) {
    const GradResult& row = rows[i];
    std::fprintf(
        file,
        "%s{\"mode\":\"%s\",\"step_ms\":%.4f,\"wire_bytes\":%llu,\"buckets\":%llu,"
        "\"wrong\":%llu}",
        i == 0 ? "" : ",", row.mode, row.stepMs, static_cast<unsigned long long>(row.wireBytes),
        static_cast<unsigned long long>(row.buckets), static_cast<unsigned long long>(row.wrong));
  }
  std::fprintf(file, "]}\n");
  return std::fclose(file) == 0;
}

}  // namespace gccl::perf
