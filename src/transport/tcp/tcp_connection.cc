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
#include "transport/tcp/stripes.h"

namespace gccl::transport::tcp {

namespace {
constexpr size_t kHeaderBytes = sizeof(FrameHeader);
constexpr int kNoticeWaitMs = 100;  // bounds each side of a failure notice's exchange
}  // namespace

TcpConnection::TcpConnection(std::vector<Socket> out, std::vector<Socket> in, int peer,
                             std::string peerName)
    : peer_(peer), peerName_(std::move(peerName)) {
  if (out.empty() || out.size() != in.size()) {
    fail(Status::kInternalError, "a connection needs as many in as out sockets, at least one");
  }
  for (auto [sockets, lanes] : {std::pair{&out, &out_}, std::pair{&in, &in_}}) {
    for (Socket& socket : *sockets) {
      socket.setNonBlocking(true);
      lanes->push_back(Lane{std::move(socket), {}, {}});
    }
  }
}

TcpConnection::~TcpConnection() = default;

void TcpConnection::post(Message& message, std::vector<Lane>& lanes) {
  message.moved = 0;
  message.header.bytes = message.bytes;
  const int sockets = static_cast<int>(lanes.size());
  const size_t count = stripeCount(message.bytes, sockets);
  for (size_t i = 0; i < count; ++i) {
    const StripeRange range = stripeRange(message.bytes, sockets, i);
    lanes[i].stripes.push_back(Stripe{&message,
                                      static_cast<std::byte*>(message.data) + range.offset,
                                      range.bytes, &message.header, 0});
  }
}

void TcpConnection::finish(const Stripe& stripe) const {
  Message& m = *stripe.message;
  m.moved += stripe.moved;
  const size_t stripes = stripeCount(m.bytes, static_cast<int>(out_.size()));
  if (m.moved == stripes * kHeaderBytes + m.bytes) m.done.store(true, std::memory_order_release);
}

void TcpConnection::postSend(Message& message) {
  post(message, out_);
  // Try at once: a small message usually fits the socket buffer, saving a loop iteration.
  if (out_[0].stripes.size() == 1) progressSends(out_[0]);
}

void TcpConnection::postRecv(Message& message) {
  post(message, in_);
}

bool TcpConnection::progress() {
  if (aborted_) {
    const auto idle = [](const Lane& lane) { return lane.stripes.empty(); };
    if (std::all_of(out_.begin(), out_.end(), idle) && std::all_of(in_.begin(), in_.end(), idle))
      return false;
    fail(Status::kRemoteError, "connection to ", peerName_, " was closed by this rank");
  }
  bool moved = false;
  for (Lane& lane : out_) moved |= !lane.stripes.empty() && progressSends(lane);
  for (Lane& lane : in_) moved |= !lane.stripes.empty() && progressRecvs(lane);
  return moved;
}

ssize_t TcpConnection::sendRest(const Socket& socket, Stripe& s) {
  iovec iov[2];
  int count = 0;
  if (s.moved < kHeaderBytes) {
    iov[count++] = {reinterpret_cast<char*>(s.header) + s.moved, kHeaderBytes - s.moved};
  }
  const size_t payloadDone = s.moved > kHeaderBytes ? s.moved - kHeaderBytes : 0;
  if (s.bytes > payloadDone) iov[count++] = {s.data + payloadDone, s.bytes - payloadDone};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<size_t>(count);
  const ssize_t n = ::sendmsg(socket.fd(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n > 0) s.moved += static_cast<size_t>(n);
  return n;
}

bool TcpConnection::progressSends(Lane& lane) {
  bool moved = false;
  while (!lane.stripes.empty()) {
    Stripe& s = lane.stripes.front();
    if (sendRest(lane.socket, s) < 0) {
      if (errno == EAGAIN || errno == EINTR) return moved;
      failIo("sending to", errno);
    }
    moved = true;
    if (s.moved < kHeaderBytes + s.bytes) return moved;  // socket buffer full
    finish(s);
    lane.stripes.pop_front();
  }
  return moved;
}

bool TcpConnection::progressRecvs(Lane& lane) {
  bool moved = false;
  while (!lane.stripes.empty()) {
    Stripe& s = lane.stripes.front();
    // Header and payload in one readv: a small message costs one system call. The header is
    // checked as soon as it is complete; a mismatch fails the whole collective, whose output
    // is then undefined anyway.
    iovec iov[2];
    int count = 0;
    if (s.moved < kHeaderBytes) {
      iov[count++] = {reinterpret_cast<char*>(&lane.incoming) + s.moved, kHeaderBytes - s.moved};
    }
    const size_t payloadDone = s.moved > kHeaderBytes ? s.moved - kHeaderBytes : 0;
    if (s.bytes > payloadDone) iov[count++] = {s.data + payloadDone, s.bytes - payloadDone};
    const ssize_t n = ::readv(lane.socket.fd(), iov, count);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return moved;
      failIo("receiving from", errno);
    }
    if (n == 0) {
      fail(Status::kRemoteError, "connection to ", peerName_,
           " closed by the peer (it exited, crashed or aborted)");
    }
    moved = true;
    const bool headerWasIncomplete = s.moved < kHeaderBytes;
    s.moved += static_cast<size_t>(n);
    if (headerWasIncomplete && s.moved >= kHeaderBytes) {
      if (isFailureNotice(lane.incoming)) throwNotice(lane, s.data, s.moved - kHeaderBytes);
      checkFrame(*s.header, lane.incoming, peerName_);
    }
    if (s.moved < kHeaderBytes + s.bytes) return moved;  // the socket is drained
    finish(s);
    lane.stripes.pop_front();
  }
  return moved;
}

void TcpConnection::updatePoller(Poller& poller) {
  if (aborted_) return;
  if (!registered_) {
    for (const Lane& lane : out_) poller.watch(lane.socket.fd());
    for (const Lane& lane : in_) poller.watch(lane.socket.fd());
    registered_ = true;
  }
  for (const Lane& lane : out_) {
    poller.setEvents(lane.socket.fd(), lane.stripes.empty() ? 0u : uint32_t{EPOLLOUT});
  }
  for (const Lane& lane : in_) {
    poller.setEvents(lane.socket.fd(), lane.stripes.empty() ? 0u : uint32_t{EPOLLIN});
  }
}

void TcpConnection::abort(Status noticeStatus, const std::string& notice) {
  if (aborted_) return;
  try {
    sendNotice(noticeStatus, notice);
  } catch (...) {
    // Best effort (a failing poll): the reset below still tells the peer, only not why.
  }
  // A reset (linger 0) tells the peer at once, even with unsent data queued. What the notice
  // put in the peer's receive queue stays readable there.
  const linger hard{1, 0};
  for (std::vector<Lane>* lanes : {&out_, &in_}) {
    for (Lane& lane : *lanes) {
      ::setsockopt(lane.socket.fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
      lane.socket.close();
    }
  }
  aborted_ = true;
  registered_ = false;
}

void TcpConnection::sendNotice(Status status, const std::string& notice) {
  // Best effort within a short bound: a peer in the same collective is reading, so a full
  // socket drains within moments; one that is stopped or gone costs kNoticeWaitMs at most.
  // The notice goes on every lane: the peer may be waiting on any one of them.
  const Deadline deadline = Deadline::afterMs(kNoticeWaitMs);
  FrameHeader header = failureNoticeHeader(static_cast<int>(status), notice.size());
  for (Lane& lane : out_) {
    auto writable = [&] {
      return errno == EINTR || (errno == EAGAIN && waitFor(lane.socket.fd(), POLLOUT, deadline));
    };
    // A stripe cut off mid-payload would make the notice read as data: finish it first (its
    // buffer is still the poster's until the engine returns).
    bool blocked = false;
    if (!lane.stripes.empty() && lane.stripes.front().moved > 0) {
      Stripe& s = lane.stripes.front();
      while (!blocked && s.moved < kHeaderBytes + s.bytes) {
        blocked = sendRest(lane.socket, s) < 0 && !writable();
      }
    }
    // The reset that follows discards whatever the kernel has not sent yet (on loopback,
    // delivery happens in the call); the peer then learns of the failure from the reset alone.
    Stripe frame{nullptr, reinterpret_cast<std::byte*>(const_cast<char*>(notice.data())),
                 header.bytes, &header, 0};
    while (!blocked && frame.moved < kHeaderBytes + frame.bytes) {
      blocked = sendRest(lane.socket, frame) < 0 && !writable();
    }
  }
}

void TcpConnection::throwQueuedNotice() {
  // Only a notice at the head of a lane's stream is found: one queued behind unread data is
  // lost, and the caller reports the failure it saw instead.
  for (Lane& lane : in_) {
    if (!lane.stripes.empty() && lane.stripes.front().moved > 0) continue;
    const ssize_t n = ::recv(lane.socket.fd(), &lane.incoming, kHeaderBytes, MSG_DONTWAIT);
    if (n == static_cast<ssize_t>(kHeaderBytes) && isFailureNotice(lane.incoming))
      throwNotice(lane, nullptr, 0);
  }
}

void TcpConnection::throwNotice(Lane& lane, const std::byte* start, size_t have) {
  const size_t bytes = std::min<size_t>(lane.incoming.bytes, kMaxNoticeBytes);
  std::string reason(bytes, '\0');
  size_t got = std::min(have, bytes);
  if (got > 0) std::memcpy(reason.data(), start, got);
  // The sender wrote the notice in one call just before resetting: the rest is here already,
  // or (across a network) follows within moments, or never comes.
  const Deadline deadline = Deadline::afterMs(kNoticeWaitMs);
  while (got < bytes) {
    const ssize_t n = ::recv(lane.socket.fd(), reason.data() + got, bytes - got, MSG_DONTWAIT);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR) ||
               !waitFor(lane.socket.fd(), POLLIN, deadline)) {
      break;
    }
  }
  reason.resize(got);
  for (char& c : reason) {
    if (c < ' ' || c > '~') c = '?';  // peer-controlled text goes into logs
  }
  // A peer may report a usage error; anything else is, to this rank, a remote error.
  const Status status = lane.incoming.detail == static_cast<uint32_t>(Status::kInvalidUsage)
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
