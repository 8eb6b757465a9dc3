// The one configuration registry: every GCCL_* setting has a name, a type, a default and a doc
// line here, is parsed once into an immutable Config, and is listed by --print-config.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace gccl {

inline constexpr int kAutoSpinUs = -1;  // GCCL_SPIN_US=auto: decided per machine at init
inline constexpr int kDefaultSpinUs = 50;
inline constexpr int kAutoYieldUs = -1;  // GCCL_YIELD_US=auto: decided per machine at init
// Yielding before sleeping, where ranks outnumber cores: a sleeping rank waits for a scheduler
// wake-up (~40 us on the 2-vCPU VM) at every exchange, a yielding one for a context switch.
inline constexpr int kOversubscribedYieldUs = 1000;
inline constexpr int kMaxNsocks = 16;  // GCCL_NSOCKS; the stripe split relies on it (stripes.h)

// How a thread waits for another thread or a peer: it busy-polls for spinUs, then polls
// yielding its core for yieldUs, then sleeps (GCCL_SPIN_US, GCCL_YIELD_US). The default
// sleeps at once.
struct WaitPolicy {
  int spinUs = 0;
  int yieldUs = 0;
};

struct Config {
  // Collectives
  int timeoutMs = 60000;           // peer silence that becomes Status::kTimeout
  size_t chunkBytes = 1u << 20;    // pipeline slice of every collective's schedule
  std::string algorithm = "auto";  // GCCL_ALGO
  std::string hostId;              // GCCL_HOST_ID: overrides the machine as the host (hierarchy)
  std::string tuneFile;            // GCCL_TUNE_FILE: rank 0's cost model figures
  std::string transport = "auto";  // GCCL_TRANSPORT: auto, tcp or shm
  bool shmSingleCopy = true;       // GCCL_SHM_SINGLE_COPY: large shm messages by process_vm_readv
  bool shmWriteBack = true;        // GCCL_SHM_WRITE_BACK: results into peers' outputs
  // GCCL_SHM_STREAM_BYTES: from this buffer size on, written-back results stream around the
  // cache (reduce.h, Stores); -1: never.
  long long shmStreamBytes = 32ll << 20;
  // GPU buffers, staged through pinned host memory (src/cuda/staged_collectives.h)
  size_t gpuStagingBytes = 16u << 20;  // GCCL_GPU_STAGING_BYTES: pinned bytes per pipeline
  size_t gpuSliceBytes = 4u << 20;     // GCCL_GPU_SLICE_BYTES: one slot, the largest slice
  // Sockets
  std::string socketAddr;                 // address to bind and advertise; empty = automatic
  int socketBufferBytes = 0;              // 0: kernel autotuning (measured faster on loopback)
  std::string socketCongestion = "auto";  // GCCL_SOCKET_CONGESTION
  int nsocks = 1;                         // GCCL_NSOCKS: data sockets per direction per peer
  int spinUs = kAutoSpinUs;               // busy-poll before yielding or sleeping
  int yieldUs = kAutoYieldUs;             // then poll, yielding the core, before sleeping
  // Kernels
  std::string simd = "auto";
  // Logging
  std::string debug = "WARN";
  std::string debugSubsys = "ALL";
  std::string debugFile;
  // Launch (gcclCommInitFromEnv)
  std::optional<int> rank;
  std::optional<int> worldSize;
  std::string rootAddr;
  int rootPort = 0;
  std::string jobToken;
};

// A lookup of environment-like variables: the process environment in production, a map in
// tests. Returns nullopt for unset names.
using Environment = std::function<std::optional<std::string>(std::string_view name)>;

// The process environment. The only place in gccl that calls getenv (besides the UCX
// transport's read of UCX_TLS, for its error messages).
Environment processEnvironment();

// The settings every rank of a job must share, as one token without spaces
// ("GCCL_TRANSPORT=auto,GCCL_ALGO=ring,..."): the census at init compares every rank's with rank
// 0's and refuses the job, naming both, when they differ (they would otherwise route a pair
// differently, or cut collectives differently, and fail later and less clearly).
std::string settingsEveryRankShares(const Config& config);

struct Setting {
  std::string_view name;
  std::string_view type;
  std::string_view defaultValue;
  std::string_view doc;
  void (*apply)(Config& config, std::string_view value);  // throws Error on a malformed value
};

std::span<const Setting> settings();

// The config's waits, as resolved at init (an unresolved "auto" counts as 0).
WaitPolicy waitPolicyOf(const Config& config);

// Builds a Config from defaults overridden by every registered variable that is set.
// Throws Error(kInvalidArgument) naming the variable when a value does not parse.
Config configFromEnvironment(const Environment& environment);

// Human-readable table of every setting with its current value (allreduce_perf --print-config).
std::string describeSettings(const Environment& environment);

}  // namespace gccl
