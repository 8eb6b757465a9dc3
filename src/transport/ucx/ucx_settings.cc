#include "transport/ucx/ucx_settings.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

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

// The value of the "UCX_<name>=" line of `printed` (printedConfig's); empty if there is none.
std::string settingOf(const std::string& printed, std::string_view name) {
  const std::string key = "\nUCX_" + std::string(name) + "=";
  const size_t at = ("\n" + printed).find(key);
  if (at == std::string::npos) return {};
  const size_t from = at + key.size() - 1;  // in `printed`, which lacks the leading newline
  return printed.substr(from, printed.find('\n', from) - from);
}

// A UCX list setting as its parser reads it: an optional leading '^' (leave these out), then
// names separated by commas, where "all" as the first name allows everything.
struct ListSetting {
  bool all = false;
  bool negated = false;
  std::vector<std::string_view> names;
};

ListSetting parseList(std::string_view text) {
  ListSetting list;
  if (text.empty()) {  // not found: UCX's default, everything
    list.all = true;
    return list;
  }
  if (text.starts_with('^')) {
    list.negated = true;
    text.remove_prefix(1);
  }
  while (!text.empty()) {
    const size_t comma = text.find(',');
    list.names.push_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  list.all = list.names.front() == "all";
  return list;
}

// A UCX_TLS name that means UCX's TCP transport: "tcp", also as "\tcp" (no alias expansion)
// or "tcp:aux" (for auxiliary wire-up only).
bool namesTcp(std::string_view name) {
  if (name.starts_with('\\')) name.remove_prefix(1);
  if (name.ends_with(":aux")) name.remove_suffix(4);
  return name == "tcp";
}

}  // namespace

std::string printedConfig(ucp_config_t* config) {
  char* text = nullptr;
  size_t size = 0;
  FILE* stream = open_memstream(&text, &size);
  if (stream == nullptr) return {};
  ucx().ucp_config_print(config, stream, nullptr, UCS_CONFIG_PRINT_CONFIG);
  std::fclose(stream);
  std::string printed(text, size);
  std::free(text);  // NOLINT(cppcoreguidelines-no-malloc): open_memstream's buffer
  return printed;
}

bool tcpTransportAllowed(std::string_view tls, std::string_view netDevices) {
  const ListSetting transports = parseList(tls);
  if (!transports.all) {
    bool named = false;
    for (std::string_view name : transports.names) named |= namesTcp(name);
    if (named == transports.negated) return false;
  }
  // TCP opens network interfaces ("eth0", "ib0"); RDMA ports are named "device:port". A list
  // of ports only (UCX_NET_DEVICES=mlx5_0:1, as InfiniBand sites set it) leaves TCP none.
  const ListSetting devices = parseList(netDevices);
  if (devices.all || devices.negated) return true;
  for (std::string_view device : devices.names) {
    if (device.find(':') == std::string_view::npos) return true;
  }
  return false;
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
  // 64 KiB to receive by default; 256 KiB moved 64 MiB allreduces 1.3-1.8x faster over
  // loopback (docs/benchmarks.md). Only where the TCP transport may open, else UCX warns.
  // (Segment sizes set in a ucx.conf rather than the environment are not seen here, and
  // these win over them.)
  // UCX_TLS and UCX_NET_DEVICES as UCX read them, from the environment or a ucx.conf.
  const std::string printed = printedConfig(config);
  if (tcpTransportAllowed(settingOf(printed, "TLS"), settingOf(printed, "NET_DEVICES"))) {
    setUnlessUserSet(config, "TX_SEG_SIZE", "256k", "UCX_TCP_TX_SEG_SIZE");
    setUnlessUserSet(config, "RX_SEG_SIZE", "256k", "UCX_TCP_RX_SEG_SIZE");
  }
}

}  // namespace gccl::transport::ucx
