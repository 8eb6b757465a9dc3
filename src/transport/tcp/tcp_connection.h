// A peer over two non-blocking TCP streams, one per direction: this rank's sends go out on
// `out`, the peer's arrive on `in`. (One socket carrying both directions makes each side's
// sends and receives contend for one socket lock; measured on loopback, two streams move
// ~15% more.) Sends go out as header+payload in one sendmsg; receives read the header first,
// check it, then land the payload directly in the destination buffer.
#pragma once

#include <cstddef>
#include <deque>
#include <string>

#include "base/socket.h"
#include "transport/transport.h"

namespace gccl::transport::tcp {

class TcpConnection final : public Connection {
 public:
  TcpConnection(Socket out, Socket in, int peer, std::string peerName);
  ~TcpConnection() override;

  int peer() const override { return peer_; }
  const std::string& peerName() const override { return peerName_; }
  void postSend(Message& message) override;
  void postRecv(Message& message) override;
  bool progress() override;
  void updatePoller(Poller& poller) override;
  void abort(Status noticeStatus, const std::string& notice) override;

 private:
  // One sendmsg of what is left of `m`; returns its result (errno set when negative).
  ssize_t sendRest(Message& m);
  bool progressSends();
  bool progressRecvs();
  // Best effort, and only between two messages: inside a payload it would read as data.
  void sendNotice(Status status, const std::string& notice);
  // A peer that failed may have left a notice before resetting: it explains the reset.
  void throwQueuedNotice();
  // `incoming_` is a notice whose first `have` payload bytes are at `start`.
  [[noreturn]] void throwNotice(const std::byte* start, size_t have);
  [[noreturn]] void failIo(const char* direction, int errnoValue);

  Socket out_;
  Socket in_;
  int peer_;
  std::string peerName_;
  std::deque<Message*> sends_;
  std::deque<Message*> recvs_;
  FrameHeader incoming_{};  // header of the message being received
  bool registered_ = false;
};

}  // namespace gccl::transport::tcp
