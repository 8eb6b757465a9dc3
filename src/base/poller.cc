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
  epoll_event ev{};
  ev.data.fd = fd;
  if (::epoll_ctl(epollFd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) failErrno(errno, "epoll_ctl add");
  events_[fd] = 0;
}

void Poller::forget(int fd) {
  if (events_.erase(fd) > 0) ::epoll_ctl(epollFd_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void Poller::setEvents(int fd, uint32_t events) {
  auto it = events_.find(fd);
  if (it == events_.end() || it->second == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epollFd_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) failErrno(errno, "epoll_ctl mod");
  it->second = events;
}

void Poller::wait(int timeoutMs) {
  epoll_event events[16];
  const int n = ::epoll_wait(epollFd_.get(), events, 16, timeoutMs);
  for (int i = 0; i < n; ++i) {
    if (events[i].data.fd == eventFd_.get()) {
      uint64_t count;
      [[maybe_unused]] ssize_t r = ::read(eventFd_.get(), &count, sizeof count);
    }
  }
}

void Poller::wake() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(eventFd_.get(), &one, sizeof one);
}

}  // namespace gccl
