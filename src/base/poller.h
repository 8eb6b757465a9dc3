// The engine's sleeping place: an epoll set of the connections' sockets plus an eventfd, so the
// progress thread sleeps until a socket is ready, a peer thread (in-process transport) or a new
// submission wakes it, or a timeout elapses. Never a sleep-based poll.
#pragma once

#include <cstdint>
#include <unordered_map>

namespace gccl {

class Poller {
 public:
  Poller();
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Starts watching fd with no events; setEvents() chooses what to wait for.
  void watch(int fd);
  void forget(int fd);
  // EPOLLIN / EPOLLOUT mask; a no-op when unchanged, to keep epoll_ctl off the hot path.
  void setEvents(int fd, uint32_t events);
  // Sleeps until an event, a wake() or timeoutMs (-1: no limit).
  void wait(int timeoutMs);
  // Thread-safe; the next (or current) wait() returns promptly.
  void wake();

 private:
  int epollFd_ = -1;
  int eventFd_ = -1;
  std::unordered_map<int, uint32_t> events_;
};

}  // namespace gccl
