// The machine a schedule is timed on: ranks grouped into hosts, a NIC per host for traffic
// between hosts, a port per rank for traffic within a host, and a core's worth of reduction
// speed per rank.
//
// A message of S bytes from rank a to rank b, on a link of latency alpha and bandwidth beta:
//
//   a's egress   [t0, t0 + S/beta)                  t0 = max(start, egress free)
//   b's ingress  [t1, t1 + S/beta)                  t1 = max(t0 + alpha, ingress free)
//   the send completes at t0 + S/beta, the receive at t1 + S/beta
//   (start: when both ends have posted the message, simulator.h)
//
// so an idle path costs alpha + S/beta, and messages that share an egress or an ingress queue
// behind each other (first come, first served), which is where contention shows. Between hosts
// the egress and ingress are the hosts' NICs, shared by all their ranks, full duplex; within a
// host they belong to the ranks themselves (intraAlpha, intraBeta; see intraOnCore).
//
// Reductions and copies take S/gamma on their rank's compute resource, one at a time. When a
// host has more ranks than cores (coresPerHost), every rank gets a share of a core: its port
// and compute times stretch by ranks/cores. Latencies do not stretch, but there the engine
// does not spin (GCCL_SPIN_US=auto), so every receive completes `wakeup` after its last byte:
// the time for the scheduler to run the rank again. It was calibrated when such a rank slept
// at once (GCCL_YIELD_US=0); yielding first (the default since) makes `wakeup` a context
// switch, a few µs instead of ~40 (docs/benchmarks.md).
//
// intraOnCore makes a rank's intra-host egress, ingress and compute one resource, its core:
// loopback TCP copies every byte on the sending and on the receiving thread, the same thread
// that reduces, so a rank that sends and receives at once moves each way at half the rate.
#pragma once

#include <cstddef>
#include <vector>

namespace gccl::sim {

// The defaults: a cluster of 8-rank hosts on a 100 Gbit/s, 2 us fabric (RDMA-class), and
// within a host what this repository's loopback TCP measured on its 2-core benchmark VM
// (perf/simulate/validate.py; docs/benchmarks.md): 10.2 us per message, a core copying
// 5.16 GB/s one way (twice tcp_stream_perf's 2.58 GB/s per link at 64 MiB, as each rank's core
// copies both ways) and reducing float32 at 8.6 GB/s (kernels_bench sum at 64 MiB). At 1 MiB
// (cache-resident) the same machine copies 8.4 GB/s and reduces 44 GB/s.
struct LinkModel {
  double alpha = 2e-6;          // s, one message between hosts
  double beta = 100e9 / 8;      // bytes/s, a host NIC, each direction
  double intraAlpha = 10.2e-6;  // s, one message within a host
  double intraBeta = 5.16e9;    // bytes/s, a rank's port (or core) within a host, one way
  double gamma = 8.6e9;         // bytes/s, a rank reducing (or copying)
  int ranksPerHost = 8;         // consecutive ranks share a host
  int coresPerHost = 0;         // 0: a core per rank
  double wakeup = 0;            // s, per receive on a host with more ranks than cores
  bool intraOnCore = true;      // a rank's intra-host ports and compute are one resource
};

// When a message's send and receive complete.
struct Delivery {
  double sent;
  double arrival;  // when its first byte reaches the receiver's ingress (t0 + alpha)
};

// The link model's queues: when each egress, ingress and compute resource is next free.
class Fabric {
 public:
  Fabric(const LinkModel& model, int nranks);

  int hostOf(int rank) const { return rank / model_.ranksPerHost; }
  // Claims `from`'s egress for a message posted at `now`.
  Delivery send(int from, int to, size_t bytes, double now);
  // Claims `to`'s ingress for a message whose first byte arrives at `arrival`; returns when
  // its last byte has been received.
  double receive(int from, int to, size_t bytes, double arrival);
  // Claims `rank`'s compute resource for `bytes` of reduction or copy; returns when it ends.
  double compute(int rank, size_t bytes, double now);

 private:
  bool sameHost(int a, int b) const { return hostOf(a) == hostOf(b); }
  double serviceTime(int rank, bool intra, size_t bytes) const;

  LinkModel model_;
  std::vector<double> stretch_;  // per host: ranks per core, at least 1
  std::vector<double> rankEgress_, rankIngress_, rankCompute_;
  std::vector<double> hostEgress_, hostIngress_;
};

}  // namespace gccl::sim
