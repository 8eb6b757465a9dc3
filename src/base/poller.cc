#include "base/poller.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "base/error.h"

namespace gccl {

namespace {

int checked(int fd, const char* call) {
  if (fd < 0) failErrno(errno, call);
  return fd;
}

}  // namespace

Poller::OwnedFd::~OwnedFd() {
  ::close(fd_);
}

Poller::Poller()
    : epollFd_(checked(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1")),
      eventFd_(checked(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd")) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = eventFd_.get();
  if (::epoll_ctl(epollFd_.get(), EPOLL_CTL_ADD, eventFd_.get(), &ev) != 0) {
    failErrno(errno, "epoll_ctl");
  }
}

void Poller::watch(int fd) {
  // A number seen before belonged to a descriptor since closed, which left the epoll set then.
  events_[fd] = 0;
}

void Poller::forget(int fd) {
  auto it = events_.find(fd);
  if (it == events_.end()) return;
  if (it->second != 0) ::epoll_ctl(epollFd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  events_.erase(it);
}

void Poller::setEvents(int fd, uint32_t events) {
  auto it = events_.find(fd);
  if (it == events_.end() || it->second == events) return;
  if (events == 0) {
    // Failure is harmless: the descriptor is closed already, so it left the set by itself.
    ::epoll_ctl(epollFd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  } else {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    const int op = it->second == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (::epoll_ctl(epollFd_.get(), op, fd, &ev) != 0) failErrno(errno, "epoll_ctl");
  }
  it->second = events;
}

int Poller::wait(int timeoutMs) {
  epoll_event events[16];
  const int n = ::epoll_wait(epollFd_.get(), events, 16, timeoutMs);
  for (int i = 0; i < n; ++i) {
    if (events[i].data.fd == eventFd_.get()) {
      uint64_t count;
      [[maybe_unused]] ssize_t r = ::read(eventFd_.get(), &count, sizeof count);
    }
  }
  return n < 0 ? 0 : n;
}

void Poller::wake() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(eventFd_.get(), &one, sizeof one);
}

}  // namespace gccl
