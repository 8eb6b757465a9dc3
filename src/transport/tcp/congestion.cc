#include "transport/tcp/congestion.h"

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/logging.h"

namespace gccl::transport::tcp {

namespace {
constexpr const char* kSameMachineAlgorithm = "reno";
}

bool isSameMachine(const std::string& peerHost, const std::string& localHost) {
  return peerHost.rfind("127.", 0) == 0 || peerHost == localHost;
}

std::string congestionFor(const std::string& setting, const std::string& peerHost,
                          const std::string& localHost) {
  if (setting == "system") return "";
  if (setting == "auto") return isSameMachine(peerHost, localHost) ? kSameMachineAlgorithm : "";
  return setting;
}

void applyCongestion(const Socket& socket, const std::string& setting, const std::string& peerHost,
                     const std::string& localHost) {
  const std::string algorithm = congestionFor(setting, peerHost, localHost);
  if (algorithm.empty() || socket.setCongestionControl(algorithm)) return;
  if (setting == "auto") {
    logInfo(LogSubsys::kNet, "congestion control ", algorithm, " unavailable (",
            std::strerror(errno), "): keeping the system's");
    return;
  }
  fail(Status::kInvalidArgument, "GCCL_SOCKET_CONGESTION=", setting, ": the kernel refuses it (",
       std::strerror(errno), "); see net.ipv4.tcp_allowed_congestion_control");
}

}  // namespace gccl::transport::tcp
