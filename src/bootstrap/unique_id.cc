#include "bootstrap/unique_id.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <mutex>
#include <utility>

#include "base/error.h"

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

// Listening sockets reserved by createUniqueId, by job token, oldest first. Process-wide by
// nature: the id is created before any communicator exists and travels out of band. At most
// kMaxReservedListeners are kept: a process that makes ids it never uses (one per retry) must
// not run out of descriptors. An id whose reservation went still works: rank 0 binds its port
// again at init, unless another process took the port meanwhile.

struct ReservedListeners {
  std::mutex mutex;
  std::deque<std::pair<JobToken, Socket>> sockets;
};

ReservedListeners& reserved() {
  static ReservedListeners instance;
  return instance;
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
  if (r.sockets.size() == kMaxReservedListeners) r.sockets.pop_front();
  r.sockets.emplace_back(id.token, std::move(listener));
  return id;
}

Socket takeReservedListener(const JobToken& token) {
  ReservedListeners& r = reserved();
  std::lock_guard lock(r.mutex);
  auto it = std::find_if(r.sockets.begin(), r.sockets.end(),
                         [&](const auto& entry) { return entry.first == token; });
  if (it == r.sockets.end()) return Socket();
  Socket socket = std::move(it->second);
  r.sockets.erase(it);
  return socket;
}

}  // namespace gccl
