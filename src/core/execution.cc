#include "core/execution.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <utility>

#include "base/error.h"
#include "base/logging.h"
#include "core/open_view_writes.h"
#include "reduce/non_finite.h"
#include "reduce/reduce.h"

namespace gccl {

std::byte* ReusableBuffer::reserve(size_t bytes) {
  needed_ = bytes;
  if (bytes > bytes_) {
    storage_.reset();  // never hold the old and the new block at once
    // Not zeroed: every schedule writes a slot or a work range before it reads it, and
    // zeroing a large operation's scratch was one more pass over it in every call.
    storage_ = std::make_unique_for_overwrite<std::byte[]>(bytes);
    bytes_ = bytes;
  }
  return storage_.get();
}

void ReusableBuffer::trim(size_t keepBytes) {
  if (bytes_ <= keepBytes) return;
  if (needed_ > keepBytes) {
    idleOperations_ = 0;  // in use: the next operation likely needs as much again
    return;
  }
  if (++idleOperations_ < kIdleOperationsBeforeFree) return;
  storage_.reset();
  bytes_ = 0;
  idleOperations_ = 0;
}

namespace {

const ScheduleIndex& indexOf(const Operation& operation,
                             std::unique_ptr<const ScheduleIndex>& made) {
  if (operation.index) return *operation.index;
  made = std::make_unique<const ScheduleIndex>(indexSchedule(*operation.schedule));
  return *made;
}

}  // namespace

Execution::Execution(const Operation& operation, ConnectionMap& connections,
                     ReusableBuffer& scratch, ReusableBuffer& work, int size)
    : operation_(operation),
      schedule_(*operation.schedule),
      index_(indexOf(operation, ownIndex_)),
      work_(work.reserve(operation.schedule->workElements * dataTypeSize(operation.type))),
      size_(size),
      elementSize_(dataTypeSize(operation.type)),
      done_(schedule_.steps.size(), 0),
      messages_(std::make_unique<Message[]>(schedule_.steps.size())),
      remaining_(schedule_.steps.size()) {
  if (!index_.chains.empty()) {
    arrived_.assign(schedule_.steps.size(), 0);
    arrivedInChain_.assign(index_.chains.size(), 0);
  }
  peers_.reserve(index_.peers.size());
  for (const PeerSteps& steps : index_.peers) {
    auto connection = connections.find(steps.peer);
    if (connection == connections.end()) {
      fail(Status::kInternalError, operation.describe(), ": no connection to rank ", steps.peer);
    }
    PeerQueue& queue = peers_.emplace_back();
    queue.connection = connection->second.get();
    queue.sends = &steps.sends;
    queue.recvs = &steps.recvs;
  }
  carveScratch(scratch);
}

// Each peer gets as many slots as it has RecvReduce steps, at most kScratchSlotsPerPeer, each
// as large as its largest one: a ring's left neighbour four slices, each partner of recursive
// doubling one whole buffer.
void Execution::carveScratch(ReusableBuffer& scratch) {
  auto slotsOf = [](const PeerSteps& steps) {
    return std::min(steps.recvReduces, kScratchSlotsPerPeer);
  };
  size_t total = 0;
  for (const PeerSteps& steps : index_.peers) {
    total += slotsOf(steps) * steps.largestRecvReduce * elementSize_;
  }
  std::byte* next = scratch.reserve(total);
  for (size_t p = 0; p < peers_.size(); ++p) {
    const PeerSteps& steps = index_.peers[p];
    PeerQueue& queue = peers_[p];
    for (size_t slot = 0; slot < slotsOf(steps); ++slot) {
      queue.freeSlots[queue.freeCount++] = next;
      next += steps.largestRecvReduce * elementSize_;
    }
  }
}

bool Execution::ready(const Step& step) const {
  for (int32_t dependency : step.after) {
    if (dependency != kNoStep && !isDone(dependency)) return false;
  }
  return true;
}

std::byte* Execution::address(BufferRole role, Range range) const {
  const void* base = role == BufferRole::kInput    ? operation_.input
                     : role == BufferRole::kOutput ? operation_.output
                                                   : work_;
  return static_cast<std::byte*>(const_cast<void*>(base)) + range.offset * elementSize_;
}

void Execution::finish(int32_t index) {
  done_[static_cast<size_t>(index)] = 1;
  --remaining_;
}

bool Execution::advance() {
  bool moved = runLocalSteps();
  for (PeerQueue& queue : peers_) {
    moved |= postSends(queue);
    moved |= postRecvs(queue);
    if (queue.sendsDone < queue.sendsPosted || queue.recvsDone < queue.recvsPosted) {
      moved |= queue.connection->progress();
    }
    moved |= completeSends(queue);
    moved |= completeRecvs(queue);
  }
  return moved;
}

bool Execution::runLocalSteps() {
  bool ran = false;
  const std::vector<int32_t>& local = index_.local;
  for (size_t i = localFrom_; i < local.size(); ++i) {
    if (isDone(local[i])) continue;
    const Step& step = schedule_.steps[static_cast<size_t>(local[i])];
    if (!ready(step)) continue;
    std::byte* out = address(step.target, step.output);
    if (step.kind == StepKind::kCopy) {
      // memmove: a copy within one buffer (in place) may overlap itself.
      if (step.count() > 0)
        std::memmove(out, address(step.source, step.input), step.count() * elementSize_);
    } else if (step.kind == StepKind::kReduce) {
      const void* operand = address(step.source, step.input);
      if (step.divides) {
        reduceAndDivide(operation_.type, out, out, operand, step.count(), size_,
                        operation_.findNonFinite ? &nonFinite_ : nullptr);
      } else {
        reduce(operation_.type, operation_.op, out, out, operand, step.count());
      }
    } else if (step.kind == StepKind::kDivide) {
      finalizeAverage(operation_.type, out, step.count(), size_);
      if (operation_.findNonFinite && !nonFinite_) {
        nonFinite_ = hasNonFinite(operation_.type, out, step.count());
      }
    }
    finish(local[i]);
    ran = true;
  }
  while (localFrom_ < local.size() && isDone(local[localFrom_])) ++localFrom_;
  return ran;
}

bool Execution::postSends(PeerQueue& queue) {
  bool posted = false;
  while (queue.sendsPosted < queue.sends->size()) {
    const int32_t index = (*queue.sends)[queue.sendsPosted];
    const Step& step = schedule_.steps[static_cast<size_t>(index)];
    if (!ready(step)) break;
    Message& message = messages_[static_cast<size_t>(index)];
    message.header = operation_.frameHeaderTo(step.peer);
    message.data = address(step.source, step.input);
    message.bytes = step.count() * elementSize_;
    message.writeBackTo = step.writeBack ? address(step.target, step.output) : nullptr;
    message.delivered = step.deliveredBy != kNoStep && !writtenBack_.empty() &&
                        writtenBack_[static_cast<size_t>(step.deliveredBy)] != 0;
    queue.connection->postSend(message);
    ++queue.sendsPosted;
    posted = true;
  }
  return posted;
}

bool Execution::postRecvs(PeerQueue& queue) {
  bool posted = false;
  while (queue.recvsPosted < queue.recvs->size()) {
    const int32_t index = (*queue.recvs)[queue.recvsPosted];
    const Step& step = schedule_.steps[static_cast<size_t>(index)];
    Message& message = messages_[static_cast<size_t>(index)];
    if (step.kind == StepKind::kRecv) {
      if (!ready(step)) break;
      message.data = address(step.target, step.output);
    } else {
      if (queue.freeCount == 0) break;
      message.data = queue.freeSlots[--queue.freeCount];
    }
    message.header = operation_.frameHeaderFrom(step.peer);
    message.bytes = step.count() * elementSize_;
    message.viewable = step.kind == StepKind::kRecvReduce;
    message.view = nullptr;
    message.writeView = nullptr;
    message.delivered = false;
    message.acceptsDelivered =
        step.deliveredBy != kNoStep && wasOfferedBack(step.deliveredBy, message);
    queue.connection->postRecv(message);
    ++queue.recvsPosted;
    posted = true;
  }
  return posted;
}

bool Execution::completeSends(PeerQueue& queue) {
  bool completed = false;
  while (queue.sendsDone < queue.sendsPosted) {
    const int32_t index = (*queue.sends)[queue.sendsDone];
    const Message& message = messages_[static_cast<size_t>(index)];
    if (!message.done.load(std::memory_order_acquire)) break;
    sentBytes_ += message.delivered ? 0 : message.bytes;  // a notice carries no payload
    finish(index);
    ++queue.sendsDone;
    completed = true;
  }
  return completed;
}

bool Execution::completeRecvs(PeerQueue& queue) {
  bool completed = false;
  while (queue.recvsDone < queue.recvsPosted) {
    const int32_t index = (*queue.recvs)[queue.recvsDone];
    const Step& step = schedule_.steps[static_cast<size_t>(index)];
    Message& message = messages_[static_cast<size_t>(index)];
    if (!message.done.load(std::memory_order_acquire)) break;
    if (step.kind == StepKind::kRecvReduce && !index_.chainOf.empty() &&
        index_.chainOf[static_cast<size_t>(index)] >= 0) {
      if (!arriveInChain(index)) break;  // held at the front of its queue until then
      completed = true;
      continue;
    }
    if (step.kind == StepKind::kRecvReduce) {
      if (!ready(step)) break;
      const void* local = address(step.source, step.input);
      const void* received = message.view != nullptr ? message.view : message.data;
      if (writesBackInto(step, message) && resultIsFinal(step)) {
        const ChainOperands operands{local, received, step.receivedFirst};
        const ViewWriter writer{index, queue.connection};
        reduceWritingBack(step, {&operands, 1}, {&writer, 1});
      } else {
        if (step.receivedFirst) std::swap(local, received);  // now: left operand, right operand
        void* out = address(step.target, step.output);
        if (step.divides) {
          reduceAndDivide(operation_.type, out, local, received, step.count(), size_,
                          operation_.findNonFinite ? &nonFinite_ : nullptr);
        } else {
          reduce(operation_.type, operation_.op, out, local, received, step.count());
        }
      }
      queue.connection->releaseView(message);
      queue.freeSlots[queue.freeCount++] = static_cast<std::byte*>(message.data);
    }
    finish(index);
    ++queue.recvsDone;
    completed = true;
  }
  return settleView(queue) || completed;
}

bool Execution::chainReady(int32_t chain) const {
  const std::vector<ChainLink>& links = index_.chains[static_cast<size_t>(chain)];
  for (size_t k = 0; k < links.size(); ++k) {
    for (const int32_t dependency : schedule_.steps[static_cast<size_t>(links[k].step)].after) {
      const bool previousLink = k > 0 && dependency == links[k - 1].step;
      if (dependency != kNoStep && !previousLink && !isDone(dependency)) return false;
    }
  }
  return true;
}

bool Execution::arriveInChain(int32_t index) {
  const auto chain = index_.chainOf[static_cast<size_t>(index)];
  const std::vector<ChainLink>& links = index_.chains[static_cast<size_t>(chain)];
  if (arrived_[static_cast<size_t>(index)] == 0) {
    arrived_[static_cast<size_t>(index)] = 1;
    ++arrivedInChain_[static_cast<size_t>(chain)];
  }
  if (arrivedInChain_[static_cast<size_t>(chain)] < links.size() || !chainReady(chain)) {
    return false;
  }
  std::array<ChainOperands, kMaxChainLinks> operands{};  // indexSchedule refuses longer chains
  for (size_t k = 0; k < links.size(); ++k) {
    const Step& step = schedule_.steps[static_cast<size_t>(links[k].step)];
    const Message& message = messages_[static_cast<size_t>(links[k].step)];
    operands[k] = {address(step.source, step.input),
                   message.view != nullptr ? message.view : message.data, step.receivedFirst};
  }
  const Step& last = schedule_.steps[static_cast<size_t>(links.back().step)];
  // Only a final result (an average once divided) is written back.
  std::array<ViewWriter, kMaxChainLinks> writers{};
  size_t writing = 0;
  for (size_t k = 0; k < links.size() && resultIsFinal(last); ++k) {
    const ChainLink& link = links[k];
    if (writesBackInto(schedule_.steps[static_cast<size_t>(link.step)],
                       messages_[static_cast<size_t>(link.step)])) {
      writers[writing++] = {link.step, peers_[link.peer].connection};
    }
  }
  if (writing > 0) {
    reduceWritingBack(last, {operands.data(), links.size()}, {writers.data(), writing});
  } else {
    reduceChain(operation_.type, operation_.op, address(last.target, last.output),
                {operands.data(), links.size()}, last.count(), last.divides ? size_ : 1,
                last.divides && operation_.findNonFinite ? &nonFinite_ : nullptr);
  }
  for (const ChainLink& link : links) {
    PeerQueue& queue = peers_[link.peer];
    Message& message = messages_[static_cast<size_t>(link.step)];
    queue.connection->releaseView(message);
    queue.freeSlots[queue.freeCount++] = static_cast<std::byte*>(message.data);
    finish(link.step);
    ++queue.recvsDone;
  }
  return true;
}

// A view that cannot be reduced now (the step waits for its dependencies, or for an earlier
// receive's) is copied into its slot and released: the peer's send, and every later message
// from it, must not wait on this rank's other work, or two ranks could wait on each other.
// A chain whose other dependencies are done holds its views until its last one is in: its
// peers send their parts of it with nothing to wait for first (the direct allreduce's first
// round), so the ranks still cannot end up waiting on each other.
bool Execution::settleView(PeerQueue& queue) {
  for (size_t i = queue.recvsDone; i < queue.recvsPosted; ++i) {
    const int32_t index = (*queue.recvs)[i];
    Message& message = messages_[static_cast<size_t>(index)];
    if (!message.done.load(std::memory_order_acquire)) return false;
    if (message.view == nullptr) continue;
    if (!index_.chainOf.empty()) {
      const int32_t chain = index_.chainOf[static_cast<size_t>(index)];
      if (chain >= 0 && chainReady(chain)) continue;  // held for the rest of its chain
    }
    std::memcpy(message.data, message.view, message.bytes);
    queue.connection->releaseView(message);
    return true;
  }
  return false;
}

bool Execution::resultIsFinal(const Step& reduction) const {
  return operation_.op != ReduceOp::kAvg || reduction.divides;
}

bool Execution::writesBackInto(const Step& step, const Message& message) const {
  return step.writeBack && message.view != nullptr && message.writeView != nullptr;
}

bool Execution::wasOfferedBack(int32_t send, const Message& receive) const {
  const Message& sent = messages_[static_cast<size_t>(send)];
  return isDone(send) && sent.writeBackOffered && sent.writeBackTo == receive.data &&
         sent.bytes == receive.bytes;
}

namespace {

// Whether this process has said that results stream (said once: it is the same every call).
std::atomic<bool> loggedStreaming{false};

}  // namespace

// Block by block, each block's result computed once and stored into this rank's output and
// every writer's view: the one pass over the range reads every operand once and writes the
// result once per rank that holds it. A result larger than the cache streams around it
// (Operation::resultStores): cached, each store would first read the line it writes, and fill
// the cache with lines nobody reads before they are evicted.
void Execution::reduceWritingBack(const Step& last, std::span<const ChainOperands> chain,
                                  std::span<const ViewWriter> writers) {
  auto* out = static_cast<std::byte*>(address(last.target, last.output));
  const size_t count = last.count();
  const size_t block = std::max<size_t>(1, kWriteBackBlockBytes / elementSize_);
  bool* nonFinite = last.divides && operation_.findNonFinite ? &nonFinite_ : nullptr;
  std::array<ChainOperands, kMaxChainLinks> shifted{};
  std::array<void*, kMaxChainLinks + 1> outputs{};
  size_t streamed = 0;
  for (size_t at = 0; at < count; at += block) {
    const size_t n = std::min(block, count - at);
    const size_t offset = at * elementSize_;
    for (size_t k = 0; k < chain.size(); ++k) {
      shifted[k] = {static_cast<const std::byte*>(chain[k].local) + offset,
                    static_cast<const std::byte*>(chain[k].received) + offset,
                    chain[k].receivedFirst};
    }
    OpenViewWrites views;
    outputs[0] = out + offset;
    for (size_t w = 0; w < writers.size(); ++w) {
      outputs[w + 1] =
          views.open(*writers[w].connection, messages_[static_cast<size_t>(writers[w].step)],
                     offset, n * elementSize_);
    }
    streamed +=
        reduceChainToAll(operation_.type, operation_.op, {outputs.data(), writers.size() + 1},
                         {shifted.data(), chain.size()}, n, last.divides ? size_ : 1, nonFinite,
                         operation_.resultStores);
  }
  if (streamed > 0 && !loggedStreaming.exchange(true, std::memory_order_relaxed)) {
    logInfo(LogSubsys::kColl,
            "write-back: results stream around the cache into this rank's "
            "output and its peers' (GCCL_SHM_STREAM_BYTES)");
  }
  // Sized on first use: most operations write nothing back, and a small one should not pay
  // for an allocation it never reads.
  if (writtenBack_.empty()) writtenBack_.assign(schedule_.steps.size(), 0);
  for (const ViewWriter& writer : writers) writtenBack_[static_cast<size_t>(writer.step)] = 1;
}

void Execution::updatePoller(Poller& poller) {
  for (PeerQueue& queue : peers_) queue.connection->updatePoller(poller);
}

std::vector<int> Execution::waitedPeers() const {
  std::vector<int> peers;
  for (const PeerQueue& queue : peers_) {
    if (queue.recvsDone < queue.recvs->size() || queue.sendsDone < queue.sendsPosted) {
      peers.push_back(queue.connection->peer());
    }
  }
  return peers;
}

std::string Execution::waitingOn() const {
  std::string text;
  for (const PeerQueue& queue : peers_) {
    if (queue.recvsDone < queue.recvs->size()) {
      text += strCat(text.empty() ? "" : "; ", "receive from ", queue.connection->peerName());
    }
    if (queue.sendsDone < queue.sendsPosted) {
      text += strCat(text.empty() ? "" : "; ", "send to ", queue.connection->peerName());
    }
  }
  return text.empty() ? "local work" : text;
}

}  // namespace gccl
