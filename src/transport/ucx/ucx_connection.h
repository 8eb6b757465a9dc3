// A peer over a UCP endpoint, tag-matched. A small message is the 40-byte frame header and the
// payload as one two-piece (iov) tagged message; a large one goes as two contiguous tagged
// messages, header and payload, because UCX's rendezvous moves an iov at a fraction of a
// contiguous buffer's rate (docs/benchmarks.md). Tags carry the sender's rank, the message's
// index on this pair and which piece it is, so the i-th send matches the i-th receive
// whatever UCX reorders. The receiver checks the header like TCP does: a different
// collective, count or length is a mismatch naming the peer.
#pragma once

#include <ucp/api/ucp.h>

#include <array>
#include <deque>
#include <memory>
#include <string>

#include "base/deadline.h"
#include "transport/transport.h"
#include "transport/ucx/ucx_worker.h"

namespace gccl::transport::ucx {

class UcxConnection final : public Connection {
 public:
  // Creates the endpoint to `peerAddress` (a worker address from the store).
  UcxConnection(std::shared_ptr<UcxWorker> worker, const std::string& peerAddress, int rank,
                int peer, std::string peerName);
  ~UcxConnection() override;
  // Waits until UCX has set up the endpoint's transports (it does so lazily, on first use, in
  // an exchange that needs both sides' progress). kTimeout naming the peer at `deadline`.
  void awaitConnected(const Deadline& deadline);

  int peer() const override { return peer_; }
  const std::string& peerName() const override { return peerName_; }
  void postSend(Message& message) override;
  void postRecv(Message& message) override;
  bool progress() override;
  void updatePoller(Poller& poller) override;
  bool needsIdleProgress() const override { return true; }
  void progressIdle(uint64_t round) noexcept override { worker_->progressIdle(round); }
  void abort(Status noticeStatus, const std::string& notice) override;

 private:
  // One tagged UCX operation: a whole message, or its header or payload alone.
  struct Piece {
    void* request = nullptr;  // null once complete (or when it completed at once)
    ucs_status_t status = UCS_INPROGRESS;
    ucp_tag_recv_info_t info{};
  };
  struct Pending {
    Message* message = nullptr;
    FrameHeader header{};  // receives: what arrived
    std::array<ucp_dt_iov_t, 2> iov{};
    std::array<Piece, 2> pieces{};  // [0] alone for a whole message; header and payload if split
    bool split = false;
  };

  // What one tagged operation moves: `count` bytes at `buffer`, or an iov's `count` pieces.
  struct Span {
    void* buffer;
    size_t count;
    ucp_datatype_t datatype;
  };

  static void onEndpointError(void* self, ucp_ep_h endpoint, ucs_status_t status);
  // A message as one piece: its header (or where a received one lands) and payload as an iov,
  // or the header alone as contiguous bytes (UCX reports no length for a one-piece iov).
  static Span wholeOf(Pending& pending, FrameHeader& header);
  void sendPiece(Piece& piece, Span span, ucp_tag_t tag);
  void recvPiece(Piece& piece, Span span, ucp_tag_t tag);
  using PostPiece = void (UcxConnection::*)(Piece&, Span, ucp_tag_t);
  void postPieces(Pending& pending, FrameHeader& header, ucp_tag_t headerTag, ucp_tag_t payloadTag,
                  PostPiece post);
  // Whether every piece of a send (receive) has completed; throws on a failed one.
  bool sendDone(Pending& pending);
  bool recvDone(Pending& pending);
  bool completeSends();
  bool completeRecvs();
  // Checks a received header against what the receive expects.
  void checkHeader(const Pending& pending) const;
  [[noreturn]] void failTruncated(const Pending& pending, size_t piece) const;
  void releaseRequests();
  void closeEndpoint(bool force);
  [[noreturn]] void failWith(const char* what, ucs_status_t status);

  std::shared_ptr<UcxWorker> worker_;
  ucp_ep_h endpoint_ = nullptr;
  int rank_;
  int peer_;
  std::string peerName_;
  uint64_t sent_ = 0;      // messages posted to the peer so far: the next send's index
  uint64_t received_ = 0;  // likewise for receives
  std::deque<Pending> sends_;
  std::deque<Pending> recvs_;
  ucs_status_t endpointError_ = UCS_OK;  // set by UCX when the peer is gone
  bool closed_ = false;
};

}  // namespace gccl::transport::ucx
