// TCP congestion control of data sockets (GCCL_SOCKET_CONGESTION). Between ranks of one machine
// there is no network to share, yet BBR — the default of many kernels, this one included —
// still paces loopback traffic with timers: measured on a 2-core VM, a 4-rank 64 MiB allreduce
// moved 2x more bytes per second under reno. So by default ("auto") such sockets use reno,
// which every kernel offers to every user; sockets to other machines keep the system's
// choice, which their operators made for their network.
#pragma once

#include <string>

#include "base/socket.h"

namespace gccl::transport::tcp {

// Whether `peerHost` is this machine: a loopback address, or the address this rank advertises.
bool isSameMachine(const std::string& peerHost, const std::string& localHost);

// The algorithm a data socket to `peerHost` gets under `setting` ("auto", "system" or a
// name); empty: leave the socket as the system made it.
std::string congestionFor(const std::string& setting, const std::string& peerHost,
                          const std::string& localHost);

// Applies congestionFor() to `socket`. A named algorithm the kernel refuses is an
// InvalidArgument error naming GCCL_SOCKET_CONGESTION; "auto" falls back silently.
void applyCongestion(const Socket& socket, const std::string& setting, const std::string& peerHost,
                     const std::string& localHost);

}  // namespace gccl::transport::tcp
