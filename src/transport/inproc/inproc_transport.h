// Ranks as threads of one process: the test harness for every algorithm without sockets.
// A message is copied once, straight from the sender's buffer into the receiver's, by
// whichever side posts second; the other side's engine is woken through its poller.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>

#include "transport/transport.h"

namespace gccl::transport::inproc {

struct Lane;  // one direction between two ranks

// Shared by all ranks of one in-process job.
class InprocFabric {
 public:
  std::shared_ptr<Lane> lane(const std::string& scope, int from, int to);

 private:
  std::mutex mutex_;
  std::map<std::tuple<std::string, int, int>, std::shared_ptr<Lane>> lanes_;
};

class InprocTransport final : public Transport {
 public:
  explicit InprocTransport(std::shared_ptr<InprocFabric> fabric) : fabric_(std::move(fabric)) {}
  std::string name() const override { return "inproc"; }
  ConnectionMap connect(const ConnectRequest& request, Store& store, Poller& poller) override;

 private:
  std::shared_ptr<InprocFabric> fabric_;
};

}  // namespace gccl::transport::inproc
