#include "simulator.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/error.h"
#include "event_queue.h"

namespace gccl::sim {

namespace {

class Run {
 public:
  Run(Program& program, const LinkModel& model, size_t elementSize)
      : program_(program),
        fabric_(model, static_cast<int>(program.ranks.size())),
        elementSize_(elementSize) {}

  SimResult go();

 private:
  RankProgram& rank(uint32_t r) { return program_.ranks[r]; }
  PeerQueue& mirror(const PeerQueue& queue) {
    return rank(static_cast<uint32_t>(queue.peer)).queues[queue.mirror];
  }
  size_t bytes(const SimStep& step) const { return size_t{step.elements} * elementSize_; }

  void handle(const Event& event);
  void advance(uint32_t r, double now);
  bool postSends(uint32_t r, PeerQueue& queue, double now);
  bool postRecvs(uint32_t r, PeerQueue& queue, double now);
  bool completeRecvs(uint32_t r, PeerQueue& queue, double now);
  void transfer(uint32_t sender, const PeerQueue& queue, uint32_t ordinal, double now);
  void tryLocal(uint32_t r, uint32_t index, double now);
  void finish(uint32_t r, uint32_t index, double now);
  void checkFinished() const;

  static uint64_t key(uint32_t r, uint32_t index) { return uint64_t{r} << 32 | index; }

  Program& program_;
  Fabric fabric_;
  size_t elementSize_;
  EventQueue events_;
  // Local steps waiting for a step of their rank: (rank, awaited step) -> waiting step. Only
  // blocked local steps are here, so it stays small; queue heads are re-examined instead.
  std::unordered_multimap<uint64_t, uint32_t> waiters_;
  std::vector<std::pair<uint32_t, uint32_t>> woken_;  // (rank, local step) to try again
  bool draining_ = false;
  double end_ = 0;
};

SimResult Run::go() {
  const auto nranks = static_cast<uint32_t>(program_.ranks.size());
  for (uint32_t r = 0; r < nranks; ++r) {
    for (uint32_t index : rank(r).local) tryLocal(r, index, 0.0);
  }
  for (uint32_t r = 0; r < nranks; ++r) advance(r, 0.0);
  while (!events_.empty()) handle(events_.pop());
  checkFinished();
  return {end_, program_.steps, program_.messages, events_.pushed()};
}

void Run::handle(const Event& event) {
  RankProgram& program = rank(event.rank);
  SimStep& step = program.steps[event.step];
  switch (event.kind()) {
    case EventKind::kArrived: {
      const int sender = program.queues[step.queue].peer;
      const double done =
          fabric_.receive(sender, static_cast<int>(event.rank), bytes(step), event.time);
      events_.push(done, event.rank, event.step, EventKind::kReceived);
      return;  // nothing changes for the receiver until the data is in
    }
    case EventKind::kReceived: step.state |= kArrived; break;
    case EventKind::kReduced: {
      PeerQueue& queue = program.queues[step.queue];
      queue.reducing = false;
      ++queue.freeSlots;
      ++queue.recvsDone;
      finish(event.rank, event.step, event.time);
      break;
    }
    case EventKind::kSent:
    case EventKind::kLocalDone: finish(event.rank, event.step, event.time); break;
  }
  advance(event.rank, event.time);
}

// What Execution::advance does, repeated until nothing moves: a completion may make another
// queue's head ready.
void Run::advance(uint32_t r, double now) {
  for (bool moved = true; moved;) {
    moved = false;
    for (PeerQueue& queue : rank(r).queues) {
      moved |= postSends(r, queue, now);
      moved |= postRecvs(r, queue, now);
      moved |= completeRecvs(r, queue, now);
    }
  }
}

bool Run::postSends(uint32_t r, PeerQueue& queue, double now) {
  RankProgram& program = rank(r);
  bool posted = false;
  while (queue.sendsPosted < queue.sendCount) {
    const SimStep& step = program.steps[program.order[queue.sendBegin + queue.sendsPosted]];
    if (!program.ready(step)) break;
    const uint32_t ordinal = queue.sendsPosted++;
    if (mirror(queue).recvsPosted > ordinal) transfer(r, queue, ordinal, now);
    posted = true;
  }
  return posted;
}

bool Run::postRecvs(uint32_t r, PeerQueue& queue, double now) {
  RankProgram& program = rank(r);
  bool posted = false;
  while (queue.recvsPosted < queue.recvCount) {
    const SimStep& step = program.steps[program.order[queue.recvBegin + queue.recvsPosted]];
    if (step.kind == StepKind::kRecv) {
      if (!program.ready(step)) break;
    } else {
      if (queue.freeSlots == 0) break;
      --queue.freeSlots;
    }
    const uint32_t ordinal = queue.recvsPosted++;
    const PeerQueue& sender = mirror(queue);
    if (sender.sendsPosted > ordinal) {
      transfer(static_cast<uint32_t>(queue.peer), sender, ordinal, now);
    }
    posted = true;
  }
  return posted;
}

bool Run::completeRecvs(uint32_t r, PeerQueue& queue, double now) {
  RankProgram& program = rank(r);
  bool completed = false;
  while (!queue.reducing && queue.recvsDone < queue.recvsPosted) {
    const uint32_t index = program.order[queue.recvBegin + queue.recvsDone];
    const SimStep& step = program.steps[index];
    if (!(step.state & kArrived)) break;
    if (step.kind == StepKind::kRecv) {
      ++queue.recvsDone;
      finish(r, index, now);
      completed = true;
      continue;
    }
    if (!program.ready(step)) break;
    queue.reducing = true;  // kReduced completes it and frees its slot
    events_.push(fabric_.compute(static_cast<int>(r), bytes(step), now), r, index,
                 EventKind::kReduced);
    completed = true;
  }
  return completed;
}

// The `ordinal`-th message from `sender` on `queue`, now that both ends have posted it.
void Run::transfer(uint32_t sender, const PeerQueue& queue, uint32_t ordinal, double now) {
  const RankProgram& from = rank(sender);
  const auto receiver = static_cast<uint32_t>(queue.peer);
  const RankProgram& to = rank(receiver);
  const uint32_t sendIndex = from.order[queue.sendBegin + ordinal];
  const uint32_t recvIndex = to.order[mirror(queue).recvBegin + ordinal];
  const SimStep& send = from.steps[sendIndex];
  if (send.elements != to.steps[recvIndex].elements) {
    fail(Status::kInvalidArgument, "rank ", sender, " sends ", send.elements, " elements to rank ",
         receiver, ", which receives ", to.steps[recvIndex].elements, " (message ", ordinal,
         " between them)");
  }
  const Delivery delivery = fabric_.send(static_cast<int>(sender), queue.peer, bytes(send), now);
  events_.push(delivery.sent, sender, sendIndex, EventKind::kSent);
  events_.push(delivery.arrival, receiver, recvIndex, EventKind::kArrived);
}

void Run::tryLocal(uint32_t r, uint32_t index, double now) {
  RankProgram& program = rank(r);
  const SimStep& step = program.steps[index];
  for (int32_t dependency : step.after) {
    if (dependency != kNoStep && !(program.steps[static_cast<size_t>(dependency)].state & kDone)) {
      waiters_.emplace(key(r, static_cast<uint32_t>(dependency)), index);
      return;
    }
  }
  if (step.kind == StepKind::kWait) {
    finish(r, index, now);
  } else {
    events_.push(fabric_.compute(static_cast<int>(r), bytes(step), now), r, index,
                 EventKind::kLocalDone);
  }
}

// Marks a step done and runs the local steps that waited for it (a wait completing may
// release more: a worklist, not recursion, however long the chain).
void Run::finish(uint32_t r, uint32_t index, double now) {
  RankProgram& program = rank(r);
  program.steps[index].state |= kDone;
  --program.remaining;
  end_ = std::max(end_, now);
  if (!waiters_.empty()) {
    const auto [first, last] = waiters_.equal_range(key(r, index));
    for (auto it = first; it != last; ++it) woken_.emplace_back(r, it->second);
    waiters_.erase(first, last);
  }
  if (draining_) return;
  draining_ = true;
  while (!woken_.empty()) {
    const auto [wokenRank, wokenStep] = woken_.back();
    woken_.pop_back();
    tryLocal(wokenRank, wokenStep, now);
  }
  draining_ = false;
}

void Run::checkFinished() const {
  for (size_t r = 0; r < program_.ranks.size(); ++r) {
    const RankProgram& program = program_.ranks[r];
    if (program.remaining == 0) continue;
    std::string queues;
    for (const PeerQueue& queue : program.queues) {
      queues += strCat(" [peer ", queue.peer, ": sends posted ", queue.sendsPosted, "/",
                       queue.sendCount, ", receives posted ", queue.recvsPosted, "/",
                       queue.recvCount, " done ", queue.recvsDone, "]");
    }
    fail(Status::kInternalError, "deadlock: rank ", r, " has ", program.remaining, " steps left;",
         queues);
  }
}

}  // namespace

SimResult simulate(Program& program, const LinkModel& model, size_t elementSize) {
  return Run(program, model, elementSize).go();
}

}  // namespace gccl::sim
