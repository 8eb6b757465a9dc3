// The settings gccl makes in UCX's configuration, before UCP starts. The user's environment wins:
// a setting the user made (UCX_<NAME>) is left as it is.
#pragma once

#include "transport/ucx/ucx_library.h"

namespace gccl::transport::ucx {

// Applies gccl's settings to `config`, read from the environment by ucp_config_read.
void applyGcclSettings(ucp_config_t* config);

// Whether a UCX_TLS value (null when unset) lets UCX open its TCP transport.
bool tcpTransportAllowed(const char* tls);

}  // namespace gccl::transport::ucx
