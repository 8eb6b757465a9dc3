#include "transport/inproc/inproc_connection.h"

#include <cstring>

#include "base/poller.h"

namespace gccl::transport::inproc {

namespace {

// Called with the lane locked. Copies the payload, or records why the pair does not match.
void deliver(Lane& lane, Message& send, Message& recv, const std::string& senderName) {
  try {
    checkFrame(recv.header, send.header, senderName);
    if (send.bytes > 0) std::memcpy(recv.data, send.data, send.bytes);
  } catch (const Error& e) {
    lane.failure = e.status();
    lane.failureText = e.what();
    lane.closed = true;
  }
  lane.delivered.fetch_add(1, std::memory_order_release);
  send.done.store(true, std::memory_order_release);
  recv.done.store(true, std::memory_order_release);
}

void wake(Poller* poller) {
  if (poller != nullptr) poller->wake();
}

}  // namespace

InprocConnection::InprocConnection(int peer, std::shared_ptr<Lane> out, std::shared_ptr<Lane> in)
    : peer_(peer),
      peerName_(strCat("rank ", peer, " (in-process)")),
      out_(std::move(out)),
      in_(std::move(in)) {}

InprocConnection::~InprocConnection() {
  // Graceful as the interface asks: a send completes only once the receiver has the data.
  close(Status::kSuccess, "");
}

void InprocConnection::postSend(Message& message) {
  message.header.bytes = message.bytes;
  ++sendsPosted_;
  std::lock_guard lock(out_->mutex);
  if (!out_->recvs.empty() && !out_->closed) {
    Message* recv = out_->recvs.front();
    out_->recvs.pop_front();
    // The receiver names us "rank <me>"; a mismatch is reported from its point of view.
    deliver(*out_, message, *recv, strCat("the sending rank (peer of ", peerName_, ")"));
  } else {
    out_->sends.push_back(&message);
  }
  wake(out_->receiverPoller);
}

void InprocConnection::postRecv(Message& message) {
  message.header.bytes = message.bytes;
  ++recvsPosted_;
  std::lock_guard lock(in_->mutex);
  if (!in_->sends.empty() && !in_->closed) {
    Message* send = in_->sends.front();
    in_->sends.pop_front();
    deliver(*in_, *send, message, peerName_);
    wake(in_->senderPoller);
  } else {
    in_->recvs.push_back(&message);
  }
}

void InprocConnection::checkLane(Lane& lane, bool waiting) const {
  std::lock_guard lock(lane.mutex);
  if (lane.failure != Status::kSuccess) throw Error(lane.failure, lane.failureText);
  if (lane.closed && waiting) {
    if (lane.noticeStatus != Status::kSuccess) {
      throw Error(lane.noticeStatus, strCat(peerName_, " reported: ", lane.notice), lane.notice);
    }
    fail(Status::kRemoteError, "connection to ", peerName_,
         " closed by the peer (it failed or aborted)");
  }
}

bool InprocConnection::progress() {
  const uint64_t sent = out_->delivered.load(std::memory_order_acquire);
  const uint64_t received = in_->delivered.load(std::memory_order_acquire);
  const bool moved = sent != seenSent_ || received != seenReceived_;
  seenSent_ = sent;
  seenReceived_ = received;
  const bool waitingToSend = sendsPosted_ > sent;
  const bool waitingToReceive = recvsPosted_ > received;
  if (moved || waitingToSend) checkLane(*out_, waitingToSend);
  if (moved || waitingToReceive) checkLane(*in_, waitingToReceive);
  return moved;
}

void InprocConnection::abort(Status noticeStatus, const std::string& notice) {
  close(noticeStatus, notice);
}

void InprocConnection::close(Status noticeStatus, const std::string& notice) {
  for (Lane* lane : {out_.get(), in_.get()}) {
    std::lock_guard lock(lane->mutex);
    if (!lane->closed && noticeStatus != Status::kSuccess) {
      lane->noticeStatus = noticeStatus;
      lane->notice = notice;
    }
    lane->closed = true;
    lane->sends.clear();
    lane->recvs.clear();
    const bool outgoing = lane == out_.get();
    wake(outgoing ? lane->receiverPoller : lane->senderPoller);
    // Our poller may die with our engine: the peer must not wake it afterwards.
    (outgoing ? lane->senderPoller : lane->receiverPoller) = nullptr;
  }
}

}  // namespace gccl::transport::inproc
