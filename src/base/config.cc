#include "base/config.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <sstream>

#include "base/error.h"

namespace gccl {
namespace {

int parseInt(std::string_view name, std::string_view value, long long min, long long max) {
  long long parsed = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, parsed);
  if (ec != std::errc() || ptr != end || parsed < min || parsed > max) {
    fail(Status::kInvalidArgument, name, "=", value, ": expected an integer in [", min, ", ", max,
         "]");
  }
  return static_cast<int>(parsed);
}

#define GCCL_INT_SETTING(NAME, FIELD, MIN, MAX) \
  [](Config& c, std::string_view v) { c.FIELD = parseInt(NAME, v, MIN, MAX); }
#define GCCL_STRING_SETTING(FIELD) [](Config& c, std::string_view v) { c.FIELD = std::string(v); }

// One of `choices` in any case, kept as the choice is spelt: a typo fails init instead of
// quietly meaning the default.
std::string parseChoice(std::string_view name, std::string_view value,
                        std::initializer_list<std::string_view> choices) {
  const auto sameLetters = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  std::string listed;
  for (std::string_view choice : choices) {
    if (sameLetters(value, choice)) return std::string(choice);
    listed += strCat(listed.empty() ? "" : ", ", choice);
  }
  fail(Status::kInvalidArgument, name, "=", value, ": expected one of ", listed);
}

constexpr int kMaxInt = 2147483647;

const std::array kSettings = {
    Setting{"GCCL_TIMEOUT_MS", "int", "60000",
            "a peer silent this long fails the collective with gcclTimeout",
            GCCL_INT_SETTING("GCCL_TIMEOUT_MS", timeoutMs, 1, kMaxInt)},
    Setting{"GCCL_CHUNK_BYTES", "int", "1048576",
            "pipeline slice size of every collective's schedule, in bytes; "
            "must agree on all ranks",
            [](Config& c, std::string_view v) {
              c.chunkBytes = static_cast<size_t>(parseInt("GCCL_CHUNK_BYTES", v, 64, 1 << 30));
            }},
    Setting{
        "GCCL_ALGO", "string", "auto",
        "algorithm of every collective: auto (the cost model's choice), ring, "
        "recursive_doubling, tree, halving_doubling, hierarchical, direct; a collective without "
        "the named algorithm takes its automatic choice; must agree on all ranks",
        GCCL_STRING_SETTING(algorithm)},
    Setting{"GCCL_HOST_ID", "string", "",
            "the host this rank is on, for hierarchical algorithms (default: its machine); "
            "differing values fake several hosts on one machine",
            [](Config& c, std::string_view v) {
              if (v.find_first_of(" \t\n") != std::string_view::npos) {
                fail(Status::kInvalidArgument, "GCCL_HOST_ID=", v, ": must not contain spaces");
              }
              c.hostId = std::string(v);
            }},
    Setting{"GCCL_TUNE_FILE", "string", "",
            "cost model figures written by allreduce_perf --tune; read by rank 0 and shared "
            "at init (default: built-in figures)",
            GCCL_STRING_SETTING(tuneFile)},
    Setting{"GCCL_TRANSPORT", "string", "auto",
            "auto: shared memory between ranks of one machine (when it allows it), UCX "
            "between machines when an RDMA device is present and gccl has UCX, else tcp; "
            "shm: shared memory within a machine (or init fails), tcp between; tcp: tcp for "
            "every peer; ucx: UCX for every peer (UCX_TLS picks its transports); must agree on "
            "all ranks",
            [](Config& c, std::string_view v) {
              if (v != "auto" && v != "tcp" && v != "shm" && v != "ucx") {
                fail(Status::kInvalidArgument, "GCCL_TRANSPORT=", v,
                     ": expected auto, tcp, shm or ucx");
              }
              c.transport = std::string(v);
            }},
    Setting{"GCCL_SHM_SINGLE_COPY", "int", "1",
            "1: shared-memory messages of 1 MiB or more are copied once, straight from the "
            "sender's buffer (process_vm_readv), where the kernel allows it; 0: every message "
            "goes through the rings",
            [](Config& c, std::string_view v) {
              c.shmSingleCopy = parseInt("GCCL_SHM_SINGLE_COPY", v, 0, 1) == 1;
            }},
    Setting{"GCCL_SHM_WRITE_BACK", "int", "1",
            "1: an allreduce by the direct algorithm on gcclMemAlloc buffers writes each "
            "reduced piece straight into the peers' outputs and sends them notices; 0: "
            "results go back as data, and this rank neither writes into peers' memory nor lets "
            "them write into its own",
            [](Config& c, std::string_view v) {
              c.shmWriteBack = parseInt("GCCL_SHM_WRITE_BACK", v, 0, 1) == 1;
            }},
    Setting{"GCCL_SHM_STREAM_BYTES", "int", "33554432",
            "with write-back, an allreduce of this many bytes or more stores its results into "
            "this rank's output and the peers' with streaming (non-temporal) stores, around the "
            "cache, out of place only; 0: at every size; -1: never",
            [](Config& c, std::string_view v) {
              c.shmStreamBytes = parseInt("GCCL_SHM_STREAM_BYTES", v, -1, INT32_MAX);
            }},
    Setting{"GCCL_GPU_STAGING_BYTES", "int", "16777216",
            "pinned host memory one GPU allreduce stages its slices through, in bytes: "
            "GCCL_GPU_STAGING_BYTES / GCCL_GPU_SLICE_BYTES slices in flight at once; must agree "
            "on all ranks",
            [](Config& c, std::string_view v) {
              c.gpuStagingBytes =
                  static_cast<size_t>(parseInt("GCCL_GPU_STAGING_BYTES", v, 64, 1 << 30));
            }},
    Setting{"GCCL_GPU_SLICE_BYTES", "int", "4194304",
            "largest slice of a GPU buffer copied to the host and allreduced as one collective "
            "(rounded down to a multiple of 64; a smaller call is cut into up to 4 slices, none "
            "below 256 KiB per slot); must agree on all ranks",
            [](Config& c, std::string_view v) {
              c.gpuSliceBytes =
                  static_cast<size_t>(parseInt("GCCL_GPU_SLICE_BYTES", v, 64, 1 << 30));
            }},
    Setting{"GCCL_SOCKET_ADDR", "string", "",
            "IPv4 address to bind and advertise (default: the address that reaches the root)",
            GCCL_STRING_SETTING(socketAddr)},
    Setting{"GCCL_SOCKET_BUFFER_BYTES", "int", "0",
            "SO_SNDBUF / SO_RCVBUF of data sockets; 0 keeps the kernel's autotuning",
            GCCL_INT_SETTING("GCCL_SOCKET_BUFFER_BYTES", socketBufferBytes, 0, 1 << 30)},
    Setting{"GCCL_SOCKET_CONGESTION", "string", "auto",
            "TCP congestion control of data sockets: auto (reno between ranks of one machine, "
            "the system's choice otherwise), system, or an algorithm name (reno, cubic, bbr)",
            GCCL_STRING_SETTING(socketCongestion)},
    Setting{"GCCL_NSOCKS", "int", "1",
            "TCP sockets per direction per peer; a message of 128 KiB or more is striped across "
            "them (at least 64 KiB each), so one socket's window or one core's copy does not cap "
            "a fast link; every rank must set the same value",
            GCCL_INT_SETTING("GCCL_NSOCKS", nsocks, 1, kMaxNsocks)},
    Setting{"GCCL_SPIN_US", "int", "auto",
            "busy-poll time before a waiting thread yields (GCCL_YIELD_US) or sleeps; auto: 50, "
            "or 0 when the machine's ranks outnumber its cores",
            [](Config& c, std::string_view v) {
              c.spinUs = v == "auto" ? kAutoSpinUs : parseInt("GCCL_SPIN_US", v, 0, 1000000);
            }},
    Setting{"GCCL_YIELD_US", "int", "auto",
            "after the busy-poll, time a waiting thread keeps polling while yielding its core "
            "(sched_yield) before it sleeps; auto: 1000 when the machine's ranks outnumber its "
            "cores, else 0",
            [](Config& c, std::string_view v) {
              c.yieldUs = v == "auto" ? kAutoYieldUs : parseInt("GCCL_YIELD_US", v, 0, 1000000);
            }},
    Setting{"GCCL_SIMD", "string", "auto", "reduction kernels: auto, avx512, avx2, scalar",
            [](Config& c, std::string_view v) {
              c.simd = parseChoice("GCCL_SIMD", v, {"auto", "avx512", "avx2", "scalar"});
            }},
    Setting{"GCCL_DEBUG", "string", "WARN", "log level: NONE, WARN, INFO, TRACE",
            [](Config& c, std::string_view v) {
              c.debug = parseChoice("GCCL_DEBUG", v, {"NONE", "WARN", "INFO", "TRACE"});
            }},
    Setting{"GCCL_DEBUG_SUBSYS", "string", "ALL",
            "comma-separated log subsystems: INIT, NET, COLL, ALL",
            GCCL_STRING_SETTING(debugSubsys)},
    Setting{"GCCL_DEBUG_FILE", "string", "", "log file pattern (%h host, %p pid); default stderr",
            GCCL_STRING_SETTING(debugFile)},
    Setting{"GCCL_RANK", "int", "", "rank of this process (gcclCommInitFromEnv)",
            [](Config& c, std::string_view v) { c.rank = parseInt("GCCL_RANK", v, 0, kMaxInt); }},
    Setting{"GCCL_WORLD_SIZE", "int", "", "number of ranks (gcclCommInitFromEnv)",
            [](Config& c, std::string_view v) {
              c.worldSize = parseInt("GCCL_WORLD_SIZE", v, 1, kMaxInt);
            }},
    Setting{"GCCL_ROOT_ADDR", "string", "", "address of rank 0's bootstrap store",
            GCCL_STRING_SETTING(rootAddr)},
    Setting{"GCCL_ROOT_PORT", "int", "0", "port of rank 0's bootstrap store",
            GCCL_INT_SETTING("GCCL_ROOT_PORT", rootPort, 0, 65535)},
    Setting{"GCCL_JOB_TOKEN", "string", "",
            "shared secret authenticating every connection (gcclCommInitFromEnv)",
            GCCL_STRING_SETTING(jobToken)},
};

#undef GCCL_INT_SETTING
#undef GCCL_STRING_SETTING

}  // namespace

Environment processEnvironment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::span<const Setting> settings() {
  return kSettings;
}

std::string settingsEveryRankShares(const Config& config) {
  std::string text = strCat("GCCL_TRANSPORT=", config.transport, ",GCCL_ALGO=", config.algorithm,
                            ",GCCL_CHUNK_BYTES=", config.chunkBytes,
                            ",GCCL_GPU_SLICE_BYTES=", config.gpuSliceBytes,
                            ",GCCL_GPU_STAGING_BYTES=", config.gpuStagingBytes);
  for (char& c : text) {
    if (c <= ' ') c = '?';  // one token in the census entry, whatever a value holds
  }
  return text;
}

WaitPolicy waitPolicyOf(const Config& config) {
  return {std::max(0, config.spinUs), std::max(0, config.yieldUs)};
}

Config configFromEnvironment(const Environment& environment) {
  Config config;
  for (const Setting& setting : kSettings) {
    // Set but empty is unset: launcher scripts export variables they leave blank.
    const auto value = environment(setting.name);
    if (value && !value->empty()) setting.apply(config, *value);
  }
  return config;
}

std::string describeSettings(const Environment& environment) {
  std::ostringstream out;
  out << "# gccl settings (name, type, default, current value): doc\n";
  for (const Setting& setting : kSettings) {
    const auto value = environment(setting.name);
    out << setting.name << "  " << setting.type << "  default=\"" << setting.defaultValue
        << "\"  value=\"" << (value ? *value : std::string(setting.defaultValue)) << "\"\n    "
        << setting.doc << "\n";
  }
  return out.str();
}

}  // namespace gccl
