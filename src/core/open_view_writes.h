// The peers' views of one block of a write-back (the direct allreduce over shared memory),
// opened for writing, each closed again when this goes: also when opening a later one throws
// (Connection::beginViewWrite: that peer aborted), so that a view opened before it does not
// stay open and hold the aborting peer's caller for the writer's whole wait (shm: an aborting
// producer waits for a view write under way to end before its caller gets the buffer back).
#pragma once

#include <array>
#include <cstddef>

#include "algorithms/schedule_index.h"
#include "base/error.h"
#include "transport/transport.h"

namespace gccl {

class OpenViewWrites {
 public:
  OpenViewWrites() = default;
  OpenViewWrites(const OpenViewWrites&) = delete;
  OpenViewWrites& operator=(const OpenViewWrites&) = delete;
  ~OpenViewWrites() {
    for (size_t i = 0; i < count_; ++i) views_[i].connection->endViewWrite(*views_[i].message);
  }

  // Opens `bytes` at `offset` of the view `message` carries, for writing: their address.
  void* open(Connection& connection, Message& message, size_t offset, size_t bytes) {
    if (count_ == views_.size()) {
      fail(Status::kInternalError, "write-back into more views than a chain has links");
    }
    void* at = connection.beginViewWrite(message, offset, bytes);
    views_[count_++] = {&connection, &message};
    return at;
  }

 private:
  struct View {
    Connection* connection;
    Message* message;
  };
  std::array<View, kMaxChainLinks> views_{};
  size_t count_ = 0;
};

}  // namespace gccl
