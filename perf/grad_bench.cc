// grad_bench: a model's gradients (ResNet-50 or BERT-base shapes, grad_models.h) synchronised
// per step by every mode in one run -- per_tensor (one gcclAllReduceAsync per tensor), lazy
// (the gradient sync, theta 25 MiB), lazy_fp16 (fp16 on the wire), lazy_csc_0.1 and
// lazy_csc_0.01 (sparse, fp16 payload) and gloo_per_tensor (Gloo, one tensor at a time) --
// over --np local ranks, or as one rank of a job the environment describes, as allreduce_perf.
//
//   grad_bench [--np N] [--model resnet50|transformer] [-n 10] [-w 2] [--backward-ms X]
//              [--modes per_tensor,lazy,...] [--json FILE] [--timeout S]
//              [--device host|cuda|standin] [--bind cpus|none]
//
// --device cuda (or standin, the host stand-in GPU) keeps each rank's gradients in device
// memory and runs the lazy modes in copy mode: what a framework training on a GPU gets,
// lazy_fp16 converting on the GPU. per_tensor and Gloo take host buffers only.
#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <new>
#include <stdexcept>
#include <string>

#include "grad_bench.h"
#include "grad_gloo.h"
#include "grad_report.h"
#include "local_launcher.h"

namespace gccl::perf {

namespace {

constexpr const char* kUsage =
    "usage: grad_bench [--np N] [--model resnet50|transformer] [-n ITERS] [-w WARMUP]\n"
    "                  [--backward-ms X] [--modes a,b,...] [--json FILE] [--timeout S]\n"
    "                  [--device host|cuda|standin] [--bind cpus|none]\n";

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr, "grad_bench: %s\n%s", problem.c_str(), kUsage);
  std::exit(2);
}

double number(const char* text, const std::string& flag, double least) {
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || value < least) usage(flag + ": bad value '" + text + "'");
  return value;
}

std::vector<std::string> splitModes(const std::string& list) {
  std::vector<std::string> modes;
  size_t begin = 0;
  while (begin <= list.size()) {
    const size_t comma = std::min(list.find(',', begin), list.size());
    const std::string name = list.substr(begin, comma - begin);
    if (findGradMode(name) == nullptr) usage("unknown mode '" + name + "'");
    modes.push_back(name);
    begin = comma + 1;
  }
  return modes;
}

// --device: the lazy modes only (by default all of them; asking for another is an error).
void keepDeviceModes(GradBenchOptions& options, bool modesGiven) {
  if (options.device == "host") return;
  std::vector<std::string> kept;
  for (const std::string& name : options.modes) {
    if (findGradMode(name)->kind == GradModeKind::kLazy) {
      kept.push_back(name);
    } else if (modesGiven) {
      usage("--device " + options.device + ": " + name + " takes host buffers only");
    }
  }
  options.modes = kept;
}

GradBenchOptions parseOptions(int argc, char** argv) {
  GradBenchOptions options;
  for (const GradMode& mode : gradModes()) options.modes.push_back(mode.name);
  bool modesGiven = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage(flag + " needs a value");
    const char* value = argv[++i];
    if (flag == "--np") {
      options.localRanks = static_cast<int>(number(value, flag, 1));
    } else if (flag == "--bind") {
      const auto binding = cpu_binding::parseBinding(value);
      if (!binding) usage("--bind takes cpus or none");
      options.binding = *binding;
    } else if (flag == "--model") {
      options.model = value;
    } else if (flag == "-n") {
      options.iterations = static_cast<int>(number(value, flag, 1));
    } else if (flag == "-w") {
      options.warmup = static_cast<int>(number(value, flag, 0));
    } else if (flag == "--backward-ms") {
      options.backwardMs = number(value, flag, 0);
    } else if (flag == "--modes") {
      options.modes = splitModes(value);
      modesGiven = true;
    } else if (flag == "--device") {
      if (!isDeviceName(value)) usage("--device: unknown device '" + std::string(value) + "'");
      options.device = value;
    } else if (flag == "--json") {
      options.jsonPath = value;
    } else if (flag == "--timeout") {
      options.timeoutSeconds = static_cast<int>(number(value, flag, 1));
    } else {
      usage("unknown flag " + flag);
    }
  }
  if (!gradModel(options.model)) usage("unknown model '" + options.model + "'");
  keepDeviceModes(options, modesGiven);
  return options;
}

// Every gccl mode on one communicator, in --modes order; destroys (or, on an error, aborts)
// the communicator.
RankReport runModes(const GradBenchOptions& options, const std::vector<GradTensor>& model,
                    gcclComm_t comm, std::vector<GradResult>& rows) {
  int rank = 0;
  gcclCommUserRank(comm, &rank);
  RankReport report;
  try {
    // Before the first call: the stand-in attaches itself to the communicator.
    const std::unique_ptr<BufferSpace> space =
        makeBufferSpace(options.device, std::span<const gcclComm_t>(&comm, 1), rank);
    for (const std::string& name : options.modes) {
      const GradMode& mode = *findGradMode(name);
      if (mode.kind == GradModeKind::kGloo) continue;
      rows.push_back(runGradMode(mode, options, model, comm, space.get()));
      report.wrongElements += rows.back().wrong;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "grad_bench rank %d: %s\n", rank, e.what());
    gcclCommAbort(comm);
    return report;
  }
  gcclCommDestroy(comm);
  report.exitStatus = report.wrongElements == 0 ? 0 : 1;
  return report;
}

// The rows in --modes order, Gloo's where it was asked for (when it ran).
std::vector<GradResult> ordered(const GradBenchOptions& options,
                                const std::vector<GradResult>& gccl,
                                const std::optional<GradResult>& gloo) {
  std::vector<GradResult> rows;
  size_t next = 0;
  for (const std::string& name : options.modes) {
    if (findGradMode(name)->kind != GradModeKind::kGloo) {
      if (next < gccl.size()) rows.push_back(gccl[next++]);
    } else if (gloo) {
      rows.push_back(*gloo);
    }
  }
  return rows;
}

bool report(const GradBenchOptions& options, const std::vector<GradTensor>& model, int nranks,
            const std::vector<GradResult>& rows) {
  printGradTable(options, model, nranks, rows);
  return options.jsonPath.empty() || writeGradJson(options.jsonPath, options, nranks, rows);
}

bool wantsGloo(const GradBenchOptions& options) {
  for (const std::string& name : options.modes) {
    if (findGradMode(name)->kind == GradModeKind::kGloo) return true;
  }
  return false;
}

// Rank 0's rows travel back to the launcher through memory shared across the fork.
struct SharedRows {
  size_t count = 0;
  GradResult rows[16];
};

int runLocally(const GradBenchOptions& options, const std::vector<GradTensor>& model) {
  const int nranks = options.localRanks.value_or(2);
  void* memory =
      mmap(nullptr, sizeof(SharedRows), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  auto* shared = new (memory) SharedRows();
  const cpu_binding::Placement placement = cpu_binding::placementFor(options.binding, nranks);
  std::printf("# %s\n", cpu_binding::describe(placement).c_str());
  const LocalRun run = runLocalRanks(
      "grad_bench", nranks, options.timeoutSeconds, placement,
      [&](const gcclUniqueId& id, int rank, int size) {
        gcclComm_t comm = nullptr;
        if (gcclCommInitRank(&comm, size, id, rank) != gcclSuccess) {
          std::fprintf(stderr, "rank %d: init failed: %s\n", rank, gcclGetLastError(nullptr));
          return RankReport{};
        }
        std::vector<GradResult> rows;
        const RankReport report = runModes(options, model, comm, rows);
        if (rank == 0) {
          shared->count = std::min(rows.size(), std::size(shared->rows));
          std::copy_n(rows.begin(), shared->count, shared->rows);
        }
        return report;
      });
  const std::vector<GradResult> gccl(shared->rows, shared->rows + shared->count);
  munmap(memory, sizeof(SharedRows));
  const bool passed = run.allSucceeded && run.wrongElements == 0;
  std::optional<GradResult> gloo;
  if (passed && wantsGloo(options)) gloo = runGlooGradBench(options, nranks);
  const bool written = report(options, model, nranks, ordered(options, gccl, gloo));
  std::printf("# wrong elements, all %d ranks: %llu %s (%d of %d ranks reported)\n", nranks,
              static_cast<unsigned long long>(run.wrongElements), passed ? "OK" : "FAILED",
              run.reported, nranks);
  return passed && written ? 0 : 1;
}

bool launchedByLauncher() {
  for (const char* name : {"GCCL_RANK", "RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

// One rank of a job: rank 0 reports; each rank's exit status carries its own checks.
int runFromEnvironment(const GradBenchOptions& options, const std::vector<GradTensor>& model) {
  gcclComm_t comm = nullptr;
  if (gcclCommInitFromEnv(&comm) != gcclSuccess) {
    std::fprintf(stderr, "grad_bench: init failed: %s\n", gcclGetLastError(nullptr));
    return 1;
  }
  int rank = 0, nranks = 0;
  gcclCommUserRank(comm, &rank);
  gcclCommCount(comm, &nranks);
  std::vector<GradResult> rows;
  const RankReport result = runModes(options, model, comm, rows);
  if (rank != 0) return result.exitStatus;
  if (wantsGloo(options)) {
    // Its ranks would need their own store and addresses on every host (GLOO_PERF_* there).
    std::fprintf(stderr,
                 "grad_bench: one rank per process: gloo_per_tensor skipped (run "
                 "gloo_grad_bench with GLOO_PERF_RANK/STORE/ADDR on each host)\n");
  }
  const bool written = report(options, model, nranks, ordered(options, rows, std::nullopt));
  return result.exitStatus == 0 && written ? 0 : 1;
}

}  // namespace

}  // namespace gccl::perf

int main(int argc, char** argv) {
  using namespace gccl::perf;
  const GradBenchOptions options = parseOptions(argc, argv);
  const std::vector<GradTensor> model = *gradModel(options.model);
  if (options.localRanks || !launchedByLauncher()) return runLocally(options, model);
  return runFromEnvironment(options, model);
}
