// One transport interface for every backend (tcp/, inproc/, later shm/ and ucx/): a Transport
// connects this rank to a set of peers through the bootstrap store, and each Connection moves
// framed messages to and from one peer without blocking. The engine drives progress.
//
// Ordering contract: messages posted to one connection in one direction are delivered in
// posting order, and the i-th send of a peer matches the i-th receive posted for it.
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/deadline.h"
#include "base/error.h"
#include "base/job_token.h"
#include "transport/frame.h"

namespace gccl {

class Poller;
class Store;

// One message in flight. The poster owns it and keeps it alive (and its buffer untouched)
// until `done` is true.
struct Message {
  FrameHeader header;  // send: what goes on the wire; receive: what must arrive
  void* data = nullptr;
  size_t bytes = 0;
  size_t moved = 0;  // bytes of the record transferred so far (the connection's bookkeeping)
  std::atomic<bool> done{false};
  // Receive only. `viewable`: the poster can use the payload where it lies, without a copy into
  // `data`. A connection that can expose the sender's memory then sets `view` to the payload
  // and holds the sender's buffer until releaseView(); it delivers nothing more from that peer
  // meanwhile, so the poster releases at once (using the view, or copying it into `data`).
  bool viewable = false;
  const void* view = nullptr;
  // Write-back (the direct allreduce, over shared memory): the receiver of a send that offers
  // it may write the reduced result into the sender's memory (Connection::beginViewWrite)
  // before releasing its view, and later send only a notice that the result is there instead
  // of the result itself.
  //   send: `writeBackTo` (`bytes` long, the payload itself in place, the sender's output
  //         out of place) asks for it; the connection sets `writeBackOffered` where the
  //         receiver can take it.
  //   receive: `writeView`, set with `view`, is where in the sender's memory the result may
  //            be written; null where it may not.
  //   send: `delivered`: the receiver's copy is already written; only the notice goes (a
  //         connection that cannot carry one sends the data and clears it).
  //   receive: `acceptsDelivered`: such a notice may stand for the payload, which is then
  //            already in `data`; the connection sets `delivered` when it was one.
  void* writeBackTo = nullptr;
  bool writeBackOffered = false;
  void* writeView = nullptr;
  bool delivered = false;
  bool acceptsDelivered = false;
};

// The most one view write may open: an abort waits for the write under way to finish
// (shm), so a peer stopped in the middle of one may write at most this much after the abort
// returns.
inline constexpr size_t kWriteBackBlockBytes = size_t{64} << 10;

class Connection {
 public:
  // Closes gracefully: what completed sends handed over is still delivered, then the peer
  // sees the close.
  virtual ~Connection() = default;
  virtual int peer() const = 0;
  // "rank 3 (host node1, 10.0.0.2:41234)": how errors name the peer.
  virtual const std::string& peerName() const = 0;

  virtual void postSend(Message& message) = 0;
  virtual void postRecv(Message& message) = 0;
  // Moves what it can without blocking; true if anything moved. Throws Error naming the peer
  // when the peer is gone or sends something malformed.
  virtual bool progress() = 0;
  // Gives back the sender's buffer behind a completed receive's `view` (and clears it). Throws
  // Error naming the peer when what was read cannot be trusted (the peer aborted meanwhile).
  virtual void releaseView(Message& message) { message.view = nullptr; }
  // Opens `bytes` (at most kWriteBackBlockBytes) at `offset` of the sender's memory behind
  // `writeView` and returns their address, for the caller to write the result there; then
  // endViewWrite, before anything else of this connection. Throws Error naming the peer when the
  // peer aborted (its caller has the buffer back).
  virtual void* beginViewWrite(Message& /*message*/, size_t /*offset*/, size_t /*bytes*/) {
    fail(Status::kInternalError, "connection to ", peerName(), " gives no writable views");
  }
  virtual void endViewWrite(Message& /*message*/) noexcept {}
  // Whether the peer reads this rank's shareable buffers (base/shareable_memory.h) in place.
  virtual bool peerMapsSharedBuffers() const { return false; }
  // Tells the poller what this connection waits for now.
  virtual void updatePoller(Poller& poller) = 0;
  // Whether progressIdle() must be called while no operation runs, as UCX's must: its
  // protocols may owe the peer a message after this side's part of a transfer has completed,
  // and UCX sends only when progressed. The idle engine then calls it about every millisecond.
  virtual bool needsIdleProgress() const { return false; }
  // Moves what the transport owes the peer while no operation runs. `round` counts the
  // engine's idle rounds: connections that share a progress context progress it once a round.
  virtual void progressIdle(uint64_t /*round*/) noexcept {}
  // Closes at once, after a best-effort failure notice: the peer's pending operations fail
  // with `noticeStatus` and "<this rank> reported: <notice>", or with a remote error if the
  // notice never arrives.
  virtual void abort(Status noticeStatus, const std::string& notice) = 0;
};

using ConnectionMap = std::map<int, std::unique_ptr<Connection>>;

struct ConnectRequest {
  int rank = 0;
  int size = 1;
  std::vector<int> peers;  // symmetric (if a needs b then b needs a), never the rank itself
  JobToken token{};
  int timeoutMs = 60000;
  // Tells apart the communicators of one job that share a fabric (a split and its parent):
  // empty for the first, the store prefix for the others. Store-based transports need nothing
  // of it (the store is already prefixed); the in-process one keys its lanes with it.
  std::string scope;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::string name() const = 0;
  // Connects to every peer of the request, registering sockets with `poller`.
  virtual ConnectionMap connect(const ConnectRequest& request, Store& store, Poller& poller) = 0;
};

}  // namespace gccl
