// The settings gccl makes in UCX's configuration, before UCP starts. The user's environment wins:
// a setting the user made (UCX_<NAME>) is left as it is.
#pragma once

#include <string>
#include <string_view>

#include "transport/ucx/ucx_library.h"

namespace gccl::transport::ucx {

// Applies gccl's settings to `config`, read from the environment by ucp_config_read.
void applyGcclSettings(ucp_config_t* config);

// `config` as ucp_config_print writes it: UCP's settings as UCX_<NAME>=value lines, then those
// it hands on to the transports as <NAME>=value.
std::string printedConfig(ucp_config_t* config);

// Whether UCX, with these values of UCX_TLS and UCX_NET_DEVICES as ucp_config_print writes
// them, may open its TCP transport: a transport setting that no opened transport takes makes
// UCX warn at every worker's creation.
bool tcpTransportAllowed(std::string_view tls, std::string_view netDevices);

}  // namespace gccl::transport::ucx
