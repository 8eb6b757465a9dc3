#include "bootstrap/launch_environment.h"

#include <charconv>

#include "base/error.h"
#include "base/logging.h"

namespace gccl {

namespace {

std::optional<int> intVariable(const Environment& environment, std::string_view name) {
  const auto text = environment(name);
  if (!text) return std::nullopt;
  int value = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || ptr != text->data() + text->size()) {
    fail(Status::kInvalidArgument, name, "=", *text, " is not an integer");
  }
  return value;
}

// The first of `names` that is set.
std::optional<int> firstInt(const Environment& environment,
                            std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) {
    if (auto value = intVariable(environment, name)) return value;
  }
  return std::nullopt;
}

}  // namespace

LaunchInfo resolveLaunch(const Config& config, const Environment& env) {
  LaunchInfo info;
  const auto rank =
      config.rank ? config.rank : firstInt(env, {"RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID"});
  const auto size = config.worldSize
                        ? config.worldSize
                        : firstInt(env, {"WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS"});
  if (!rank || !size) {
    fail(Status::kInvalidArgument,
         "no rank/size in the environment (set GCCL_RANK and "
         "GCCL_WORLD_SIZE, or launch with torchrun, mpirun or srun)");
  }
  if (*size < 1 || *rank < 0 || *rank >= *size) {
    fail(Status::kInvalidArgument, "rank ", *rank, " is out of range for ", *size, " ranks");
  }
  info.rank = *rank;
  info.size = *size;

  std::string host = config.rootAddr;
  if (host.empty()) host = env("MASTER_ADDR").value_or("");
  // Every rank on this host (mpirun -np N locally): loopback is the root's address.
  const auto localSize = firstInt(env, {"OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"});
  if (host.empty() && localSize && *localSize == info.size) host = "127.0.0.1";
  if (host.empty()) {
    fail(Status::kInvalidArgument, "set GCCL_ROOT_ADDR (or MASTER_ADDR) to rank 0's address");
  }
  int port = config.rootPort;
  if (port == 0) {
    const auto masterPort = intVariable(env, "MASTER_PORT");
    if (masterPort && (*masterPort < 1 || *masterPort > 65534)) {
      fail(Status::kInvalidArgument, "MASTER_PORT=", *masterPort,
           " leaves no port for gccl's store (MASTER_PORT + 1): set GCCL_ROOT_PORT");
    }
    port = masterPort ? *masterPort + 1 : kDefaultRootPort;
  }
  info.id.root = {host, port};
  if (config.jobToken.empty() && info.rank == 0) {
    logInfo(LogSubsys::kInit,
            "no GCCL_JOB_TOKEN: the job token is derived from the root "
            "address, which keeps out strangers that do not speak gccl's protocol but "
            "authenticates nobody; set GCCL_JOB_TOKEN to a secret the job's ranks share");
  }
  info.id.token =
      jobTokenFromText(config.jobToken.empty() ? info.id.root.toString() : config.jobToken);
  return info;
}

}  // namespace gccl
