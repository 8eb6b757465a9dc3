// A peer over non-blocking TCP streams, GCCL_NSOCKS of them per direction: this rank's sends go
// out on the `out_` lanes, the peer's arrive on the `in_` lanes. (One socket carrying both
// directions makes each side's sends and receives contend for one socket lock; measured on
// loopback, separate streams move ~15% more.) A message goes out as stripes (stripes.h), stripe
// i on lane i, each as header+payload in one sendmsg; a receiver reads each lane's header first,
// checks it, then lands that stripe's payload directly in the destination buffer. Lanes move
// independently; a message is done when all its stripes are.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "base/socket.h"
#include "transport/transport.h"

namespace gccl::transport::tcp {

class TcpConnection final : public Connection {
 public:
  // `out[i]` and `in[i]` are lane i; both hold the same number of sockets, at least one.
  TcpConnection(std::vector<Socket> out, std::vector<Socket> in, int peer, std::string peerName);
  ~TcpConnection() override;

  int peer() const override { return peer_; }
  const std::string& peerName() const override { return peerName_; }
  void postSend(Message& message) override;
  void postRecv(Message& message) override;
  bool progress() override;
  void updatePoller(Poller& poller) override;
  void abort(Status noticeStatus, const std::string& notice) override;

 private:
  // One message's part on one lane. `header` is the message's (what goes out, or what must
  // arrive); `moved` counts this stripe's header + payload bytes.
  struct Stripe {
    Message* message = nullptr;
    std::byte* data = nullptr;
    size_t bytes = 0;
    FrameHeader* header = nullptr;
    size_t moved = 0;
  };
  struct Lane {
    Socket socket;
    std::deque<Stripe> stripes;
    FrameHeader incoming{};  // in lanes: the header being received
  };

  void post(Message& message, std::vector<Lane>& lanes);
  // Adds a finished stripe's bytes to its message; marks the message done with its last one.
  void finish(const Stripe& stripe) const;
  // One sendmsg of what is left of `s`; returns its result (errno set when negative).
  static ssize_t sendRest(const Socket& socket, Stripe& s);
  bool progressSends(Lane& lane);
  bool progressRecvs(Lane& lane);
  // Best effort, and only between two stripes: inside a payload it would read as data.
  void sendNotice(Status status, const std::string& notice);
  // A peer that failed may have left a notice before resetting: it explains the reset.
  void throwQueuedNotice();
  // `lane.incoming` is a notice whose first `have` payload bytes are at `start`.
  [[noreturn]] void throwNotice(Lane& lane, const std::byte* start, size_t have);
  [[noreturn]] void failIo(const char* direction, int errnoValue);

  std::vector<Lane> out_;
  std::vector<Lane> in_;
  int peer_;
  std::string peerName_;
  bool aborted_ = false;
  bool registered_ = false;
};

}  // namespace gccl::transport::tcp
