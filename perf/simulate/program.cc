#include "program.h"

#include <algorithm>
#include <limits>

#include "base/error.h"

namespace gccl::sim {

namespace {

bool talks(StepKind kind) {
  return kind == StepKind::kSend || kind == StepKind::kRecv || kind == StepKind::kRecvReduce;
}

SimStep compact(const Step& step, int32_t index, int rank, int nranks) {
  const size_t count = step.count();
  if (count > std::numeric_limits<uint32_t>::max()) {
    fail(Status::kInvalidArgument, "rank ", rank, " step ", index, " moves ", count,
         " elements; the simulator handles at most 2^32-1 per step");
  }
  for (int32_t dependency : step.after) {
    if (dependency != kNoStep && (dependency < 0 || dependency >= index)) {
      fail(Status::kInvalidArgument, "rank ", rank, " step ", index, " depends on step ",
           dependency);
    }
  }
  if (talks(step.kind) && (step.peer < 0 || step.peer >= nranks || step.peer == rank)) {
    fail(Status::kInvalidArgument, "rank ", rank, " step ", index, " names peer ", step.peer);
  }
  SimStep out;
  out.elements = static_cast<uint32_t>(count);
  out.after = step.after;
  out.kind = step.kind;
  return out;
}

// Compacts one rank's schedule: its steps, and its peer queues in the engine's order.
RankProgram compileRank(const Schedule& schedule, int rank, int nranks, size_t slotsPerPeer) {
  RankProgram program;
  program.steps.reserve(schedule.steps.size());
  std::vector<int32_t> peers;
  for (size_t i = 0; i < schedule.steps.size(); ++i) {
    const Step& step = schedule.steps[i];
    program.steps.push_back(compact(step, static_cast<int32_t>(i), rank, nranks));
    if (talks(step.kind)) peers.push_back(step.peer);
  }
  std::sort(peers.begin(), peers.end());
  peers.erase(std::unique(peers.begin(), peers.end()), peers.end());
  if (peers.size() > std::numeric_limits<uint16_t>::max()) {
    fail(Status::kInvalidArgument, "rank ", rank, " talks to ", peers.size(), " peers");
  }
  // Counting pass, then a placing pass: `order` holds each queue's sends, then its receives.
  program.queues.resize(peers.size());
  std::vector<size_t> reduces(peers.size(), 0);
  for (size_t q = 0; q < peers.size(); ++q) program.queues[q].peer = peers[q];
  for (size_t i = 0; i < schedule.steps.size(); ++i) {
    const Step& step = schedule.steps[i];
    if (!talks(step.kind)) {
      program.local.push_back(static_cast<uint32_t>(i));
      continue;
    }
    const auto q = static_cast<size_t>(std::lower_bound(peers.begin(), peers.end(), step.peer) -
                                       peers.begin());
    program.steps[i].queue = static_cast<uint16_t>(q);
    PeerQueue& queue = program.queues[q];
    ++(step.kind == StepKind::kSend ? queue.sendCount : queue.recvCount);
    if (step.kind == StepKind::kRecvReduce) ++reduces[q];
  }
  uint32_t next = 0;
  for (size_t q = 0; q < peers.size(); ++q) {
    PeerQueue& queue = program.queues[q];
    queue.sendBegin = next;
    queue.recvBegin = next + queue.sendCount;
    next += queue.sendCount + queue.recvCount;
    queue.freeSlots = static_cast<uint32_t>(std::min(reduces[q], slotsPerPeer));
  }
  program.order.resize(next);
  std::vector<uint32_t> placed(peers.size() * 2, 0);
  for (size_t i = 0; i < schedule.steps.size(); ++i) {
    const SimStep& step = program.steps[i];
    if (!talks(step.kind)) continue;
    const PeerQueue& queue = program.queues[step.queue];
    const bool send = step.kind == StepKind::kSend;
    uint32_t& count = placed[step.queue * 2 + (send ? 0 : 1)];
    program.order[(send ? queue.sendBegin : queue.recvBegin) + count++] = static_cast<uint32_t>(i);
  }
  program.remaining = program.steps.size();
  return program;
}

// Points every queue at its peer's queue for this rank, and checks that the two agree.
void pairQueues(Program& program) {
  for (size_t r = 0; r < program.ranks.size(); ++r) {
    for (PeerQueue& queue : program.ranks[r].queues) {
      const RankProgram& other = program.ranks[static_cast<size_t>(queue.peer)];
      const auto it =
          std::lower_bound(other.queues.begin(), other.queues.end(), static_cast<int32_t>(r),
                           [](const PeerQueue& q, int32_t peer) { return q.peer < peer; });
      const size_t theirSends =
          it != other.queues.end() && it->peer == int32_t(r) ? it->sendCount : 0;
      if (it == other.queues.end() || it->peer != int32_t(r) || it->recvCount != queue.sendCount ||
          theirSends != queue.recvCount) {
        fail(Status::kInvalidArgument, "ranks ", r, " and ", queue.peer,
             " disagree on the messages between them");
      }
      queue.mirror = static_cast<uint32_t>(it - other.queues.begin());
      program.messages += queue.sendCount;
    }
  }
}

}  // namespace

bool RankProgram::ready(const SimStep& s) const {
  for (int32_t dependency : s.after) {
    if (dependency != kNoStep && !(steps[static_cast<size_t>(dependency)].state & kDone)) {
      return false;
    }
  }
  return true;
}

Program compileProgram(int nranks, const std::function<Schedule(int rank)>& build,
                       size_t slotsPerPeer) {
  Program program;
  program.ranks.reserve(static_cast<size_t>(nranks));
  for (int rank = 0; rank < nranks; ++rank) {
    program.ranks.push_back(compileRank(build(rank), rank, nranks, slotsPerPeer));
    program.steps += program.ranks.back().steps.size();
  }
  pairQueues(program);
  return program;
}

}  // namespace gccl::sim
