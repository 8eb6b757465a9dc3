#include "core/init.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "base/logging.h"
#include "bootstrap/locality.h"
#include "bootstrap/tcp_store.h"
#include "core/shm_agreement.h"
#include "core/transport_router.h"
#include "transport/shm/shm_transport.h"
#include "transport/tcp/tcp_transport.h"
#ifdef GCCL_HAVE_UCX
#include "transport/ucx/ucx_transport.h"
#endif

namespace gccl {

namespace {

std::unique_ptr<TcpStoreClient> reachStore(const UniqueId& id, int timeoutMs) {
  try {
    return std::make_unique<TcpStoreClient>(id.root, id.token, timeoutMs);
  } catch (const Error& e) {
    fail(e.status(), "could not reach the bootstrap store of rank 0 at ", id.root.toString(), ": ",
         e.what());
  }
}

#ifdef GCCL_HAVE_UCX
constexpr bool kHaveUcx = true;
#else
constexpr bool kHaveUcx = false;
#endif

// An RDMA device the kernel knows of (InfiniBand, RoCE, iWARP): where UCX beats TCP.
bool rdmaDevicePresent() {
  std::error_code ignored;
  std::filesystem::directory_iterator devices("/sys/class/infiniband", ignored);
  return !ignored && devices != std::filesystem::directory_iterator();
}

// UCX is loaded only when used (transport/ucx/ucx_library.h): a build with UCX runs without it.
bool ucxLoadable() {
#ifdef GCCL_HAVE_UCX
  return transport::ucx::ucxLoadable();
#else
  return false;
#endif
}

std::shared_ptr<Transport> ucxTransport() {
#ifdef GCCL_HAVE_UCX
  return std::make_shared<transport::ucx::UcxTransport>();
#else
  fail(Status::kInvalidUsage,
       "GCCL_TRANSPORT=ucx: this gccl was built without UCX (install libucx-dev and rebuild)");
#endif
}

// Between machines: UCX under GCCL_TRANSPORT=ucx, or under auto when rank 0 has an RDMA device
// and UCX (`ucxBetweenMachines`, rank 0's finding shared with all: the two ends of a link must
// agree, and machines may differ); TCP otherwise. Within a machine (share.localRanks), under
// auto or shm, shared memory; under ucx, UCX's own. Split communicators route the same way,
// from their own census. Under auto, shared memory only when every rank of the machine could
// map it (`sharedMemoryAgreed`). Containers that share a kernel and a network namespace but
// not /dev/shm are one machine to the census and each maps its own: they need
// GCCL_TRANSPORT=tcp.
RouteFactory routePeers(const Config& config, const std::string& bindHost, bool ucxBetweenMachines,
                        bool sharedMemoryAgreed) {
  return [config, bindHost, ucxBetweenMachines, sharedMemoryAgreed](const MachineShare& share) {
    const bool ucx = config.transport == "ucx" || ucxBetweenMachines;
    TransportRouter router(ucx ? ucxTransport()
                               : std::make_shared<transport::tcp::TcpTransport>(bindHost, config));
    if (config.transport == "tcp" || config.transport == "ucx" || share.localRanks.size() < 2) {
      return router;
    }
    if (config.transport == "auto" && !sharedMemoryAgreed) return router;
    router.routeSameMachine(share.localRanks, std::make_shared<transport::shm::ShmTransport>(
                                                  config.shmSingleCopy, config.shmWriteBack));
    return router;
  };
}

// GCCL_TRANSPORT=auto within a machine: shared memory only if every rank of the machine can
// map it (shm_agreement.h). Split communicators keep this answer: their ranks on a machine are
// some of these.
bool agreeOnSharedMemory(Store& store, int rank, const Config& config, const MachineShare& share,
                         const Deadline& deadline) {
  if (config.transport != "auto" || share.localRanks.size() < 2) return true;
  std::string why;
  const bool usable = transport::shm::sharedMemoryUsable(&why);
  return machineAgreesOnSharedMemory(store, rank, usable, why, share.localRanks, deadline);
}

// GCCL_TRANSPORT=auto between machines: rank 0 looks for an RDMA device and tells everyone.
bool shareUcxChoice(Store& store, int rank, const Config& config, const Deadline& deadline) {
  if (config.transport != "auto") return false;
  constexpr const char* kKey = "transport/between-machines";
  if (rank == 0) store.set(kKey, kHaveUcx && rdmaDevicePresent() && ucxLoadable() ? "ucx" : "tcp");
  return store.get(kKey, deadline) == "ucx";
}

// Every rank predicts with rank 0's figures: ranks predicting with different ones could choose
// different algorithms and wait for each other for ever. A tune file rank 0 cannot use only
// costs speed, not results: rank 0 warns and everyone takes the defaults.
CostFigures shareCostFigures(Store& store, int rank, const Config& config,
                             const Deadline& deadline) {
  constexpr const char* kKey = "tune/figures";
  if (rank == 0) {
    CostFigures figures;
    if (!config.tuneFile.empty()) {
      try {
        std::ifstream file(config.tuneFile);
        std::stringstream text;
        text << file.rdbuf();
        if (!file) fail(Status::kInvalidArgument, "cannot read it");
        figures = parseCostFigures(text.str());
      } catch (const Error& e) {
        logWarn(LogSubsys::kInit, std::source_location::current(),
                "rank 0: GCCL_TUNE_FILE=", config.tuneFile, " is not used (", e.what(),
                "); every rank takes the defaults");
      }
    }
    store.set(kKey, formatCostFigures(figures));
  }
  return parseCostFigures(store.get(kKey, deadline));
}

// How long rank 0's store keeps serving after rank 0's init failed, at most.
constexpr int kStoreLingerMs = 2000;

}  // namespace

// Each phase (reaching the store, the machine census, connecting to the peers) is bounded by
// the timeout on its own, so a failing init returns within three of them.
std::unique_ptr<Communicator> createCommunicator(int rank, int size, const UniqueId& id,
                                                 const Config& config) {
  setLogRank(rank);  // this thread's log lines during init name the rank it initialises
  std::unique_ptr<TcpStoreServer> server;
  try {
    if (rank == 0) {
      Socket listener = takeReservedListener(id.token);
      if (!listener.valid()) listener = Socket::listenOn(id.root.host, id.root.port);
      server = std::make_unique<TcpStoreServer>(std::move(listener), id.token);
    }
    std::unique_ptr<TcpStoreClient> client = reachStore(id, config.timeoutMs);
    // Every rank takes part in the census, whatever its own GCCL_SPIN_US and GCCL_YIELD_US:
    // rank 0 waits for all.
    const MachineShare share =
        shareOfMachine(*client, rank, size, Deadline::afterMs(config.timeoutMs), config.hostId,
                       settingsEveryRankShares(config));
    Config resolved = config;
    if (resolved.spinUs == kAutoSpinUs) resolved.spinUs = autoSpinUs(share);
    if (resolved.yieldUs == kAutoYieldUs) resolved.yieldUs = autoYieldUs(share);
    logInfo(LogSubsys::kInit, "rank ", rank, ": ", share.ranks, " rank(s) and ", share.cpus,
            " CPU(s) on this machine; spinning ", resolved.spinUs, " us, then yielding ",
            resolved.yieldUs, " us before sleeping");
    const std::string bindHost =
        config.socketAddr.empty() ? client->localAddress().host : config.socketAddr;
    const bool ucxBetweenMachines =
        shareUcxChoice(*client, rank, config, Deadline::afterMs(config.timeoutMs));
    const bool sharedMemory =
        agreeOnSharedMemory(*client, rank, config, share, Deadline::afterMs(config.timeoutMs));
    const RouteFactory routes = routePeers(resolved, bindHost, ucxBetweenMachines, sharedMemory);
    JobLayout layout{share.hostOf,
                     shareCostFigures(*client, rank, config, Deadline::afterMs(config.timeoutMs))};
    return std::make_unique<Communicator>(rank, size, resolved, id.token, std::move(client),
                                          std::move(server), routes(share), routes, std::string(),
                                          std::move(layout));
  } catch (const Error& e) {
    // Rank 0's store outlives its failure a little, so that the others can read why (the
    // census posts its refusals there) instead of finding the store gone.
    if (server) {
      server->lingerOnClose(std::min(config.timeoutMs, kStoreLingerMs));
      server.reset();
    }
    // Every init failure names the rank: in a job of many processes, the log is interleaved.
    fail(e.status(), "initialising rank ", rank, " (of ", size, "): ", e.what());
  }
}

}  // namespace gccl
