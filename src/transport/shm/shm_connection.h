// A peer on this machine over shared memory: this rank's sends go into one byte ring of the
// pair's segment, the peer's arrive in the other, as the same frames TCP carries (header, then
// payload), checked the same way. Large payloads go single-copy when the kernel allows it: the
// ring then carries the sender's buffer address, the receiver reads it with
// process_vm_readv and acks through the segment. A payload in a gcclMemAlloc buffer goes
// zero-copy: the receiver maps the buffer's memory file and reads it from there, or hands the
// engine a view to reduce straight from, acking once the engine releases it. A send that
// offers write-back (the direct allreduce) comes with a second descriptor, where its result
// goes (the payload itself in place, the sender's output out of place): the engine writes the
// reduced result there, and the result's message back is then a notice that it is there.
//
// The engine sleeps in epoll, and rings make no file descriptor ready, so the pair also keeps
// a Unix socket: a doorbell a writer rings when it finds the reader asleep, and the peer's
// lifeline — a killed peer's socket closes, and what waits for it fails naming it.
#pragma once

#include <sys/types.h>

#include <deque>
#include <string>

#include "base/socket.h"
#include "transport/shm/byte_ring.h"
#include "transport/shm/cma.h"
#include "transport/shm/peer_process.h"
#include "transport/shm/peer_regions.h"
#include "transport/shm/shm_segment.h"
#include "transport/transport.h"

namespace gccl::transport::shm {

struct PairSetup {
  Socket bell;
  SharedSegment segment;
  int sendRing = 0;  // 0 for the lower rank of the pair, 1 for the higher
  int peer = -1;
  std::string peerName;
  pid_t peerPid = 0;
  PeerProcess peerProcess;  // none where the kernel gives no pidfd: the bell's hang-up serves
  bool cmaSend = false;     // the peer can read this rank's memory
  bool cmaReceive = false;  // this rank can read the peer's
  bool mapSend = false;     // the peer can map this rank's shareable regions (zero-copy)
  bool writeBack = true;    // GCCL_SHM_WRITE_BACK: write-back offered and taken
};

class ShmConnection final : public Connection {
 public:
  explicit ShmConnection(PairSetup setup);
  ~ShmConnection() override;

  int peer() const override { return peer_; }
  const std::string& peerName() const override { return peerName_; }
  void postSend(Message& message) override;
  void postRecv(Message& message) override;
  bool progress() override;
  void releaseView(Message& message) override;
  void* beginViewWrite(Message& message, size_t offset, size_t bytes) override;
  void endViewWrite(Message& message) noexcept override;
  bool peerMapsSharedBuffers() const override { return mapSend_; }
  void updatePoller(Poller& poller) override;
  void abort(Status noticeStatus, const std::string& notice) override;

 private:
  // Whether a message of `payloadBytes` carries a BodyKind after its header (cma.h): both ends
  // apply the rule, the sender with cmaSend_, the receiver with cmaReceive_ (one probe's verdict).
  static bool tagged(size_t payloadBytes, bool pairCanSingleCopy) {
    return pairCanSingleCopy && payloadBytes >= kZeroCopyMinBytes;
  }
  // Lays out what goes in front of `m`'s payload: header, body kind, descriptor (two for a
  // write-back offer: the payload's, then the destination's). Sets `m.writeBackOffered`.
  void planRecord(Message& m);
  // Writes what fits of `m`'s record (the preamble, then the payload unless single-copy); true
  // when whole.
  bool writeRest(Message& m);
  bool progressSends();
  bool progressRecvs();
  // Lands the rest of the front receive's body; true when it is complete.
  bool readBody(Message& m);
  // Lands a single-copy body whose descriptor is in: from the peer's mapped region (as a view,
  // acked on release, when the poster takes one), else by process_vm_readv.
  void readSingleCopy(Message& m);
  // Throws when what a single-copy read got may not be the peer's data.
  void checkPeerStillOwnedBuffer();
  void ackSingleCopy();
  // Whether the peer exited (its process handle) or closed its end of the bell (it closed
  // the connection, or exited: the hang-up is all there is without a handle, and a child the
  // peer forked can hold it up).
  bool peerGone() const;
  bool sendCouldMove() const;
  bool sending() const { return !sends_.empty() || !written_.empty(); }
  // Doorbells: after publishing bytes (or freeing room / acking), wake the peer if it sleeps.
  void wakeConsumer();
  void wakeProducer();
  void ringBell();
  void drainBell();
  void awaitViewWriter();
  void sendNotice(Status status, const std::string& notice);
  void throwQueuedNotice();
  void throwNoticeAtHead();  // if the next record in the ring is a failure notice
  void awaitNoticeAtHead();  // the same, after waiting briefly for a record to come
  [[noreturn]] void throwNotice();

  Socket bell_;
  SharedSegment segment_;
  ByteRing out_;
  ByteRing in_;
  int peer_;
  std::string peerName_;
  pid_t peerPid_;
  PeerProcess peerProcess_;
  bool cmaSend_;
  bool cmaReceive_;
  bool mapSend_;
  bool writeBack_;
  PeerRegions regions_;
  bool viewPending_ = false;  // a receive's view is out: deliver nothing more until released
  // Sends wait here until their record is whole in the ring, then in `written_` until every
  // single-copy read up to theirs is acked: single-copy sends pipeline, and sends still
  // complete in posting order.
  struct Written {
    Message* message;
    uint64_t ack;  // `acked` this send needs
  };
  std::deque<Message*> sends_;
  std::deque<Written> written_;
  std::deque<Message*> recvs_;
  FrameHeader incoming_{};  // header of the message being received
  // The front send's record, up to its payload, and whether the payload follows (or the
  // peer reads it single-copy). A writable descriptor is two: the payload, then where its
  // result goes.
  std::byte preamble_[sizeof(FrameHeader) + sizeof(BodyKind) + 2 * sizeof(CmaDescriptor)]{};
  size_t preambleBytes_ = 0;
  bool payloadFollows_ = true;
  bool awaitsAck_ = false;   // the record is a descriptor, which the peer acks once read
  BodyKind incomingKind_{};  // of the front receive, when tagged
  // Descriptors of the front receive, when single-copy: its payload, and (writable) where
  // its result goes.
  CmaDescriptor descriptors_[2]{};
  uint64_t singleCopiesSent_ = 0;
  // Each said once per peer in the log: the first write-back, the first delivered notice.
  bool wroteBack_ = false;
  bool noticed_ = false;
  bool armed_ = false;  // sleeping flags set: drain the bell on the next progress
  bool registered_ = false;
  bool peerClosed_ = false;
  bool closed_ = false;
};

}  // namespace gccl::transport::shm
