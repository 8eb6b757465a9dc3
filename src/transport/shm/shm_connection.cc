#include "transport/shm/shm_connection.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "base/error.h"
#include "base/logging.h"
#include "base/poller.h"

namespace gccl::transport::shm {

namespace {

// Orders this side's store of a flag (or a ring index) before its load of the other side's: the
// two sides of a doorbell must not both miss each other. GCC's TSan does not model fences (and
// refuses them under -Werror); there a sequentially consistent read-modify-write, a full barrier
// on x86, stands in.
inline void fullFence() {
#if defined(__SANITIZE_THREAD__)
  static std::atomic<int> barrier{0};
  barrier.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

constexpr size_t kHeaderBytes = sizeof(FrameHeader);
constexpr size_t kSmallRecordBytes = 256;  // header and payload written as one
constexpr int kNoticeWaitMs = 100;         // bounds each side of a failure notice's exchange
// Bounds an abort's wait for a peer writing one block into this rank's buffer (reducing the
// block from its operands and storing it into every destination at once): some microseconds,
// unless the peer is descheduled (a throttled container, more ranks than cores) or stopped, and
// only the stopped one should be left to it.
constexpr int kViewWriterWaitMs = 1000;
}  // namespace

// The doorbell protocol. An end about to sleep sets its flag (consumerSleeping for a reader,
// producerSleeping for a writer waiting for room or an ack), then, after a full fence, looks
// at the ring once more. An end that publishes (head, tail or acked), after a full fence,
// looks at the flag and rings the socket if it takes the flag. Of the two loads at least one
// sees the other's store, so a wake-up is never lost: either the sleeper sees the bytes and
// does not sleep, or the publisher sees the flag and rings.

ShmConnection::ShmConnection(PairSetup setup)
    : bell_(std::move(setup.bell)),
      segment_(std::move(setup.segment)),
      out_(segment_.ring(setup.sendRing)),
      in_(segment_.ring(1 - setup.sendRing)),
      peer_(setup.peer),
      peerName_(std::move(setup.peerName)),
      peerPid_(setup.peerPid),
      peerProcess_(std::move(setup.peerProcess)),
      cmaSend_(setup.cmaSend),
      cmaReceive_(setup.cmaReceive),
      mapSend_(setup.mapSend),
      writeBack_(setup.writeBack),
      regions_(peerProcess_.valid() ? peerProcess_.fd() : -1, peerName_) {
  bell_.setNonBlocking(true);
  out_.warmForProducer();
  in_.warmForConsumer();
}

// Graceful: what completed sends put in the ring stays readable in the peer's mapping; the
// socket's close tells the peer this end is gone.
ShmConnection::~ShmConnection() = default;

void ShmConnection::postSend(Message& message) {
  message.moved = 0;
  message.header.bytes = message.bytes;
  sends_.push_back(&message);
  // Try at once: a small message usually fits the ring, saving a loop iteration.
  if (sends_.size() == 1 && !closed_) progressSends();
}

void ShmConnection::postRecv(Message& message) {
  message.moved = 0;
  message.header.bytes = message.bytes;
  recvs_.push_back(&message);
}

bool ShmConnection::progress() {
  if (closed_) {
    if (!sending() && recvs_.empty()) return false;
    fail(Status::kRemoteError, "connection to ", peerName_, " was closed by this rank");
  }
  if (armed_) {
    // Awake again: clear the flags (saves the peer a needless ring) and eat the rings so far.
    // The socket is read only after a sleep, so spinning or yielding costs no system call on it.
    armed_ = false;
    in_.control().consumerSleeping.store(0, std::memory_order_relaxed);
    out_.control().producerSleeping.store(0, std::memory_order_relaxed);
    drainBell();
    if (peerProcess_.exited()) peerClosed_ = true;  // though a child of it may hold the bell up
  }
  const bool sent = sending() && progressSends();
  const bool received = !recvs_.empty() && progressRecvs();
  if (!sent && !received && peerClosed_ && (sending() || !recvs_.empty())) {
    throwQueuedNotice();
    fail(Status::kRemoteError, "connection to ", peerName_,
         " closed by the peer (it exited, crashed or aborted)");
  }
  return sent || received;
}

void ShmConnection::planRecord(Message& m) {
  m.writeBackOffered = false;
  std::byte* at = preamble_;
  std::memcpy(at, &m.header, kHeaderBytes);
  at += kHeaderBytes;
  payloadFollows_ = true;
  awaitsAck_ = false;
  if (!tagged(m.bytes, cmaSend_)) {
    // A message without a body kind cannot be a notice. (A view is writable only where the
    // notice back can carry one, so this does not happen; the result is the same as data.)
    m.delivered = false;
    preambleBytes_ = kHeaderBytes;
    return;
  }
  BodyKind kind = BodyKind::kDelivered;
  CmaDescriptor descriptor{};
  CmaDescriptor destination{};
  if (m.delivered) {
    payloadFollows_ = false;
  } else {
    // Zero-copy only where the peer proved at connect that it can map this rank's regions:
    // otherwise it would copy a 64 KiB-1 MiB message with process_vm_readv, slower than the
    // rings (cma.h).
    descriptor = mapSend_ ? describeBuffer(m.data, m.bytes)
                          : CmaDescriptor{reinterpret_cast<uint64_t>(m.data), m.bytes};
    payloadFollows_ = descriptor.region == 0 && m.bytes < kCmaMinBytes;
    awaitsAck_ = !payloadFollows_;
    // Write-back only where the peer maps the payload and its destination (process_vm_readv
    // would copy them), and where its notice back can say that it wrote: the reply, of the
    // same size, must carry a body kind too, which the other direction's single-copy verdict
    // decides.
    if (writeBack_ && m.writeBackTo != nullptr && descriptor.region != 0 &&
        tagged(m.bytes, cmaReceive_)) {
      destination = describeBuffer(m.writeBackTo, m.bytes);
    }
    m.writeBackOffered = destination.region != 0;
    kind = payloadFollows_      ? BodyKind::kPayload
           : m.writeBackOffered ? BodyKind::kWritableDescriptor
                                : BodyKind::kDescriptor;
  }
  std::memcpy(at, &kind, sizeof kind);
  at += sizeof kind;
  if (awaitsAck_) {
    std::memcpy(at, &descriptor, sizeof descriptor);
    at += sizeof descriptor;
  }
  if (m.writeBackOffered) {
    std::memcpy(at, &destination, sizeof destination);
    at += sizeof destination;
  }
  preambleBytes_ = static_cast<size_t>(at - preamble_);
}

bool ShmConnection::writeRest(Message& m) {
  if (m.moved == 0) planRecord(m);
  const size_t record = preambleBytes_ + (payloadFollows_ ? m.bytes : 0);
  // A small record that fits goes in with one publication of the ring's head: the reader
  // finds it whole at its first look, and the head's cache line crosses between the cores
  // once, not twice. (A single-copy record, header, kind and descriptor, is small too.)
  // (write() takes the room just seen, so it writes the whole record; were it short, the loop
  // below would go on.)
  if (m.moved == 0 && record <= kSmallRecordBytes && out_.writable(record) >= record) {
    std::byte small[kSmallRecordBytes];
    std::memcpy(small, preamble_, preambleBytes_);
    if (record > preambleBytes_) std::memcpy(small + preambleBytes_, m.data, m.bytes);
    m.moved = out_.write(small, record);
    if (m.moved == record) return true;
  }
  while (m.moved < record) {
    const size_t n =
        m.moved < preambleBytes_
            ? out_.write(preamble_ + m.moved, preambleBytes_ - m.moved)
            : out_.write(static_cast<const std::byte*>(m.data) + (m.moved - preambleBytes_),
                         record - m.moved);
    if (n == 0) return false;  // the ring is full
    m.moved += n;
  }
  return true;
}

bool ShmConnection::progressSends() {
  bool moved = false;
  while (!sends_.empty()) {
    Message& m = *sends_.front();
    const size_t before = m.moved;
    const bool whole = writeRest(m);
    moved |= m.moved != before;
    if (!whole) break;
    if (awaitsAck_) ++singleCopiesSent_;
    written_.push_back({&m, singleCopiesSent_});
    sends_.pop_front();
  }
  if (moved) wakeConsumer();
  // A single-copy send completes only when the peer has read the buffer: the poster may
  // reuse it as soon as `done` is set.
  const uint64_t acked = out_.control().acked.load(std::memory_order_acquire);
  while (!written_.empty() && written_.front().ack <= acked) {
    written_.front().message->done.store(true, std::memory_order_release);
    written_.pop_front();
    moved = true;
  }
  return moved;
}

bool ShmConnection::progressRecvs() {
  bool moved = false;
  while (!recvs_.empty() && !viewPending_) {
    Message& m = *recvs_.front();
    if (m.moved < kHeaderBytes) {
      const size_t n =
          in_.read(reinterpret_cast<char*>(&incoming_) + m.moved, kHeaderBytes - m.moved);
      m.moved += n;
      moved |= n > 0;
      if (m.moved < kHeaderBytes) break;
      if (isFailureNotice(incoming_)) throwNotice();
      checkFrame(m.header, incoming_, peerName_);
    }
    const size_t before = m.moved;
    const bool whole = readBody(m);
    moved |= whole || m.moved != before;
    if (!whole) break;
    recvs_.pop_front();
    m.done.store(true, std::memory_order_release);
  }
  if (moved) wakeProducer();
  return moved;
}

bool ShmConnection::readBody(Message& m) {
  size_t done = m.moved - kHeaderBytes;
  size_t tagBytes = 0;
  if (tagged(m.bytes, cmaReceive_)) {
    tagBytes = sizeof incomingKind_;
    if (done < tagBytes) {
      const size_t n = in_.read(reinterpret_cast<char*>(&incomingKind_) + done, tagBytes - done);
      m.moved += n;
      done += n;
      if (done < tagBytes) return false;
      if (incomingKind_ != BodyKind::kPayload && incomingKind_ != BodyKind::kDescriptor &&
          incomingKind_ != BodyKind::kWritableDescriptor && incomingKind_ != BodyKind::kDelivered) {
        fail(Status::kRemoteError, "malformed message from ", peerName_, " (body kind ",
             static_cast<uint64_t>(incomingKind_), ")");
      }
    }
    done -= tagBytes;
  }
  const size_t start = kHeaderBytes + tagBytes;
  if (tagBytes == 0 || incomingKind_ == BodyKind::kPayload) {
    m.moved += in_.read(static_cast<char*>(m.data) + done, m.bytes - done);
    return m.moved == start + m.bytes;
  }
  if (incomingKind_ == BodyKind::kDelivered) {
    if (!m.acceptsDelivered) {
      fail(Status::kRemoteError, "malformed message from ", peerName_,
           " (a notice that it wrote a result of ", m.bytes,
           " B into this rank's buffer, where this rank offered no write-back)");
    }
    m.delivered = true;
    if (!noticed_) {
      noticed_ = true;
      logInfo(LogSubsys::kNet, "shm: ", peerName_,
              " writes its results into this rank's gcclMemAlloc buffers and sends notices "
              "for them");
    }
    return true;
  }
  const size_t descriptorBytes =
      (incomingKind_ == BodyKind::kWritableDescriptor ? 2 : 1) * sizeof(CmaDescriptor);
  m.moved += in_.read(reinterpret_cast<char*>(descriptors_) + done, descriptorBytes - done);
  if (m.moved < start + descriptorBytes) return false;
  for (size_t i = 0; i < descriptorBytes / sizeof(CmaDescriptor); ++i) {
    if (descriptors_[i].bytes != m.bytes) {
      fail(Status::kRemoteError, "malformed message from ", peerName_, " (single-copy of ",
           descriptors_[i].bytes, " B for a message of ", m.bytes, " B)");
    }
  }
  readSingleCopy(m);
  return true;
}

void ShmConnection::readSingleCopy(Message& m) {
  // Written back only where this rank's notice back can carry a body kind (planRecord).
  const bool forWriting = writeBack_ && m.viewable &&
                          incomingKind_ == BodyKind::kWritableDescriptor &&
                          tagged(m.bytes, cmaSend_);
  const CmaDescriptor& descriptor = descriptors_[0];
  std::byte* payload = nullptr;
  std::byte* destination = nullptr;
  try {
    payload = regions_.payload(descriptor);
    if (forWriting && payload != nullptr) {
      destination = regions_.destination(descriptors_[1], descriptor.region);
    }
  } catch (const Error&) {
    // A peer that aborted or exited, and freed its buffer, leaves a descriptor that names
    // nothing any more: say so, with its notice, rather than blame the message. (A killed
    // peer's files close before its process handle turns readable: give it a moment.)
    checkPeerStillOwnedBuffer();
    throwNoticeAtHead();
    const Deadline deadline = Deadline::afterMs(kNoticeWaitMs);
    while (!peerGone() && !deadline.expired()) std::this_thread::yield();
    if (peerGone()) {
      fail(Status::kRemoteError, "zero-copy read from ", peerName_,
           " cut short: the peer exited while its buffer was being read");
    }
    throw;
  }
  if (payload != nullptr) {
    if (m.viewable) {
      // Acked on release: until then the sender's buffers are the view and the destination.
      m.view = payload;
      m.writeView = destination;
      viewPending_ = true;
      return;
    }
    std::memcpy(m.data, payload, m.bytes);
    checkPeerStillOwnedBuffer();
    ackSingleCopy();
    return;
  }
  if (const int error = readRemote(peerPid_, descriptor.address, m.data, m.bytes)) {
    // A peer that failed while this read was due left its notice right behind the descriptor.
    throwNoticeAtHead();
    fail(Status::kRemoteError, "single-copy read from ", peerName_,
         " failed: ", std::strerror(error), " (the peer exited, crashed or aborted)");
  }
  checkPeerStillOwnedBuffer();
  // A killed peer sets no abort flag, and once it is reaped its pid may name another process
  // of this user, whose memory the read would then have copied without an error. A peer still
  // alive after the copy was alive all through it, so its pid was its own: the copy was the
  // peer's. (Without a process handle the bell's hang-up stands in, which a child the peer
  // forked can hold up.) A mapped region needs no such check: the mapping is of the peer's
  // file, whoever holds its pid now.
  if (peerGone()) {
    fail(Status::kRemoteError, "single-copy read from ", peerName_,
         " cut short: the peer exited while its buffer was being read");
  }
  ackSingleCopy();
}

void ShmConnection::checkPeerStillOwnedBuffer() {
  // The peer aborted, so its caller may have reused the buffer while it was read: what was
  // copied cannot be trusted. (Set before the abort returns; seen here after the copy.)
  fullFence();
  if (in_.control().producerAborted.load(std::memory_order_acquire) != 0) {
    awaitNoticeAtHead();
    fail(Status::kRemoteError, "single-copy read from ", peerName_,
         " cut short: the peer aborted while its buffer was being read");
  }
}

void ShmConnection::ackSingleCopy() {
  // Only this end writes `acked`; the release lets the peer reuse its buffer.
  RingControl& control = in_.control();
  control.acked.store(control.acked.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

void* ShmConnection::beginViewWrite(Message& message, size_t offset, size_t bytes) {
  if (message.writeView == nullptr) {
    fail(Status::kInternalError, "write-back into a view from ", peerName_,
         " that it did not offer for writing");
  }
  if (offset > message.bytes || bytes > message.bytes - offset) {
    fail(Status::kInternalError, "write-back of ", bytes, " B at ", offset, " outside the view of ",
         message.bytes, " B from ", peerName_);
  }
  if (bytes > kWriteBackBlockBytes) {
    fail(Status::kInternalError, "write-back of ", bytes, " B into the view from ", peerName_,
         ": more than one block (", kWriteBackBlockBytes, " B) at once");
  }
  if (!wroteBack_) {
    wroteBack_ = true;
    logInfo(LogSubsys::kNet, "shm: writing results back into the gcclMemAlloc buffers of ",
            peerName_, ": what it would receive of them goes as notices");
  }
  // The peer's side of this is in abort(): one of the two sees the other's flag.
  RingControl& control = in_.control();
  control.consumerWritingView.store(1, std::memory_order_relaxed);
  fullFence();
  if (control.producerAborted.load(std::memory_order_acquire) != 0) {
    control.consumerWritingView.store(0, std::memory_order_release);
    awaitNoticeAtHead();
    fail(Status::kRemoteError, "write-back to ", peerName_,
         " cut short: the peer aborted, and its caller has its buffer back");
  }
  return static_cast<std::byte*>(message.writeView) + offset;
}

void ShmConnection::endViewWrite(Message& /*message*/) noexcept {
  in_.control().consumerWritingView.store(0, std::memory_order_release);
}

void ShmConnection::releaseView(Message& message) {
  if (message.view == nullptr) return;
  message.view = nullptr;
  message.writeView = nullptr;
  viewPending_ = false;
  checkPeerStillOwnedBuffer();
  ackSingleCopy();
  wakeProducer();
}

bool ShmConnection::peerGone() const {
  if (peerProcess_.exited()) return true;
  pollfd bell{bell_.fd(), POLLRDHUP, 0};
  return ::poll(&bell, 1, 0) > 0 && (bell.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

bool ShmConnection::sendCouldMove() const {
  if (!written_.empty() &&
      out_.control().acked.load(std::memory_order_acquire) >= written_.front().ack) {
    return true;
  }
  return !sends_.empty() && out_.writable(1) > 0;
}

void ShmConnection::wakeConsumer() {
  fullFence();
  auto& sleeping = out_.control().consumerSleeping;
  if (sleeping.load(std::memory_order_relaxed) != 0 && sleeping.exchange(0) != 0) ringBell();
}

void ShmConnection::wakeProducer() {
  fullFence();
  auto& sleeping = in_.control().producerSleeping;
  if (sleeping.load(std::memory_order_relaxed) != 0 && sleeping.exchange(0) != 0) ringBell();
}

void ShmConnection::ringBell() {
  // A full socket already holds rings the peer has not eaten; a gone peer is found on read.
  const char byte = 1;
  [[maybe_unused]] const ssize_t n = ::send(bell_.fd(), &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void ShmConnection::drainBell() {
  char bytes[64];
  for (;;) {
    const ssize_t n = ::recv(bell_.fd(), bytes, sizeof bytes, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    peerClosed_ = true;  // end of stream, or a reset
    return;
  }
}

void ShmConnection::updatePoller(Poller& poller) {
  if (closed_) return;
  if (!registered_) {
    poller.watch(bell_.fd());
    if (peerProcess_.valid()) poller.watch(peerProcess_.fd());
    registered_ = true;
  }
  // A receive behind a view this rank holds reads nothing until the release, which this rank
  // makes itself (a reduction chain can hold one while other peers' parts come in): it needs
  // no bell, and data queued behind the view is no reason to wake.
  const bool receiving = !recvs_.empty() && !viewPending_;
  const bool waiting = sending() || receiving;
  poller.setEvents(bell_.fd(), waiting ? uint32_t{EPOLLIN} : 0u);
  // The peer's exit wakes a sleeper too, also where a child it forked keeps its bell up.
  if (peerProcess_.valid()) poller.setEvents(peerProcess_.fd(), waiting ? uint32_t{EPOLLIN} : 0u);
  if (!waiting) {
    // Idle until the next operation: the peer need not ring for it.
    in_.control().consumerSleeping.store(0, std::memory_order_relaxed);
    out_.control().producerSleeping.store(0, std::memory_order_relaxed);
    return;
  }
  if (receiving) in_.control().consumerSleeping.store(1, std::memory_order_relaxed);
  if (sending()) out_.control().producerSleeping.store(1, std::memory_order_relaxed);
  fullFence();
  armed_ = true;
  // What arrived between the last progress and the flags would ring no bell: do not sleep.
  if ((receiving && in_.readable() > 0) || (sending() && sendCouldMove())) {
    poller.wake();
  }
}

void ShmConnection::abort(Status noticeStatus, const std::string& notice) {
  if (closed_) return;
  // First of all: from here on the buffers of unacknowledged single-copy sends go back to the
  // caller, and the peer must not trust a read of them.
  out_.control().producerAborted.store(1, std::memory_order_release);
  fullFence();
  awaitViewWriter();
  try {
    sendNotice(noticeStatus, notice);
  } catch (...) {
    // Best effort: the close below still tells the peer, only not why.
  }
  ringBell();
  // The close tells the peer at once; the notice stays readable in its mapping.
  ::shutdown(bell_.fd(), SHUT_RDWR);
  bell_.close();
  // Closed too, which takes it out of the poller: once the peer exits it would stay readable
  // and end every sleep of this engine at once.
  regions_.detach();  // before the handle it fetches files through is closed
  peerProcess_ = PeerProcess();
  closed_ = true;
  registered_ = false;
}

// A peer writing a result into this rank's buffer saw no abort when it began (beginViewWrite):
// let it finish that block, so that nothing writes into the buffer once the caller has it
// back. A peer stopped mid-block is not waited for beyond the bound.
void ShmConnection::awaitViewWriter() {
  const auto& writing = out_.control().consumerWritingView;
  if (writing.load(std::memory_order_acquire) == 0) return;
  const Deadline deadline = Deadline::afterMs(kViewWriterWaitMs);
  while (writing.load(std::memory_order_acquire) != 0 && !peerGone()) {
    if (deadline.expired()) {
      GCCL_WARN(LogSubsys::kNet, "shm: ", peerName_,
                " was writing a result into this rank's buffer and has not finished within ",
                kViewWriterWaitMs, " ms (stopped?): up to ", kWriteBackBlockBytes,
                " B of the buffer may still change after the abort returns");
      return;
    }
    std::this_thread::yield();
  }
}

void ShmConnection::sendNotice(Status status, const std::string& notice) {
  // Best effort within a short bound: a peer in the same collective is reading, so a full ring
  // drains within moments; one that is stopped or gone costs kNoticeWaitMs at most.
  if (peerClosed_) return;  // nobody would read it
  const Deadline deadline = Deadline::afterMs(kNoticeWaitMs);
  auto roomFor = [&](size_t bytes) {
    while (out_.writable(bytes) < bytes) {
      wakeConsumer();
      if (deadline.expired()) return false;
      std::this_thread::yield();
    }
    return true;
  };
  // A record cut off mid-body would make the notice read as data: finish it first (its buffer
  // is still the poster's until the engine returns).
  if (!sends_.empty() && sends_.front()->moved > 0) {
    Message& m = *sends_.front();
    while (!writeRest(m)) {
      if (!roomFor(1)) return;
    }
  }
  const FrameHeader header = failureNoticeHeader(static_cast<int>(status), notice.size());
  if (!roomFor(kHeaderBytes + header.bytes)) return;
  out_.write(&header, kHeaderBytes);
  out_.write(notice.data(), header.bytes);
  wakeConsumer();
}

void ShmConnection::throwQueuedNotice() {
  // Only a notice at the head of the ring is found: one queued behind unread data is lost,
  // and the caller reports the failure it saw instead.
  if (!recvs_.empty() && recvs_.front()->moved > 0) return;
  throwNoticeAtHead();
}

void ShmConnection::throwNoticeAtHead() {
  FrameHeader head;
  if (!in_.peek(&head, kHeaderBytes) || !isFailureNotice(head)) return;
  in_.read(&incoming_, kHeaderBytes);
  throwNotice();
}

// The peer raises its abort flag first and writes its notice after: when the flag is seen
// with nothing behind the descriptor yet, the notice is moments away.
void ShmConnection::awaitNoticeAtHead() {
  const Deadline deadline = Deadline::afterMs(kNoticeWaitMs);
  while (in_.readable() < kHeaderBytes && !deadline.expired() && !peerGone()) {
    std::this_thread::yield();
  }
  throwNoticeAtHead();
}

void ShmConnection::throwNotice() {
  const size_t bytes = std::min<size_t>(incoming_.bytes, kMaxNoticeBytes);
  // The sender writes the notice right after its header: it is there, or within moments.
  const Deadline deadline = Deadline::afterMs(kNoticeWaitMs);
  while (in_.readable() < bytes && !deadline.expired()) std::this_thread::yield();
  std::string reason(std::min(bytes, in_.readable()), '\0');
  in_.read(reason.data(), reason.size());
  for (char& c : reason) {
    if (c < ' ' || c > '~') c = '?';  // peer-controlled text goes into logs
  }
  // A peer may report a usage error; anything else is, to this rank, a remote error.
  const Status status = incoming_.detail == static_cast<uint32_t>(Status::kInvalidUsage)
                            ? Status::kInvalidUsage
                            : Status::kRemoteError;
  throw Error(status, strCat(peerName_, " reported: ", reason), reason);
}

}  // namespace gccl::transport::shm
