// The wire, measured: the traffic of a ring allreduce over loopback TCP with nothing else —
// no reduction, no framing, no schedule. Each "allreduce" of B bytes streams 2(n-1)/n * B
// bytes from every rank to its right neighbour while receiving as many from its left one,
// out of and into the sweep's own B-byte buffers, so the caches see what an allreduce's copies
// would see. Its busbw is the per-link throughput that a bandwidth-optimal TCP allreduce could
// at best reach on this machine; compare.py puts it beside gccl, Gloo and Open MPI.
//
// Results are not reduced, so the check is always off. --congestion chooses the sockets'
// congestion control as GCCL_SOCKET_CONGESTION does (default "auto": reno on loopback).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "local_ranks.h"
#include "perf_args.h"
#include "perf_sweep.h"

namespace baselines {
namespace {

constexpr size_t kSendBytes = size_t{1} << 20;  // per send call, as gccl's default chunk

int listenOnLoopback() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, 4) != 0) {
    std::perror("listen");
    std::exit(1);
  }
  return fd;
}

int portOf(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

// One rank's two streams: to the right neighbour and from the left one.
class Ring {
 public:
  Ring(int rank, int nranks, const std::vector<int>& listeners, const std::vector<int>& ports,
       const std::string& congestion)
      : rank_(rank), nranks_(nranks) {
    if (nranks == 1) return;
    right_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(ports[(rank + 1) % nranks]));
    if (::connect(right_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
      die("connect");
    left_ = ::accept(listeners[rank], nullptr, nullptr);
    if (left_ < 0) die("accept");
    for (int fd : listeners) ::close(fd);
    const int one = 1;
    const std::string algorithm = congestion == "auto" ? "reno" : congestion;
    for (int fd : {left_, right_}) {
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::fcntl(fd, F_SETFL, O_NONBLOCK);
      if (congestion != "system" && ::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, algorithm.data(),
                                                 static_cast<socklen_t>(algorithm.size())) != 0) {
        die("TCP_CONGESTION");
      }
    }
  }
  ~Ring() {
    if (left_ >= 0) ::close(left_);
    if (right_ >= 0) ::close(right_);
  }

  int rank() const { return rank_; }
  int nranks() const { return nranks_; }

  // Sends `bytes` taken cyclically from `source` (bufferBytes long) while receiving as many
  // into `target` cyclically: both directions at once, as a ring step does.
  void stream(const char* source, char* target, size_t bufferBytes, size_t bytes) {
    if (nranks_ == 1 || bytes == 0) return;
    size_t sent = 0;
    size_t received = 0;
    while (sent < bytes || received < bytes) {
      bool moved = false;
      if (sent < bytes) {
        const size_t offset = sent % bufferBytes;
        const size_t length = std::min({kSendBytes, bufferBytes - offset, bytes - sent});
        const ssize_t n = ::send(right_, source + offset, length, MSG_NOSIGNAL);
        if (n > 0) sent += static_cast<size_t>(n), moved = true;
        if (n < 0 && errno != EAGAIN && errno != EINTR) die("send");
      }
      if (received < bytes) {
        const size_t offset = received % bufferBytes;
        const size_t length = std::min(bufferBytes - offset, bytes - received);
        const ssize_t n = ::recv(left_, target + offset, length, 0);
        if (n > 0) received += static_cast<size_t>(n), moved = true;
        if (n == 0) die("peer closed");
        if (n < 0 && errno != EAGAIN && errno != EINTR) die("recv");
      }
      if (!moved) {
        pollfd fds[2] = {{right_, static_cast<short>(sent < bytes ? POLLOUT : 0), 0},
                         {left_, static_cast<short>(received < bytes ? POLLIN : 0), 0}};
        ::poll(fds, 2, 1000);
      }
    }
  }

  // Passes `bytes` round the ring n-1 times, combining each arrival with `combine`.
  template <typename Combine>
  void circulate(void* data, size_t bytes, Combine combine) {
    std::vector<char> outgoing(static_cast<char*>(data), static_cast<char*>(data) + bytes);
    std::vector<char> incoming(bytes);
    for (int step = 1; step < nranks_; ++step) {
      stream(outgoing.data(), incoming.data(), bytes, bytes);
      combine(incoming.data());
      outgoing = incoming;
    }
  }

 private:
  int rank_;
  int nranks_;
  int left_ = -1;
  int right_ = -1;
};

class StreamBackend final : public SweepBackend<float> {
 public:
  explicit StreamBackend(Ring& ring) : ring_(ring) {}
  int rank() const override { return ring_.rank(); }
  int nranks() const override { return ring_.nranks(); }
  void prepare(float* input, float* output, size_t count) override {
    input_ = reinterpret_cast<char*>(input);
    output_ = reinterpret_cast<char*>(output);
    bytes_ = count * sizeof(float);
    const int n = ring_.nranks();
    linkBytes_ = bytes_ * 2 * static_cast<size_t>(n - 1) / static_cast<size_t>(n);
  }
  void runOutOfPlace() override {
    ring_.stream(input_, output_, std::max<size_t>(bytes_, 1), linkBytes_);
  }
  void runInPlace() override {
    ring_.stream(output_, output_, std::max<size_t>(bytes_, 1), linkBytes_);
  }
  // A token round the ring: it trails every byte sent before it.
  void barrier() override {
    char token = 1;
    ring_.circulate(&token, 1, [](const char*) {});
  }
  void maxAcrossRanks(std::vector<double>& values) override {
    ring_.circulate(values.data(), values.size() * sizeof(double), [&](const char* incoming) {
      for (size_t i = 0; i < values.size(); ++i) {
        double v;
        std::memcpy(&v, incoming + i * sizeof v, sizeof v);
        values[i] = std::max(values[i], v);
      }
    });
  }
  int64_t sumAcrossRanks(int64_t value) override {
    // Every rank's own value goes round once; each adds what passes through.
    int64_t passing = value;
    int64_t total = value;
    for (int step = 1; step < ring_.nranks(); ++step) {
      int64_t incoming = 0;
      ring_.stream(reinterpret_cast<const char*>(&passing), reinterpret_cast<char*>(&incoming),
                   sizeof passing, sizeof passing);
      total += incoming;
      passing = incoming;
    }
    return total;
  }

 private:
  Ring& ring_;
  char* input_ = nullptr;
  char* output_ = nullptr;
  size_t bytes_ = 0;
  size_t linkBytes_ = 0;
};

int runRank(PerfArgs args, int rank, const std::vector<int>& listeners,
            const std::vector<int>& ports) {
  Ring ring(rank, args.np, listeners, ports, args.congestion);
  StreamBackend backend(ring);
  args.check = false;  // nothing is reduced
  const std::string note =
      ", raw TCP ring streaming: no reduction (the wire's limit), congestion control " +
      args.congestion;
  const RunInfo info{.library = "tcp-stream",
                     .algorithm = "ring",
                     .transport = "tcp",
                     .note = note,
                     .nranks = args.np,
                     .dtype = DType::kFloat32,
                     .op = args.op,
                     .iters = args.iters,
                     .warmup = args.warmup,
                     .check = false};
  const Run run = runSweep(backend, args, info);
  if (rank == 0 && !args.json.empty() && !writeJson(args.json, {run})) {
    std::fprintf(stderr, "cannot write %s\n", args.json.c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace baselines

int main(int argc, char** argv) {
  using namespace baselines;
  const auto args = parseArgs(argc, argv, Tool::kStream);
  if (!args) return 2;
  if (args->dtype != DType::kFloat32) {
    std::fprintf(stderr, "tcp_stream_perf moves bytes: only -d float32 sizes its buffers\n");
    return 2;
  }
  // Listeners first, so every forked rank can reach its right neighbour's port.
  std::vector<int> listeners, ports;
  for (int r = 0; r < args->np; ++r) {
    listeners.push_back(listenOnLoopback());
    ports.push_back(portOf(listeners.back()));
  }
  const cpu_binding::Placement placement = cpu_binding::placementFor(args->binding, args->np);
  std::printf("# %s\n", cpu_binding::describe(placement).c_str());
  return runLocalRanks(args->np, std::chrono::seconds(args->timeoutSec), placement,
                       [&](int rank) { return runRank(*args, rank, listeners, ports); });
}
