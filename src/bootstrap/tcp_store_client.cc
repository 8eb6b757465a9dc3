#include <chrono>
#include <mutex>
#include <thread>

#include "base/error.h"
#include "bootstrap/tcp_store.h"

namespace gccl {

using store_wire::Header;
using store_wire::Type;

namespace {

// What a failed exchange with the store most likely means, for the message: the store lives
// in rank 0, so a connection it closed is rank 0 gone.
std::string whyStoreFailed(const Error& e) {
  if (e.status() == Status::kTimeout) return e.what();
  return strCat(e.what(), " (rank 0, which serves it, has failed or exited)");
}

// Takes the client's lock by `deadline`, polling: a get may hold it for as long as the server
// waits for its key. (std::timed_mutex would wait without polling, but its timed lock escapes
// GCC 12's ThreadSanitizer, which then reports every unlock of it.)
bool lockBy(std::unique_lock<std::mutex>& lock, const Deadline& deadline) {
  while (!lock.try_lock()) {
    if (deadline.expired()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

TcpStoreClient::TcpStoreClient(const SocketAddress& server, const JobToken& token, int timeoutMs)
    : server_(server), timeoutMs_(timeoutMs) {
  const Deadline deadline = Deadline::afterMs(timeoutMs);
  socket_ = Socket::connectTo(server, deadline);
  socket_.setNoDelay();
  sendFrame(Type::kHello, "", std::string(token.begin(), token.end()), deadline);
  Header reply{};
  try {
    socket_.recvAll(&reply, sizeof reply, deadline);
  } catch (const Error& e) {
    if (e.status() == Status::kTimeout) {
      fail(e.status(), "bootstrap store at ", server.toString(), " did not answer this rank's ",
           "hello within ", timeoutMs, " ms (rank 0 busy or stopped, or not a gccl store)");
    }
    fail(e.status(), "bootstrap store at ", server.toString(),
         " refused this rank (wrong job token, not a gccl store, or rank 0 failed): ", e.what());
  }
  if (reply.magic != store_wire::kMagic || reply.type != static_cast<uint32_t>(Type::kHelloOk)) {
    fail(Status::kRemoteError, "bootstrap store at ", server.toString(), " sent a malformed reply");
  }
}

void TcpStoreClient::sendFrame(Type type, const std::string& key, const std::string& value,
                               const Deadline& deadline) {
  const Header header{store_wire::kMagic, static_cast<uint32_t>(type),
                      static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value.size())};
  std::string frame(reinterpret_cast<const char*>(&header), sizeof header);
  frame += key;
  frame += value;
  socket_.sendAll(frame.data(), frame.size(), deadline);
}

void TcpStoreClient::requireInSync() const {
  if (desynchronized_) {
    fail(Status::kRemoteError, "the bootstrap store at ", server_.toString(),
         " did not answer an earlier request in time; the connection is no longer used");
  }
}

void TcpStoreClient::set(const std::string& key, const std::string& value) {
  if (key.size() > store_wire::kMaxKeyBytes || value.size() > store_wire::kMaxValueBytes) {
    fail(Status::kInvalidArgument, "store entry '", key, "' is too large");
  }
  std::lock_guard lock(mutex_);
  requireInSync();
  try {
    sendFrame(Type::kSet, key, value, Deadline::afterMs(timeoutMs_));
  } catch (const Error& e) {
    desynchronized_ = true;  // possibly cut off mid-frame
    fail(e.status(), "publishing '", key, "' to the bootstrap store at ", server_.toString(), ": ",
         whyStoreFailed(e));
  }
}

Header TcpStoreClient::receiveReply(const std::string& key, const Deadline& deadline) {
  Header reply{};
  try {
    socket_.recvAll(&reply, sizeof reply, deadline);
  } catch (const Error& e) {
    desynchronized_ = true;
    fail(e.status(), "waiting for '", key, "' from the bootstrap store at ", server_.toString(),
         ": ", whyStoreFailed(e));
  }
  const bool valueOrAbsent = reply.type == static_cast<uint32_t>(Type::kValue) ||
                             reply.type == static_cast<uint32_t>(Type::kAbsent);
  if (reply.magic != store_wire::kMagic || !valueOrAbsent ||
      reply.valueBytes > store_wire::kMaxValueBytes || reply.keyBytes != 0) {
    desynchronized_ = true;
    fail(Status::kRemoteError, "bootstrap store at ", server_.toString(),
         " sent a malformed reply for '", key, "'");
  }
  return reply;
}

std::string TcpStoreClient::get(const std::string& key, const Deadline& deadline) {
  std::lock_guard lock(mutex_);
  requireInSync();
  try {
    sendFrame(Type::kGet, key, "", deadline);
  } catch (const Error& e) {
    desynchronized_ = true;
    fail(e.status(), "asking for '", key, "' from the bootstrap store at ", server_.toString(),
         ": ", whyStoreFailed(e));
  }
  const Header reply = receiveReply(key, deadline);
  if (reply.type != static_cast<uint32_t>(Type::kValue)) {
    desynchronized_ = true;
    fail(Status::kRemoteError, "bootstrap store at ", server_.toString(), " answered a get of '",
         key, "' with no value");
  }
  std::string value(reply.valueBytes, '\0');
  try {
    socket_.recvAll(value.data(), value.size(), deadline);
  } catch (const Error& e) {
    desynchronized_ = true;  // cut off mid-value: what follows is no reply header
    fail(e.status(), "receiving '", key, "' from the bootstrap store at ", server_.toString(), ": ",
         whyStoreFailed(e));
  }
  return value;
}

bool TcpStoreClient::trySet(const std::string& key, const std::string& value,
                            const Deadline& deadline) {
  std::unique_lock lock(mutex_, std::defer_lock);
  if (!lockBy(lock, deadline)) return false;  // another request still runs
  if (desynchronized_ || key.size() > store_wire::kMaxKeyBytes ||
      value.size() > store_wire::kMaxValueBytes) {
    return false;
  }
  try {
    sendFrame(Type::kSet, key, value, deadline);
    return true;
  } catch (const Error&) {
    desynchronized_ = true;  // possibly cut off mid-frame
    return false;
  }
}

StoreProbe TcpStoreClient::probe(const std::string& key, const Deadline& deadline) {
  std::unique_lock lock(mutex_, std::defer_lock);
  if (!lockBy(lock, deadline)) return {};  // no answer, the connection still good
  if (desynchronized_ || key.size() > store_wire::kMaxKeyBytes) return {};
  try {
    sendFrame(Type::kProbe, key, "", deadline);
    const Header reply = receiveReply(key, deadline);
    if (reply.type == static_cast<uint32_t>(Type::kAbsent)) {
      return {StoreProbe::Result::kAbsent, {}};
    }
    std::string value(reply.valueBytes, '\0');
    socket_.recvAll(value.data(), value.size(), deadline);
    return {StoreProbe::Result::kFound, std::move(value)};
  } catch (const Error&) {
    desynchronized_ = true;
    return {};
  }
}

}  // namespace gccl
