// From a unique id to a connected communicator: the store, the machine census, the transport
// of each peer, the connections.
#pragma once

#include <memory>

#include "base/config.h"
#include "bootstrap/unique_id.h"
#include "core/communicator.h"

namespace gccl {

std::unique_ptr<Communicator> createCommunicator(int rank, int size, const UniqueId& id,
                                                 const Config& config);

}  // namespace gccl
