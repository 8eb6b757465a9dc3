#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "core/error.h"
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
  Status failure = Status::kSuccess;  // set when a match found a mismatched frame
  std::string failureText;
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
  void abort() override;

 private:
  void checkLane(Lane& lane) const;

  int peer_;
  std::string peerName_;
  std::shared_ptr<Lane> out_;
  std::shared_ptr<Lane> in_;
  std::deque<Message*> posted_;  // ours, in posting order, until seen done
};

}  // namespace gccl::transport::inproc
