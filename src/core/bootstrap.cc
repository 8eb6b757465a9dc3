#include "core/bootstrap.h"

#include <cstring>
#include <map>
#include <mutex>

#include "core/error.h"
#include "core/locality.h"
#include "core/logging.h"
#include "core/tcp_store.h"
#include "transport/tcp/tcp_transport.h"

namespace gccl {

namespace {

constexpr uint32_t kIdMagic = 0x47434944;  // "GCID"
constexpr size_t kMaxHostBytes = 64;

struct PackedId {
  uint32_t magic;
  uint32_t port;
  char host[kMaxHostBytes];
  char token[kJobTokenBytes];
};
static_assert(sizeof(PackedId) <= kUniqueIdBytes);

// Listening sockets reserved by createUniqueId, by job token. Process-wide by nature: the id
// is created before any communicator exists and travels out of band.
struct ReservedListeners {
  std::mutex mutex;
  std::map<JobToken, Socket> sockets;
};

ReservedListeners& reserved() {
  static ReservedListeners instance;
  return instance;
}

Socket takeReservedListener(const JobToken& token) {
  ReservedListeners& r = reserved();
  std::lock_guard lock(r.mutex);
  auto it = r.sockets.find(token);
  if (it == r.sockets.end()) return Socket();
  Socket socket = std::move(it->second);
  r.sockets.erase(it);
  return socket;
}

}  // namespace

void encodeUniqueId(const UniqueId& id, char (&out)[kUniqueIdBytes]) {
  if (id.root.host.size() >= kMaxHostBytes) {
    fail(Status::kInvalidArgument, "root host name '", id.root.host, "' is too long");
  }
  PackedId packed{};
  packed.magic = kIdMagic;
  packed.port = static_cast<uint32_t>(id.root.port);
  std::memcpy(packed.host, id.root.host.data(), id.root.host.size());
  std::memcpy(packed.token, id.token.data(), kJobTokenBytes);
  std::memset(out, 0, kUniqueIdBytes);
  std::memcpy(out, &packed, sizeof packed);
}

UniqueId decodeUniqueId(const char (&in)[kUniqueIdBytes]) {
  PackedId packed{};
  std::memcpy(&packed, in, sizeof packed);
  if (packed.magic != kIdMagic || packed.port == 0 || packed.port > 65535 ||
      packed.host[kMaxHostBytes - 1] != '\0') {
    fail(Status::kInvalidArgument,
         "the unique id is not one made by gcclGetUniqueId (uninitialized or corrupted)");
  }
  UniqueId id;
  id.root = {std::string(packed.host), static_cast<int>(packed.port)};
  std::memcpy(id.token.data(), packed.token, kJobTokenBytes);
  return id;
}

UniqueId createUniqueId(const Config& config) {
  UniqueId id;
  id.token = randomJobToken();
  const std::string host = config.socketAddr.empty() ? defaultHostAddress() : config.socketAddr;
  Socket listener = Socket::listenOn(host, config.rootPort);
  id.root = {host, listener.localAddress().port};
  ReservedListeners& r = reserved();
  std::lock_guard lock(r.mutex);
  r.sockets[id.token] = std::move(listener);
  return id;
}

// Each phase (reaching the store, the machine census, connecting to the peers) is bounded by
// the timeout on its own, so a failing init returns within three of them.
std::unique_ptr<Communicator> createTcpCommunicator(int rank, int size, const UniqueId& id,
                                                    const Config& config) {
  try {
    std::unique_ptr<TcpStoreServer> server;
    if (rank == 0) {
      Socket listener = takeReservedListener(id.token);
      if (!listener.valid()) listener = Socket::listenOn(id.root.host, id.root.port);
      server = std::make_unique<TcpStoreServer>(std::move(listener), id.token);
    }
    std::unique_ptr<TcpStoreClient> client;
    try {
      client = std::make_unique<TcpStoreClient>(id.root, id.token, config.timeoutMs);
    } catch (const Error& e) {
      fail(e.status(), "could not reach the bootstrap store of rank 0 at ", id.root.toString(),
           ": ", e.what());
    }
    // Every rank takes part in the census, whatever its own GCCL_SPIN_US: rank 0 waits for all.
    const MachineShare share =
        shareOfMachine(*client, rank, size, Deadline::afterMs(config.timeoutMs));
    Config resolved = config;
    if (resolved.spinUs == kAutoSpinUs) resolved.spinUs = autoSpinUs(share);
    logInfo(LogSubsys::kInit, "rank ", rank, ": ", share.ranks, " rank(s) and ", share.cpus,
            " CPU(s) on this machine; spinning ", resolved.spinUs, " us before sleeping");
    const std::string bindHost =
        config.socketAddr.empty() ? client->localAddress().host : config.socketAddr;
    transport::tcp::TcpTransport transport(bindHost, resolved);
    return std::make_unique<Communicator>(rank, size, resolved, id.token, std::move(client),
                                          std::move(server), transport);
  } catch (const Error& e) {
    // Every init failure names the rank: in a job of many processes, the log is interleaved.
    fail(e.status(), "initialising rank ", rank, " (of ", size, "): ", e.what());
  }
}

}  // namespace gccl
