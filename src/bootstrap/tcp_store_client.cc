#include "base/error.h"
#include "bootstrap/tcp_store.h"

namespace gccl {

using store_wire::Header;
using store_wire::Type;

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
    fail(e.status(), "bootstrap store at ", server.toString(),
         " refused this rank (wrong job token or not a gccl store): ", e.what());
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

void TcpStoreClient::set(const std::string& key, const std::string& value) {
  if (key.size() > store_wire::kMaxKeyBytes || value.size() > store_wire::kMaxValueBytes) {
    fail(Status::kInvalidArgument, "store entry '", key, "' is too large");
  }
  sendFrame(Type::kSet, key, value, Deadline::afterMs(timeoutMs_));
}

std::string TcpStoreClient::get(const std::string& key, const Deadline& deadline) {
  sendFrame(Type::kGet, key, "", deadline);
  Header reply{};
  try {
    socket_.recvAll(&reply, sizeof reply, deadline);
  } catch (const Error& e) {
    fail(e.status(), "waiting for '", key, "' from the bootstrap store at ", server_.toString(),
         ": ", e.what());
  }
  if (reply.magic != store_wire::kMagic || reply.type != static_cast<uint32_t>(Type::kValue) ||
      reply.valueBytes > store_wire::kMaxValueBytes || reply.keyBytes != 0) {
    fail(Status::kRemoteError, "bootstrap store at ", server_.toString(),
         " sent a malformed reply for '", key, "'");
  }
  std::string value(reply.valueBytes, '\0');
  socket_.recvAll(value.data(), value.size(), deadline);
  return value;
}

}  // namespace gccl
