// The simulator's clock: events in time order, ties broken by the order they were pushed, so
// a run is deterministic.
#pragma once

#include <cstdint>
#include <queue>
#include <vector>

namespace gccl::sim {

enum class EventKind : uint8_t {
  kSent,      // a send's last byte left its egress
  kArrived,   // a message's first byte reached the receiver: it queues for the ingress
  kReceived,  // a message's last byte is in
  kReduced,   // a RecvReduce's reduction ended
  kLocalDone  // a copy or divide ended
};

// 24 bytes: the heap moves events around on every push and pop, so the kind rides in the low
// bits of the tie-breaking sequence number.
struct Event {
  double time;
  uint64_t order;  // sequence << 3 | kind
  uint32_t rank;   // the rank whose step it is (the receiver for kArrived and kReceived)
  uint32_t step;

  EventKind kind() const { return static_cast<EventKind>(order & 7); }
};

class EventQueue {
 public:
  void push(double time, uint32_t rank, uint32_t step, EventKind kind) {
    heap_.push({time, next_++ << 3 | static_cast<uint64_t>(kind), rank, step});
  }
  bool empty() const { return heap_.empty(); }
  Event pop() {
    Event event = heap_.top();
    heap_.pop();
    return event;
  }
  uint64_t pushed() const { return next_; }

 private:
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.time != b.time ? a.time > b.time : a.order > b.order;
    }
  };
  std::priority_queue<Event, std::vector<Event>, Later> heap_;
  uint64_t next_ = 0;
};

}  // namespace gccl::sim
