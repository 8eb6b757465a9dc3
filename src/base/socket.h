// A thin RAII wrapper over IPv4 TCP sockets with deadline-bounded blocking helpers, used by the
// bootstrap store and connection set-up. The data path (transport/tcp) uses the raw fd.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "base/deadline.h"

namespace gccl {

struct SocketAddress {
  std::string host;
  int port = 0;

  std::string toString() const { return host + ":" + std::to_string(port); }
  // Parses "host:port"; throws Error(kInvalidArgument) when malformed.
  static SocketAddress parse(const std::string& text);
};

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() { close(); }
  Socket(Socket&& other) noexcept : fd_(other.release()) {}
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // host "" or "0.0.0.0" listens on every interface; port 0 picks an ephemeral port.
  static Socket listenOn(const std::string& host, int port, int backlog = 1024);
  // Retries refused connections (the peer may not listen yet) until the deadline, then throws
  // kTimeout naming the address. A numeric host needs no resolver; a name goes through
  // getaddrinfo, which cannot be interrupted, so a slow resolver overruns the deadline by as
  // long as it takes (the deadline is checked when it returns).
  static Socket connectTo(const SocketAddress& address, const Deadline& deadline);
  // Returns nullopt when the deadline passes first. A pending connection's network error is
  // retried (accept(2) passes those up). Out of descriptors or memory: throws, or, with
  // `exhausted`, returns nullopt with its errno there, so that a listener can shed what it
  // holds for strangers and try again.
  std::optional<Socket> accept(const Deadline& deadline, int* exhausted = nullptr) const;

  // Block (in poll) until every byte moved; throw kRemoteError on EOF, kTimeout at the deadline.
  void sendAll(const void* data, size_t bytes, const Deadline& deadline) const;
  void recvAll(void* data, size_t bytes, const Deadline& deadline) const;

  void setNonBlocking(bool enabled) const;
  void setNoDelay() const;
  void setBufferBytes(int bytes) const;
  // TCP_CONGESTION; false (errno set) when the kernel lacks the algorithm or refuses it.
  bool setCongestionControl(const std::string& algorithm) const;

  SocketAddress localAddress() const;
  SocketAddress peerAddress() const;

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void close();

 private:
  int fd_ = -1;
};

// The IPv4 address this host should advertise: the first non-loopback interface address, or
// 127.0.0.1 when there is none.
std::string defaultHostAddress();

// Hostname of this machine, for messages that name a peer's host.
std::string localHostName();

// Waits for poll `events` on fd; false when the deadline passed first.
bool waitFor(int fd, short events, const Deadline& deadline);

}  // namespace gccl
