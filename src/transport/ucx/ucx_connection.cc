#include "transport/ucx/ucx_connection.h"

#include <chrono>

#include "base/error.h"
#include "base/logging.h"

namespace gccl::transport::ucx {

namespace {

// The sender's rank in the high bits, then whether this is a split message's payload, the
// message's index on this pair below: tags of two peers never collide, and per pair they
// arrive in the order posted. A whole message and a split one's header share a tag, so that
// two ranks disagreeing on a message's size still match and find the mismatch in the header.
constexpr int kIndexBits = 39;
constexpr int kPayloadShift = kIndexBits;
constexpr int kSenderShift = kIndexBits + 1;

ucp_tag_t tagOf(int sender, uint64_t index, bool payload) {
  return (static_cast<ucp_tag_t>(sender) << kSenderShift) |
         (static_cast<ucp_tag_t>(payload) << kPayloadShift) |
         (index & ((ucp_tag_t{1} << kIndexBits) - 1));
}

// Payloads from 32 KiB go split, contiguous: from there UCX over TCP moves a two-piece iov at
// 0.3-0.6x a contiguous buffer's rate (ucx_perftest tag_bw at 16 MiB, and allreduce_perf at
// 2 ranks: 32 KiB 71 against 41-47 us, 64 MiB 0.5 against 1.1-1.35 GB/s), while up to 16 KiB
// one message beats two (14-17 against 21-29 us).
constexpr size_t kSplitMinBytes = 32 * 1024;

constexpr ucp_tag_t kWholeTag = ~ucp_tag_t{0};

// A request still running, a finished one (null), or an error encoded in the pointer.
void* requestOf(ucs_status_ptr_t result, ucs_status_t& status) {
  if (UCS_PTR_IS_ERR(result)) {
    status = UCS_PTR_STATUS(result);
    return nullptr;
  }
  status = result == nullptr ? UCS_OK : UCS_INPROGRESS;
  return result;
}

}  // namespace

UcxConnection::UcxConnection(std::shared_ptr<UcxWorker> worker, const std::string& peerAddress,
                             int rank, int peer, std::string peerName)
    : worker_(std::move(worker)), rank_(rank), peer_(peer), peerName_(std::move(peerName)) {
  ucp_ep_params_t params{};
  params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                      UCP_EP_PARAM_FIELD_ERR_HANDLER;
  params.address = reinterpret_cast<const ucp_address_t*>(peerAddress.data());
  // Peer failure mode: a peer that dies fails our operations instead of leaving them pending.
  params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
  params.err_handler.cb = &UcxConnection::onEndpointError;
  params.err_handler.arg = this;
  ucs_status_t status = ucx().ucp_ep_create(worker_->handle(), &params, &endpoint_);
  if (status == UCS_ERR_UNREACHABLE) {
    // Shared-memory transports of UCX 1.13 cannot report a peer's failure, and refuse an
    // endpoint that asks them to: take one without; the engine's timeout still bounds a wait
    // on a dead peer.
    params.field_mask &= ~(UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER);
    status = ucx().ucp_ep_create(worker_->handle(), &params, &endpoint_);
    if (status == UCS_OK) {
      logInfo(LogSubsys::kNet, "UCX: no peer-failure detection towards ", peerName_,
              " on these transports: a dead peer is found by the timeout");
    }
  }
  if (status != UCS_OK) {
    fail(Status::kSystemError, "UCX: cannot reach ", peerName_, ": ", describe(status));
  }
}

void UcxConnection::awaitConnected(const Deadline& deadline) {
  ucp_request_param_t params{};
  ucs_status_t status = UCS_OK;
  void* request = requestOf(ucx().ucp_ep_flush_nbx(endpoint_, &params), status);
  while (request != nullptr) {
    ucx().ucp_worker_progress(worker_->handle());
    status = ucx().ucp_request_check_status(request);
    if (status != UCS_INPROGRESS) {
      ucx().ucp_request_free(request);
      break;
    }
    if (deadline.expired()) {
      ucx().ucp_request_free(request);  // UCX releases it once it completes
      fail(Status::kTimeout, "UCX: the connection to ", peerName_,
           " was not set up in time (is the peer progressing?)");
    }
  }
  if (endpointError_ != UCS_OK) status = endpointError_;
  if (status != UCS_OK) failWith("setting up the connection failed", status);
}

void UcxConnection::onEndpointError(void* self, ucp_ep_h, ucs_status_t status) {
  static_cast<UcxConnection*>(self)->endpointError_ = status;
}

UcxConnection::Span UcxConnection::wholeOf(Pending& pending, FrameHeader& header) {
  if (pending.message->bytes == 0) return {&header, sizeof header, ucp_dt_make_contig(1)};
  pending.iov[0] = {&header, sizeof header};
  pending.iov[1] = {pending.message->data, pending.message->bytes};
  return {pending.iov.data(), pending.iov.size(), ucp_dt_make_iov()};
}

void UcxConnection::sendPiece(Piece& piece, Span span, ucp_tag_t tag) {
  ucp_request_param_t params{};
  params.op_attr_mask = UCP_OP_ATTR_FIELD_DATATYPE;
  params.datatype = span.datatype;
  piece.request = requestOf(
      ucx().ucp_tag_send_nbx(endpoint_, span.buffer, span.count, tag, &params), piece.status);
}

void UcxConnection::recvPiece(Piece& piece, Span span, ucp_tag_t tag) {
  ucp_request_param_t params{};
  // Always a request: UCX 1.13 leaves tag_info unfilled when a receive completes at once, and
  // the length it reports is how a short message is told from a header-only one.
  params.op_attr_mask = UCP_OP_ATTR_FIELD_DATATYPE | UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
  params.datatype = span.datatype;
  piece.request = requestOf(
      ucx().ucp_tag_recv_nbx(worker_->handle(), span.buffer, span.count, tag, kWholeTag, &params),
      piece.status);
}

// Whole, or split into its header and its payload, each contiguous; sends and receives alike,
// the header being the message's own for a send and where it lands for a receive.
void UcxConnection::postPieces(Pending& pending, FrameHeader& header, ucp_tag_t headerTag,
                               ucp_tag_t payloadTag, PostPiece post) {
  Message& message = *pending.message;
  pending.split = message.bytes >= kSplitMinBytes;
  if (!pending.split) {
    (this->*post)(pending.pieces[0], wholeOf(pending, header), headerTag);
    return;
  }
  const ucp_datatype_t bytes = ucp_dt_make_contig(1);
  (this->*post)(pending.pieces[0], {&header, sizeof(FrameHeader), bytes}, headerTag);
  (this->*post)(pending.pieces[1], {message.data, message.bytes, bytes}, payloadTag);
}

void UcxConnection::postSend(Message& message) {
  Pending& pending = sends_.emplace_back();
  pending.message = &message;
  const uint64_t index = sent_++;
  postPieces(pending, message.header, tagOf(rank_, index, false), tagOf(rank_, index, true),
             &UcxConnection::sendPiece);
}

void UcxConnection::postRecv(Message& message) {
  Pending& pending = recvs_.emplace_back();
  pending.message = &message;
  const uint64_t index = received_++;
  postPieces(pending, pending.header, tagOf(peer_, index, false), tagOf(peer_, index, true),
             &UcxConnection::recvPiece);
}

// What arrived before the peer went away is checked first, before a failed send (a peer that
// saw a mismatch closes its endpoint): the mismatch it shows is the clearer error.
bool UcxConnection::progress() {
  worker_->progress();
  const bool received = completeRecvs();
  const bool sent = completeSends();
  if (endpointError_ != UCS_OK) failWith("the connection failed", endpointError_);
  return sent || received;
}

bool UcxConnection::sendDone(Pending& pending) {
  const size_t pieces = pending.split ? 2 : 1;
  for (size_t i = 0; i < pieces; ++i) {
    Piece& piece = pending.pieces[i];
    if (piece.request != nullptr) {
      piece.status = ucx().ucp_request_check_status(piece.request);
      if (piece.status == UCS_INPROGRESS) return false;
      ucx().ucp_request_free(piece.request);
      piece.request = nullptr;
    }
    if (piece.status != UCS_OK) failWith("a send failed", piece.status);
  }
  return true;
}

// The header is checked as soon as it is in, also while a split payload is still on its way:
// a peer in a different collective may never send the payload that the header would ask for.
bool UcxConnection::recvDone(Pending& pending) {
  const size_t pieces = pending.split ? 2 : 1;
  for (size_t i = 0; i < pieces; ++i) {
    Piece& piece = pending.pieces[i];
    if (piece.request != nullptr) {
      piece.status = ucx().ucp_tag_recv_request_test(piece.request, &piece.info);
      if (piece.status == UCS_INPROGRESS) return false;
      ucx().ucp_request_free(piece.request);
      piece.request = nullptr;
    }
    if (piece.status == UCS_ERR_MESSAGE_TRUNCATED) failTruncated(pending, i);
    if (piece.status != UCS_OK) failWith("a receive failed", piece.status);
    if (i == 0) checkHeader(pending);
  }
  const size_t payloadBytes = pending.split ? pending.pieces[1].info.length
                                            : pending.pieces[0].info.length - sizeof(FrameHeader);
  if (payloadBytes != pending.message->bytes) {
    fail(Status::kRemoteError, peerName_, " sent ", payloadBytes,
         " payload bytes where its header announced ", pending.message->bytes);
  }
  return true;
}

void UcxConnection::checkHeader(const Pending& pending) const {
  const size_t headerBytes = pending.pieces[0].info.length;
  if (headerBytes < sizeof(FrameHeader)) {
    fail(Status::kRemoteError, peerName_, " sent a malformed message of ", headerBytes, " bytes");
  }
  checkFrame(pending.message->header, pending.header, peerName_);
}

// Longer than the receive: a whole message where a split one's header was expected, or more
// payload than expected.
void UcxConnection::failTruncated(const Pending& pending, size_t piece) const {
  if (pending.split && piece == 0) {
    fail(Status::kInvalidUsage, peerName_, " sent a whole message (under ", kSplitMinBytes,
         " payload bytes) where one of ", pending.message->bytes,
         " payload bytes was expected (mismatched collectives)");
  }
  fail(Status::kInvalidUsage, peerName_, " sent a message longer than the ", pending.message->bytes,
       " bytes expected (mismatched collectives)");
}

bool UcxConnection::completeSends() {
  bool completed = false;
  while (!sends_.empty() && sendDone(sends_.front())) {
    sends_.front().message->done.store(true, std::memory_order_release);
    sends_.pop_front();
    completed = true;
  }
  return completed;
}

bool UcxConnection::completeRecvs() {
  bool completed = false;
  while (!recvs_.empty() && recvDone(recvs_.front())) {
    recvs_.front().message->done.store(true, std::memory_order_release);
    recvs_.pop_front();
    completed = true;
  }
  return completed;
}

void UcxConnection::updatePoller(Poller& poller) {
  worker_->prepareToSleep(poller);
}

// UCX has no stream to leave a notice in between messages: peers learn of the failure from
// their endpoints' error handlers (the connection goes away), or from their own timeout.
void UcxConnection::abort(Status, const std::string&) {
  closeEndpoint(true);
  releaseRequests();
}

UcxConnection::~UcxConnection() {
  closeEndpoint(false);
  releaseRequests();
}

// The messages' memory goes back to the engine when this returns, so UCX must be done with it:
// the endpoint is closed first (a forced close fails what is pending on it), requests still
// running are cancelled, and the worker is progressed until every request has completed.
// Bounded, for a transport that never answers; what remains then is freed anyway (UCX frees a
// request when it completes).
void UcxConnection::releaseRequests() {
  const auto giveUp = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  for (auto* queue : {&sends_, &recvs_}) {
    for (Pending& pending : *queue) {
      for (Piece& piece : pending.pieces) {
        if (piece.request == nullptr) continue;
        ucx().ucp_request_cancel(worker_->handle(), piece.request);
        while (ucx().ucp_request_check_status(piece.request) == UCS_INPROGRESS &&
               std::chrono::steady_clock::now() < giveUp) {
          ucx().ucp_worker_progress(worker_->handle());
        }
        ucx().ucp_request_free(piece.request);
        piece.request = nullptr;
      }
    }
    queue->clear();
  }
}

// A graceful close flushes what completed sends handed over (bounded: a dead peer never
// answers); an abort closes at once. The error handler is not called after the close returns
// (UCX releases the endpoint with the close request).
void UcxConnection::closeEndpoint(bool force) {
  if (closed_ || endpoint_ == nullptr) return;
  closed_ = true;
  ucp_request_param_t params{};
  params.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  params.flags = force || endpointError_ != UCS_OK ? UCP_EP_CLOSE_FLAG_FORCE : 0;
  ucs_status_ptr_t request = ucx().ucp_ep_close_nbx(endpoint_, &params);
  if (request == nullptr || UCS_PTR_IS_ERR(request)) return;
  const auto giveUp =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(force ? 100 : 1000);
  while (ucx().ucp_request_check_status(request) == UCS_INPROGRESS &&
         std::chrono::steady_clock::now() < giveUp) {
    ucx().ucp_worker_progress(worker_->handle());
  }
  ucx().ucp_request_free(request);
}

void UcxConnection::failWith(const char* what, ucs_status_t status) {
  fail(Status::kRemoteError, peerName_, ": ", what, " (UCX: ", describe(status), ")");
}

}  // namespace gccl::transport::ucx
