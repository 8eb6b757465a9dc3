#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "base/error.h"
#include "transport/transport.h"

namespace gccl {
class Poller;
}

namespace gccl::transport::inproc {

struct Lane {
  std::mutex mutex;
  std::deque<Message*> sends;  // posted, not yet matched
  std::deque<Message*> recvs;
  Poller* senderPoller = nullptr;
  Poller* receiverPoller = nullptr;
  bool closed = false;
  std::atomic<uint64_t> delivered{0};  // messages matched so far
  Status failure = Status::kSuccess;   // set when a match found a mismatched frame
  std::string failureText;
  Status noticeStatus = Status::kSuccess;  // the closing side's failure notice, if any
  std::string notice;
};

class InprocConnection final : public Connection {
 public:
  InprocConnection(int peer, std::shared_ptr<Lane> out, std::shared_ptr<Lane> in);
  ~InprocConnection() override;

  int peer() const override { return peer_; }
  const std::string& peerName() const override { return peerName_; }
  void postSend(Message& message) override;
  void postRecv(Message& message) override;
  bool progress() override;
  void updatePoller(Poller&) override {}
  void abort(Status noticeStatus, const std::string& notice) override;

 private:
  void close(Status noticeStatus, const std::string& notice);
  // Throws a recorded mismatch; throws "closed" only while this side still waits on the lane.
  void checkLane(Lane& lane, bool waiting) const;

  int peer_;
  std::string peerName_;
  std::shared_ptr<Lane> out_;
  std::shared_ptr<Lane> in_;
  // Counts, not pointers: a finished operation's messages are freed while the lanes live on.
  uint64_t sendsPosted_ = 0;
  uint64_t recvsPosted_ = 0;
  uint64_t seenSent_ = 0;
  uint64_t seenReceived_ = 0;
};

}  // namespace gccl::transport::inproc
