#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/logging.h"
#include "base/warning_budget.h"
#include "bootstrap/tcp_store.h"

namespace gccl {

using store_wire::Header;
using store_wire::Type;

namespace {
// The server never waits for a client's bytes: it reads what has arrived and keeps a partial
// frame for later, so a silent or slow stranger (or many) costs it nothing but a descriptor
// and a bounded buffer. A client gets kHelloTimeoutMs to present the job token; at most
// kMaxStrangers are kept without one (the oldest is dropped first). Replies to ranks may wait
// up to kReplyTimeoutMs for room in their socket.
constexpr int kHelloTimeoutMs = 10000;
constexpr int kReplyTimeoutMs = 2000;
constexpr size_t kMaxStrangers = 64;
constexpr size_t kReadBytes = 64 << 10;
constexpr auto kAcceptPause = std::chrono::milliseconds(100);  // out of descriptors
constexpr int kLingerSettleMs = 500;  // lingerOnClose: ranks that have not connected yet
}  // namespace

struct TcpStoreServer::Client {
  Socket socket;
  SocketAddress peer;
  bool authenticated = false;
  Clock::time_point connectedAt = Clock::now();
  std::string inbox;                    // bytes received that are not yet a whole frame
  std::vector<std::string> waitingFor;  // keys of outstanding gets, answered in order
};

TcpStoreServer::TcpStoreServer(Socket listener, const JobToken& token)
    : listener_(std::move(listener)), address_(listener_.localAddress()), token_(token) {
  if (::pipe2(wakePipe_, O_CLOEXEC) != 0) failErrno(errno, "pipe2");
  thread_ = std::thread([this] {
    setLogRank(0);  // the store is rank 0's: its warnings say so
    serve();
  });
}

TcpStoreServer::~TcpStoreServer() {
  // Lingering: a short while for ranks still on their way, then until the last hangs up.
  const Deadline settled = Deadline::afterMs(std::min(lingerMs_, kLingerSettleMs));
  const Deadline lingerEnds = Deadline::afterMs(lingerMs_);
  while ((!settled.expired() || ranksConnected_.load() > 0) && !lingerEnds.expired()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
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
    GCCL_WARN_WITHIN(strangerWarnings_, LogSubsys::kInit, "bootstrap store dropped ",
                     oldest->peer.toString(), ": too many unauthenticated connections");
    clients_.erase(oldest->socket.fd());
    delete oldest;
  }
  auto* client = new Client{std::move(socket), {}, false, Clock::now(), {}, {}};
  client->peer = client->socket.peerAddress();
  clients_[client->socket.fd()] = client;
}

bool TcpStoreServer::serveOnce() {
  {
    const bool accepting = Clock::now() >= acceptPausedUntil_;
    std::vector<pollfd> fds = {{wakePipe_[0], POLLIN, 0},
                               {accepting ? listener_.fd() : -1, POLLIN, 0}};
    for (auto& [fd, client] : clients_) fds.push_back({fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) return false;
    if (fds[0].revents != 0) return false;
    if (fds[1].revents != 0) {
      int exhausted = 0;
      if (auto socket = listener_.accept(Deadline::afterMs(0), &exhausted)) {
        admit(std::move(*socket));
      } else if (exhausted != 0) {  // out of descriptors: the strangers go first
        const size_t dropped = dropStrangers();
        GCCL_WARN_WITHIN(strangerWarnings_, LogSubsys::kInit, "bootstrap store could not accept (",
                         std::strerror(exhausted), "): dropped ", dropped,
                         " unauthenticated connection(s)");
        if (dropped == 0) acceptPausedUntil_ = Clock::now() + kAcceptPause;
      }
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const auto found = clients_.find(fds[i].fd);
      if (found == clients_.end()) continue;  // dropped by admit() in this round
      Client* client = found->second;
      bool keep = false;
      try {
        keep = handleReadable(*client);
      } catch (const Error& e) {
        if (!client->authenticated)
          GCCL_WARN_WITHIN(strangerWarnings_, LogSubsys::kInit,
                           "bootstrap store refused connection from ", client->peer.toString(),
                           ": ", e.what());
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
        GCCL_WARN_WITHIN(strangerWarnings_, LogSubsys::kInit, "bootstrap store dropped ",
                         client->peer.toString(), ": no job token within ", kHelloTimeoutMs, " ms");
        delete client;
        it = clients_.erase(it);
      } else {
        ++it;
      }
    }
  }
  size_t ranks = 0;
  for (const auto& [fd, client] : clients_) ranks += client->authenticated ? 1 : 0;
  ranksConnected_.store(ranks);
  return true;
}

size_t TcpStoreServer::dropStrangers() {
  size_t dropped = 0;
  for (auto it = clients_.begin(); it != clients_.end();) {
    if (it->second->authenticated) {
      ++it;
      continue;
    }
    delete it->second;
    it = clients_.erase(it);
    ++dropped;
  }
  return dropped;
}

bool TcpStoreServer::handleReadable(Client& client) {
  char buffer[kReadBytes];
  for (;;) {
    const ssize_t n = ::recv(client.socket.fd(), buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0) return false;  // a rank that finished bootstrap and left, or a stranger
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;  // else the connection failed
    }
    client.inbox.append(buffer, static_cast<size_t>(n));
    if (!handleFrames(client)) return false;
    if (static_cast<size_t>(n) < sizeof buffer) return true;
  }
}

bool TcpStoreServer::handleFrames(Client& client) {
  while (client.inbox.size() >= sizeof(Header)) {
    Header header{};
    std::memcpy(&header, client.inbox.data(), sizeof header);
    if (header.magic != store_wire::kMagic || header.keyBytes > store_wire::kMaxKeyBytes ||
        header.valueBytes > store_wire::kMaxValueBytes) {
      GCCL_WARN_WITHIN(strangerWarnings_, LogSubsys::kInit, "bootstrap store dropped ",
                       client.peer.toString(), ": malformed frame (magic ", header.magic, ", key ",
                       header.keyBytes, " B, value ", header.valueBytes, " B)");
      return false;
    }
    // Before the token, only a hello of the token's length: nothing else is buffered.
    if (!client.authenticated && (header.type != static_cast<uint32_t>(Type::kHello) ||
                                  header.keyBytes != 0 || header.valueBytes != token_.size())) {
      GCCL_WARN_WITHIN(strangerWarnings_, LogSubsys::kInit,
                       "bootstrap store refused connection from ", client.peer.toString(),
                       ": no job token");
      return false;
    }
    const size_t frameBytes = sizeof header + header.keyBytes + header.valueBytes;
    if (client.inbox.size() < frameBytes) return true;  // the rest comes later
    std::string key = client.inbox.substr(sizeof header, header.keyBytes);
    std::string value = client.inbox.substr(sizeof header + header.keyBytes, header.valueBytes);
    client.inbox.erase(0, frameBytes);
    if (!handleFrame(client, static_cast<Type>(header.type), key, std::move(value))) {
      return false;
    }
  }
  return true;
}

bool TcpStoreServer::handleFrame(Client& client, Type type, const std::string& key,
                                 std::string value) {
  const Deadline deadline = Deadline::afterMs(kReplyTimeoutMs);
  if (!client.authenticated) {
    if (!isJobToken(token_, value.data())) {
      GCCL_WARN_WITHIN(strangerWarnings_, LogSubsys::kInit,
                       "bootstrap store refused connection from ", client.peer.toString(),
                       ": wrong job token");
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
            ": unexpected frame type ", static_cast<uint32_t>(type));
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
        client->socket.sendAll(frame.data(), frame.size(), Deadline::afterMs(kReplyTimeoutMs));
      } catch (const Error& e) {
        GCCL_WARN(LogSubsys::kInit, "bootstrap store could not answer ", client->peer.toString(),
                  ": ", e.what());
      }
      client->waitingFor.erase(client->waitingFor.begin());
    }
  }
}

}  // namespace gccl
