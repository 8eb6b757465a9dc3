#include "base/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "base/error.h"

namespace gccl {
namespace {

// How long a refused connection waits before the next try, at most: the listener may not be up
// yet, and a peer that comes up late should not find us asleep for long.
constexpr auto kMaxConnectBackoff = std::chrono::milliseconds(100);

// An IPv4 literal (or "" / "0.0.0.0" for every interface) needs no resolver.
std::optional<sockaddr_in> numericAddress(const SocketAddress& address) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(address.port));
  if (address.host.empty() || address.host == "0.0.0.0") {
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    return sa;
  }
  if (inet_pton(AF_INET, address.host.c_str(), &sa.sin_addr) == 1) return sa;
  return std::nullopt;
}

// getaddrinfo blocks for as long as the resolver takes (a dead DNS server costs its full retry
// schedule, often seconds) and cannot be interrupted: callers with a deadline check it after.
sockaddr_in resolveName(const SocketAddress& address) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(address.host.c_str(), nullptr, &hints, &result);
  if (rc != 0 || result == nullptr) {
    fail(Status::kInvalidArgument, "cannot resolve host '", address.host,
         "': ", rc != 0 ? gai_strerror(rc) : "no IPv4 address");
  }
  sockaddr_in sa = *reinterpret_cast<sockaddr_in*>(result->ai_addr);
  freeaddrinfo(result);
  sa.sin_port = htons(static_cast<uint16_t>(address.port));
  return sa;
}

// Without a deadline: only for the address this rank binds, its own (an interface address or
// GCCL_SOCKET_ADDR), which is normally numeric.
sockaddr_in resolve(const SocketAddress& address) {
  if (auto numeric = numericAddress(address)) return *numeric;
  return resolveName(address);
}

// For a peer's address: the deadline is checked as soon as getaddrinfo returns.
sockaddr_in resolveWithin(const SocketAddress& address, const Deadline& deadline) {
  if (auto numeric = numericAddress(address)) return *numeric;
  const sockaddr_in sa = resolveName(address);
  if (deadline.expired()) {
    fail(Status::kTimeout, "could not connect to ", address.toString(),
         ": resolving the host name outlasted the deadline");
  }
  return sa;
}

SocketAddress toAddress(const sockaddr_in& sa) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &sa.sin_addr, text, sizeof text);
  return {text, ntohs(sa.sin_port)};
}

int newSocket() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) failErrno(errno, "socket");
  return fd;
}

// One non-blocking connection attempt on fd: 0 once connected, else the errno that ended it
// (ETIMEDOUT when the deadline passed while the handshake was in flight).
int connectOnce(int fd, const sockaddr_in& sa, const Deadline& deadline) {
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  if (!waitFor(fd, POLLOUT, deadline)) return ETIMEDOUT;
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) return errno;
  return error;
}

}  // namespace

bool waitFor(int fd, short events, const Deadline& deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int ready = ::poll(&p, 1, deadline.remainingMs(1000));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) failErrno(errno, "poll");
    if (deadline.expired()) return false;
  }
}

SocketAddress SocketAddress::parse(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    fail(Status::kInvalidArgument, "address '", text, "' is not host:port");
  }
  int port = 0;
  for (size_t i = colon + 1; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9' || port > 65535) {
      fail(Status::kInvalidArgument, "address '", text, "' has a bad port");
    }
    port = port * 10 + (text[i] - '0');
  }
  if (port > 65535) fail(Status::kInvalidArgument, "address '", text, "' has a bad port");
  return {text.substr(0, colon), port};
}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.release();
  }
  return *this;
}

void Socket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Socket Socket::listenOn(const std::string& host, int port, int backlog) {
  Socket s(newSocket());
  const int one = 1;
  ::setsockopt(s.fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const sockaddr_in sa = resolve({host, port});
  if (::bind(s.fd_, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    failErrno(errno, strCat("bind to ", host, ":", port));
  }
  if (::listen(s.fd_, backlog) != 0) failErrno(errno, "listen");
  return s;
}

Socket Socket::connectTo(const SocketAddress& address, const Deadline& deadline) {
  const sockaddr_in sa = resolveWithin(address, deadline);
  int lastErrno = 0;
  auto backoff = std::chrono::milliseconds(1);
  while (!deadline.expired()) {
    Socket s(newSocket());
    s.setNonBlocking(true);
    lastErrno = connectOnce(s.fd_, sa, deadline);
    if (lastErrno == 0) {
      s.setNonBlocking(false);
      return s;
    }
    // Refused or reset: the listener may not be up yet. Back off, but never past the deadline.
    std::this_thread::sleep_until(std::min(Clock::now() + backoff, deadline.at()));
    backoff = std::min(backoff * 2, kMaxConnectBackoff);
  }
  fail(Status::kTimeout, "could not connect to ", address.toString(), " before the deadline",
       lastErrno != 0 ? strCat(" (last error: ", strerror(lastErrno), ")") : std::string());
}

namespace {

// What accept(2) may return for a connection that failed before it was taken: "treat them
// like EAGAIN by retrying".
bool isPendingConnectionError(int error) {
  switch (error) {
    case EINTR:
    case EAGAIN:
    case ECONNABORTED:
    case ENETDOWN:
    case EPROTO:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH: return true;
    default: return false;
  }
}

bool isExhaustion(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

}  // namespace

std::optional<Socket> Socket::accept(const Deadline& deadline, int* exhausted) const {
  for (;;) {
    if (!waitFor(fd_, POLLIN, deadline)) return std::nullopt;
    const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) return Socket(fd);
    if (isPendingConnectionError(errno)) continue;
    if (exhausted != nullptr && isExhaustion(errno)) {
      *exhausted = errno;
      return std::nullopt;
    }
    failErrno(errno, "accept");
  }
}

void Socket::sendAll(const void* data, size_t bytes, const Deadline& deadline) const {
  const auto* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::send(fd_, p, bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      bytes -= static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!waitFor(fd_, POLLOUT, deadline)) fail(Status::kTimeout, "send timed out");
    } else {
      fail(Status::kRemoteError, "connection closed while sending (", strerror(errno), ")");
    }
  }
}

void Socket::recvAll(void* data, size_t bytes, const Deadline& deadline) const {
  auto* p = static_cast<char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::recv(fd_, p, bytes, MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      bytes -= static_cast<size_t>(n);
    } else if (n == 0) {
      fail(Status::kRemoteError, "connection closed by peer");
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!waitFor(fd_, POLLIN, deadline)) fail(Status::kTimeout, "receive timed out");
    } else {
      fail(Status::kRemoteError, "connection failed while receiving (", strerror(errno), ")");
    }
  }
}

void Socket::setNonBlocking(bool enabled) const {
  const int flags = ::fcntl(fd_, F_GETFL, 0);
  ::fcntl(fd_, F_SETFL, enabled ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK));
}

void Socket::setNoDelay() const {
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void Socket::setBufferBytes(int bytes) const {
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

bool Socket::setCongestionControl(const std::string& algorithm) const {
  return ::setsockopt(fd_, IPPROTO_TCP, TCP_CONGESTION, algorithm.data(),
                      static_cast<socklen_t>(algorithm.size())) == 0;
}

SocketAddress Socket::localAddress() const {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  return toAddress(sa);
}

SocketAddress Socket::peerAddress() const {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  ::getpeername(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
  return toAddress(sa);
}

std::string defaultHostAddress() {
  ifaddrs* list = nullptr;
  std::string found = "127.0.0.1";
  if (getifaddrs(&list) != 0) return found;
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET) continue;
    if ((it->ifa_flags & IFF_LOOPBACK) != 0 || (it->ifa_flags & IFF_UP) == 0) continue;
    found = toAddress(*reinterpret_cast<sockaddr_in*>(it->ifa_addr)).host;
    break;
  }
  freeifaddrs(list);
  return found;
}

std::string localHostName() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

}  // namespace gccl
