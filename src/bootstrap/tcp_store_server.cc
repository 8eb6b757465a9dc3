#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "base/error.h"
#include "base/logging.h"
#include "bootstrap/tcp_store.h"

namespace gccl {

using store_wire::Header;
using store_wire::Type;

namespace {
// A client gets this long to present the job token, and this long to finish a frame it began:
// a silent or slow stranger costs the server at most that, never a hang. Ranks send their
// hello right after connecting, so unauthenticated clients get a much shorter frame budget,
// and at most kMaxStrangers of them are kept (the oldest is dropped first).
constexpr int kHelloTimeoutMs = 10000;
constexpr int kFrameTimeoutMs = 2000;
constexpr int kStrangerFrameTimeoutMs = 100;
constexpr size_t kMaxStrangers = 64;
}  // namespace

struct TcpStoreServer::Client {
  Socket socket;
  SocketAddress peer;
  bool authenticated = false;
  Clock::time_point connectedAt = Clock::now();
  std::vector<std::string> waitingFor;  // keys of outstanding gets, answered in order
};

TcpStoreServer::TcpStoreServer(Socket listener, const JobToken& token)
    : listener_(std::move(listener)), address_(listener_.localAddress()), token_(token) {
  if (::pipe2(wakePipe_, O_CLOEXEC) != 0) failErrno(errno, "pipe2");
  thread_ = std::thread([this] { serve(); });
}

TcpStoreServer::~TcpStoreServer() {
  const char byte = 0;
  [[maybe_unused]] ssize_t n = ::write(wakePipe_[1], &byte, 1);
  thread_.join();
  for (auto& [fd, client] : clients_) delete client;
  ::close(wakePipe_[0]);
  ::close(wakePipe_[1]);
}

void TcpStoreServer::serve() {
  // The store must outlive any stranger: nothing thrown here may take rank 0 down.
  for (;;) {
    try {
      if (!serveOnce()) return;
    } catch (const std::exception& e) {
      GCCL_WARN(LogSubsys::kInit, "bootstrap store: ", e.what());
    }
  }
}

void TcpStoreServer::admit(Socket socket) {
  size_t strangers = 0;
  Client* oldest = nullptr;
  for (auto& [fd, client] : clients_) {
    if (client->authenticated) continue;
    ++strangers;
    if (oldest == nullptr || client->connectedAt < oldest->connectedAt) oldest = client;
  }
  if (strangers >= kMaxStrangers && oldest != nullptr) {
    GCCL_WARN(LogSubsys::kInit, "bootstrap store dropped ", oldest->peer.toString(),
              ": too many unauthenticated connections");
    clients_.erase(oldest->socket.fd());
    delete oldest;
  }
  auto* client = new Client{std::move(socket), {}, false, Clock::now(), {}};
  client->peer = client->socket.peerAddress();
  clients_[client->socket.fd()] = client;
}

bool TcpStoreServer::serveOnce() {
  {
    std::vector<pollfd> fds = {{wakePipe_[0], POLLIN, 0}, {listener_.fd(), POLLIN, 0}};
    for (auto& [fd, client] : clients_) fds.push_back({fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) return false;
    if (fds[0].revents != 0) return false;
    if (fds[1].revents != 0) {
      try {
        if (auto socket = listener_.accept(Deadline::afterMs(0))) admit(std::move(*socket));
      } catch (const Error& e) {  // e.g. out of file descriptors: shed the strangers
        GCCL_WARN(LogSubsys::kInit, "bootstrap store could not accept: ", e.what());
        dropStrangers();
      }
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Client* client = clients_.at(fds[i].fd);
      bool keep = false;
      try {
        keep = handleFrame(*client);
      } catch (const Error& e) {
        if (!client->authenticated)
          GCCL_WARN(LogSubsys::kInit, "bootstrap store refused connection from ",
                    client->peer.toString(), ": ", e.what());
      }
      if (!keep) {
        clients_.erase(fds[i].fd);
        delete client;
      }
    }
    const auto now = Clock::now();
    for (auto it = clients_.begin(); it != clients_.end();) {
      Client* client = it->second;
      if (!client->authenticated &&
          now - client->connectedAt > std::chrono::milliseconds(kHelloTimeoutMs)) {
        GCCL_WARN(LogSubsys::kInit, "bootstrap store dropped ", client->peer.toString(),
                  ": no job token within ", kHelloTimeoutMs, " ms");
        delete client;
        it = clients_.erase(it);
      } else {
        ++it;
      }
    }
  }
  return true;
}

void TcpStoreServer::dropStrangers() {
  for (auto it = clients_.begin(); it != clients_.end();) {
    if (it->second->authenticated) {
      ++it;
      continue;
    }
    delete it->second;
    it = clients_.erase(it);
  }
}

bool TcpStoreServer::handleFrame(Client& client) {
  const Deadline deadline =
      Deadline::afterMs(client.authenticated ? kFrameTimeoutMs : kStrangerFrameTimeoutMs);
  Header header{};
  try {
    client.socket.recvAll(&header, sizeof header, deadline);
  } catch (const Error&) {
    return false;  // a rank that finished bootstrap and left, or a stranger hanging up
  }
  if (header.magic != store_wire::kMagic || header.keyBytes > store_wire::kMaxKeyBytes ||
      header.valueBytes > store_wire::kMaxValueBytes) {
    GCCL_WARN(LogSubsys::kInit, "bootstrap store dropped ", client.peer.toString(),
              ": malformed frame (magic ", header.magic, ", key ", header.keyBytes, " B, value ",
              header.valueBytes, " B)");
    return false;
  }
  std::string key(header.keyBytes, '\0');
  std::string value(header.valueBytes, '\0');
  client.socket.recvAll(key.data(), key.size(), deadline);
  client.socket.recvAll(value.data(), value.size(), deadline);
  const auto type = static_cast<Type>(header.type);
  if (!client.authenticated) {
    if (type != Type::kHello || value.size() != token_.size() ||
        std::memcmp(value.data(), token_.data(), token_.size()) != 0) {
      GCCL_WARN(LogSubsys::kInit, "bootstrap store refused connection from ",
                client.peer.toString(), ": wrong job token");
      return false;
    }
    client.authenticated = true;
    const Header ok{store_wire::kMagic, static_cast<uint32_t>(Type::kHelloOk), 0, 0};
    client.socket.sendAll(&ok, sizeof ok, deadline);
    return true;
  }
  if (type == Type::kSet) {
    values_[key] = std::move(value);
    answerWaiters(key);
    return true;
  }
  if (type == Type::kGet) {
    client.waitingFor.push_back(key);
    answerWaiters(key);
    return true;
  }
  if (type == Type::kProbe) return answerProbe(client, key, deadline);
  GCCL_WARN(LogSubsys::kInit, "bootstrap store dropped ", client.peer.toString(),
            ": unexpected frame type ", header.type);
  return false;
}

bool TcpStoreServer::answerProbe(Client& client, const std::string& key, const Deadline& deadline) {
  lastProbe_.store(Clock::now());
  if (!client.waitingFor.empty()) {
    // Replies go out in request order: answering this one now would overtake the get.
    GCCL_WARN(LogSubsys::kInit, "bootstrap store dropped ", client.peer.toString(),
              ": a probe while a get was outstanding");
    return false;
  }
  const auto found = values_.find(key);
  const Type type = found == values_.end() ? Type::kAbsent : Type::kValue;
  const std::string value = found == values_.end() ? std::string() : found->second;
  const Header reply{store_wire::kMagic, static_cast<uint32_t>(type), 0,
                     static_cast<uint32_t>(value.size())};
  std::string frame(reinterpret_cast<const char*>(&reply), sizeof reply);
  frame += value;
  client.socket.sendAll(frame.data(), frame.size(), deadline);
  return true;
}

void TcpStoreServer::answerWaiters(const std::string& key) {
  const auto found = values_.find(key);
  if (found == values_.end()) return;
  for (auto& [fd, client] : clients_) {
    // Gets are answered in the order they were asked: only the oldest can be answered.
    while (!client->waitingFor.empty() && values_.count(client->waitingFor.front()) > 0) {
      const std::string& value = values_.at(client->waitingFor.front());
      const Header reply{store_wire::kMagic, static_cast<uint32_t>(Type::kValue), 0,
                         static_cast<uint32_t>(value.size())};
      std::string frame(reinterpret_cast<const char*>(&reply), sizeof reply);
      frame += value;
      try {
        client->socket.sendAll(frame.data(), frame.size(), Deadline::afterMs(kFrameTimeoutMs));
      } catch (const Error& e) {
        GCCL_WARN(LogSubsys::kInit, "bootstrap store could not answer ", client->peer.toString(),
                  ": ", e.what());
      }
      client->waitingFor.erase(client->waitingFor.begin());
    }
  }
}

}  // namespace gccl
