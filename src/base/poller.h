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
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Starts watching fd with no events; setEvents() chooses what to wait for.
  void watch(int fd);
  void forget(int fd);
  // EPOLLIN / EPOLLOUT mask; a no-op when unchanged, to keep epoll_ctl off the hot path. An fd
  // with no events is out of the epoll set: epoll reports a hang-up or an error whatever the
  // mask, so an idle socket whose peer reset it would otherwise end every sleep at once.
  void setEvents(int fd, uint32_t events);
  // Sleeps until an event, a wake() or timeoutMs (-1: no limit); returns how many descriptors
  // were ready (a wake() counts as one).
  int wait(int timeoutMs);
  // Thread-safe; the next (or current) wait() returns promptly.
  void wake();

 private:
  // Closes its descriptor when destroyed: a constructor that throws half-way (out of file
  // descriptors, say) leaks nothing it opened.
  class OwnedFd {
   public:
    explicit OwnedFd(int fd) : fd_(fd) {}
    ~OwnedFd();
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
    int get() const { return fd_; }

   private:
    int fd_;
  };

  OwnedFd epollFd_;
  OwnedFd eventFd_;
  std::unordered_map<int, uint32_t> events_;
};

}  // namespace gccl
