// A Gloo barrier that also waits until this rank's own barrier messages have left the process.
//
// Gloo's TCP pair queues whatever the socket does not take at once, and the algorithms return
// without waiting for their last sends (mostly notifications, sometimes data). Messages on a
// pair leave in order, so once the barrier message is written everything queued before it is
// too. Only then may the caller free an algorithm object, refill or free a buffer, or exit:
// otherwise a queued send reads freed or changed memory, or an exiting rank drops it and its
// peer fails with "Connection closed by peer" (seen here about once in 15 runs).
#pragma once

#include <gloo/context.h>
#include <gloo/transport/buffer.h>
#include <gloo/transport/pair.h>

#include <memory>
#include <vector>

namespace baselines {

class FlushingBarrier {
 public:
  explicit FlushingBarrier(gloo::Context& context) : recvTokens_(context.size) {
    const int slot = context.nextSlot();
    for (int peer = 0; peer < context.size; ++peer) {
      if (peer == context.rank) continue;
      auto& pair = context.getPair(peer);
      sends_.push_back(pair->createSendBuffer(slot, &sendToken_, sizeof(int)));
      recvs_.push_back(pair->createRecvBuffer(slot, &recvTokens_[peer], sizeof(int)));
    }
  }

  void run() {
    for (auto& send : sends_) send->send();
    for (auto& recv : recvs_) recv->waitRecv();
    for (auto& send : sends_) send->waitSend();
  }

 private:
  int sendToken_ = 0;
  std::vector<int> recvTokens_;
  std::vector<std::unique_ptr<gloo::transport::Buffer>> sends_;
  std::vector<std::unique_ptr<gloo::transport::Buffer>> recvs_;
};

}  // namespace baselines
