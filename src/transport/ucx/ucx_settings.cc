#include "transport/ucx/ucx_settings.h"

#include <cstdlib>
#include <string>

namespace gccl::transport::ucx {

namespace {

// `name` as UCX's tables spell it: a UCP setting as in UCP's table; a transport's by its field
// alone, without its UCX_TCP_ prefix (ucp_config_modify hands a name UCP does not know to every
// transport's table when it opens one). `userVariable` is what the user would have set.
void setUnlessUserSet(ucp_config_t* config, const char* name, const char* value,
                      const std::string& userVariable) {
  if (std::getenv(userVariable.c_str()) != nullptr) return;  // NOLINT(concurrency-mt-unsafe)
  ucx().ucp_config_modify(config, name, value);
}

}  // namespace

bool tcpTransportAllowed(const char* tls) {
  if (tls == nullptr) return true;
  const std::string list = tls;
  const bool namesTcp = list.find("tcp") != std::string::npos;
  if (list.starts_with('^')) return !namesTcp;  // a list of transports to leave out
  return namesTcp || list.find("all") != std::string::npos;
}

void applyGcclSettings(ucp_config_t* config) {
  // Endpoints exchange their ids when created, which awaitConnected's flush then waits for,
  // instead of at their first rendezvous send. Lazily, a rank whose first collective fails at
  // once can get the peer's wire-up request after its endpoint closed: UCX 1.13 answers it
  // from a hidden endpoint whose reply it then asserts on, aborting the process, when
  // ucp_worker_destroy purges it (fixed in 1.14; seen over UCX_TLS=tcp after a mismatched
  // collective).
  setUnlessUserSet(config, "RESOLVE_REMOTE_EP_ID", "y", "UCX_RESOLVE_REMOTE_EP_ID");
  // UCX's TCP transport copies every message through segments of its own, 8 KiB to send and
  // 64 KiB to receive by default; 256 KiB moved 64 MiB allreduces 1.4-1.7x faster over loopback
  // (docs/benchmarks.md). Only where the TCP transport may open: a setting that no opened
  // transport takes makes UCX warn at every worker's creation.
  if (tcpTransportAllowed(std::getenv("UCX_TLS"))) {  // NOLINT(concurrency-mt-unsafe)
    setUnlessUserSet(config, "TX_SEG_SIZE", "256k", "UCX_TCP_TX_SEG_SIZE");
    setUnlessUserSet(config, "RX_SEG_SIZE", "256k", "UCX_TCP_RX_SEG_SIZE");
  }
}

}  // namespace gccl::transport::ucx
