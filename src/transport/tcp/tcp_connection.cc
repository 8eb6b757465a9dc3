#include "transport/tcp/tcp_connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/poller.h"

namespace gccl::transport::tcp {

namespace {
constexpr size_t kHeaderBytes = sizeof(FrameHeader);
}

TcpConnection::TcpConnection(Socket socket, int peer, std::string peerName)
    : socket_(std::move(socket)), peer_(peer), peerName_(std::move(peerName)) {
  socket_.setNonBlocking(true);
}

TcpConnection::~TcpConnection() = default;

void TcpConnection::postSend(Message& message) {
  message.moved = 0;
  message.header.bytes = static_cast<uint32_t>(message.bytes);
  sends_.push_back(&message);
  // Try at once: a small message usually fits the socket buffer, saving a loop iteration.
  if (sends_.size() == 1) progressSends();
}

void TcpConnection::postRecv(Message& message) {
  message.moved = 0;
  message.header.bytes = static_cast<uint32_t>(message.bytes);
  recvs_.push_back(&message);
}

bool TcpConnection::progress() {
  if (!socket_.valid()) {
    if (sends_.empty() && recvs_.empty()) return false;
    fail(Status::kRemoteError, "connection to ", peerName_, " was closed by this rank");
  }
  const bool sent = !sends_.empty() && progressSends();
  const bool received = !recvs_.empty() && progressRecvs();
  return sent || received;
}

bool TcpConnection::progressSends() {
  bool moved = false;
  while (!sends_.empty()) {
    Message& m = *sends_.front();
    iovec iov[2];
    int count = 0;
    if (m.moved < kHeaderBytes) {
      iov[count++] = {reinterpret_cast<char*>(&m.header) + m.moved, kHeaderBytes - m.moved};
    }
    const size_t payloadDone = m.moved > kHeaderBytes ? m.moved - kHeaderBytes : 0;
    if (m.bytes > payloadDone) {
      iov[count++] = {static_cast<char*>(m.data) + payloadDone, m.bytes - payloadDone};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    const ssize_t n = ::sendmsg(socket_.fd(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return moved;
      failIo("sending to", errno);
    }
    moved = true;
    m.moved += static_cast<size_t>(n);
    if (m.moved < kHeaderBytes + m.bytes) return moved;  // socket buffer full
    sends_.pop_front();
    m.done.store(true, std::memory_order_release);
  }
  return moved;
}

bool TcpConnection::progressRecvs() {
  bool moved = false;
  while (!recvs_.empty()) {
    Message& m = *recvs_.front();
    // Header and payload in one readv: a small message costs one system call. The header is
    // checked as soon as it is complete; a mismatch fails the whole collective, whose output
    // is then undefined anyway.
    iovec iov[2];
    int count = 0;
    if (m.moved < kHeaderBytes) {
      iov[count++] = {reinterpret_cast<char*>(&incoming_) + m.moved, kHeaderBytes - m.moved};
    }
    const size_t payloadDone = m.moved > kHeaderBytes ? m.moved - kHeaderBytes : 0;
    if (m.bytes > payloadDone) {
      iov[count++] = {static_cast<char*>(m.data) + payloadDone, m.bytes - payloadDone};
    }
    if (count > 0) {
      const ssize_t n = ::readv(socket_.fd(), iov, count);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return moved;
        failIo("receiving from", errno);
      }
      if (n == 0) {
        fail(Status::kRemoteError, "connection to ", peerName_,
             " closed by the peer (it exited, crashed or aborted)");
      }
      moved = true;
      const bool headerWasIncomplete = m.moved < kHeaderBytes;
      m.moved += static_cast<size_t>(n);
      if (headerWasIncomplete && m.moved >= kHeaderBytes)
        checkFrame(m.header, incoming_, peerName_);
      if (m.moved < kHeaderBytes + m.bytes) return moved;  // the socket is drained
    }
    recvs_.pop_front();
    m.done.store(true, std::memory_order_release);
  }
  return moved;
}

void TcpConnection::updatePoller(Poller& poller) {
  if (!socket_.valid()) return;
  if (!registered_) {
    poller.watch(socket_.fd());
    registered_ = true;
  }
  uint32_t events = 0;
  if (!sends_.empty()) events |= EPOLLOUT;
  if (!recvs_.empty()) events |= EPOLLIN;
  poller.setEvents(socket_.fd(), events);
}

void TcpConnection::abort() {
  if (!socket_.valid()) return;
  // A reset (linger 0) tells the peer at once, even with unsent data queued.
  const linger hard{1, 0};
  ::setsockopt(socket_.fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  socket_.close();
  registered_ = false;
}

void TcpConnection::failIo(const char* direction, int errnoValue) {
  fail(Status::kRemoteError, "connection failed while ", direction, " ", peerName_, ": ",
       std::strerror(errnoValue), " (the peer exited, crashed or aborted)");
}

}  // namespace gccl::transport::tcp
