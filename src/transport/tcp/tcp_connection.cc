#include "transport/tcp/tcp_connection.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/poller.h"

namespace gccl::transport::tcp {

namespace {
constexpr size_t kHeaderBytes = sizeof(FrameHeader);
constexpr int kNoticeWaitMs = 100;  // bounds each side of a failure notice's exchange
}  // namespace

TcpConnection::TcpConnection(Socket out, Socket in, int peer, std::string peerName)
    : out_(std::move(out)), in_(std::move(in)), peer_(peer), peerName_(std::move(peerName)) {
  out_.setNonBlocking(true);
  in_.setNonBlocking(true);
}

TcpConnection::~TcpConnection() = default;

void TcpConnection::postSend(Message& message) {
  message.moved = 0;
  message.header.bytes = message.bytes;
  sends_.push_back(&message);
  // Try at once: a small message usually fits the socket buffer, saving a loop iteration.
  if (sends_.size() == 1) progressSends();
}

void TcpConnection::postRecv(Message& message) {
  message.moved = 0;
  message.header.bytes = message.bytes;
  recvs_.push_back(&message);
}

bool TcpConnection::progress() {
  if (!out_.valid()) {
    if (sends_.empty() && recvs_.empty()) return false;
    fail(Status::kRemoteError, "connection to ", peerName_, " was closed by this rank");
  }
  const bool sent = !sends_.empty() && progressSends();
  const bool received = !recvs_.empty() && progressRecvs();
  return sent || received;
}

ssize_t TcpConnection::sendRest(Message& m) {
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
  const ssize_t n = ::sendmsg(out_.fd(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n > 0) m.moved += static_cast<size_t>(n);
  return n;
}

bool TcpConnection::progressSends() {
  bool moved = false;
  while (!sends_.empty()) {
    Message& m = *sends_.front();
    if (sendRest(m) < 0) {
      if (errno == EAGAIN || errno == EINTR) return moved;
      failIo("sending to", errno);
    }
    moved = true;
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
      const ssize_t n = ::readv(in_.fd(), iov, count);
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
      if (headerWasIncomplete && m.moved >= kHeaderBytes) {
        if (isFailureNotice(incoming_))
          throwNotice(static_cast<const std::byte*>(m.data), m.moved - kHeaderBytes);
        checkFrame(m.header, incoming_, peerName_);
      }
      if (m.moved < kHeaderBytes + m.bytes) return moved;  // the socket is drained
    }
    recvs_.pop_front();
    m.done.store(true, std::memory_order_release);
  }
  return moved;
}

void TcpConnection::updatePoller(Poller& poller) {
  if (!out_.valid()) return;
  if (!registered_) {
    poller.watch(out_.fd());
    poller.watch(in_.fd());
    registered_ = true;
  }
  poller.setEvents(out_.fd(), sends_.empty() ? 0u : uint32_t{EPOLLOUT});
  poller.setEvents(in_.fd(), recvs_.empty() ? 0u : uint32_t{EPOLLIN});
}

void TcpConnection::abort(Status noticeStatus, const std::string& notice) {
  if (!out_.valid()) return;
  sendNotice(noticeStatus, notice);
  // A reset (linger 0) tells the peer at once, even with unsent data queued. What the notice
  // put in the peer's receive queue stays readable there.
  const linger hard{1, 0};
  for (Socket* socket : {&out_, &in_}) {
    ::setsockopt(socket->fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    socket->close();
  }
  registered_ = false;
}

void TcpConnection::sendNotice(Status status, const std::string& notice) {
  // Best effort within a short bound: a peer in the same collective is reading, so a full
  // socket drains within moments; one that is stopped or gone costs kNoticeWaitMs at most.
  const Deadline deadline = Deadline::afterMs(kNoticeWaitMs);
  auto writable = [&] {
    return errno == EINTR || (errno == EAGAIN && waitFor(out_.fd(), POLLOUT, deadline));
  };
  // A message cut off mid-payload would make the notice read as data: finish it first (its
  // buffer is still the poster's until the engine returns).
  if (!sends_.empty() && sends_.front()->moved > 0) {
    Message& m = *sends_.front();
    while (m.moved < kHeaderBytes + m.bytes) {
      if (sendRest(m) < 0 && !writable()) return;
    }
  }
  Message frame;  // failureNoticeHeader() bounds the length
  frame.header = failureNoticeHeader(static_cast<int>(status), notice.size());
  frame.data = const_cast<char*>(notice.data());
  frame.bytes = frame.header.bytes;
  // The reset that follows discards whatever the kernel has not sent yet (on loopback,
  // delivery happens in the call); the peer then learns of the failure from the reset alone.
  while (frame.moved < kHeaderBytes + frame.bytes) {
    if (sendRest(frame) < 0 && !writable()) return;
  }
}

void TcpConnection::throwQueuedNotice() {
  // Only a notice at the head of the stream is found: one queued behind unread data is lost,
  // and the caller reports the failure it saw instead.
  if (!recvs_.empty() && recvs_.front()->moved > 0) return;
  const ssize_t n = ::recv(in_.fd(), &incoming_, kHeaderBytes, MSG_DONTWAIT);
  if (n == static_cast<ssize_t>(kHeaderBytes) && isFailureNotice(incoming_))
    throwNotice(nullptr, 0);
}

void TcpConnection::throwNotice(const std::byte* start, size_t have) {
  const size_t bytes = std::min<size_t>(incoming_.bytes, kMaxNoticeBytes);
  std::string reason(bytes, '\0');
  size_t got = std::min(have, bytes);
  if (got > 0) std::memcpy(reason.data(), start, got);
  // The sender wrote the notice in one call just before resetting: the rest is here already,
  // or (across a network) follows within moments, or never comes.
  const Deadline deadline = Deadline::afterMs(kNoticeWaitMs);
  while (got < bytes) {
    const ssize_t n = ::recv(in_.fd(), reason.data() + got, bytes - got, MSG_DONTWAIT);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR) ||
               !waitFor(in_.fd(), POLLIN, deadline)) {
      break;
    }
  }
  reason.resize(got);
  for (char& c : reason) {
    if (c < ' ' || c > '~') c = '?';  // peer-controlled text goes into logs
  }
  // A peer may report a usage error; anything else is, to this rank, a remote error.
  const Status status = incoming_.detail == static_cast<uint32_t>(Status::kInvalidUsage)
                            ? Status::kInvalidUsage
                            : Status::kRemoteError;
  throw Error(status, strCat(peerName_, " reported: ", reason), reason);
}

void TcpConnection::failIo(const char* direction, int errnoValue) {
  throwQueuedNotice();
  fail(Status::kRemoteError, "connection failed while ", direction, " ", peerName_, ": ",
       std::strerror(errnoValue), " (the peer exited, crashed or aborted)");
}

}  // namespace gccl::transport::tcp
