// The simulator against closed forms it must reproduce on a contention-free model (ring and
// recursive doubling allreduce, a pipelined broadcast chain), against hand-made schedules
// where links are shared (contention must show), and on every algorithm in the table (each
// must run to completion: the simulator follows whatever the table holds).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "algorithms/registry.h"
#include "algorithms/ring.h"
#include "base/error.h"
#include "link_model.h"
#include "program.h"
#include "simulator.h"
#include "timing.h"

namespace gccl::sim {
namespace {

constexpr double kInfinite = std::numeric_limits<double>::infinity();

// Every rank on a host of its own unless told otherwise: messages use alpha and beta.
LinkModel model(double alpha, double beta, double gamma, int ranksPerHost = 1) {
  LinkModel m;
  m.alpha = alpha;
  m.beta = beta;
  m.intraAlpha = alpha;
  m.intraBeta = beta;
  m.gamma = gamma;
  m.ranksPerHost = ranksPerHost;
  m.intraOnCore = false;  // full-duplex ports unless a test says otherwise
  return m;
}

double timeOf(int nranks, const std::function<Schedule(int)>& build, const LinkModel& m,
              size_t slots = 4) {
  Program program = compileProgram(nranks, build, slots);
  return simulate(program, m, 4).seconds;
}

ScheduleShape shapeOf(int rank, int size, size_t count, size_t slice) {
  ScheduleShape shape;
  shape.rank = rank;
  shape.size = size;
  shape.count = count;
  shape.sliceElements = slice;
  return shape;
}

Step message(StepKind kind, int peer, size_t count, int32_t after = kNoStep) {
  Step step;
  step.kind = kind;
  step.peer = peer;
  (kind == StepKind::kSend ? step.input : step.output) = {0, count};
  if (kind == StepKind::kRecvReduce) step.input = {0, count};
  step.after = {after, kNoStep};
  return step;
}

const double kAlpha = 3e-6, kBeta = 1e9, kGamma = 5e9;

// Two ranks, one slice per segment: each sends its half (B/2), reduces the half it receives,
// sends the reduced half back: 2 alpha + 2 (B/2)/beta + (B/2)/gamma.
TEST(Simulate, TwoRankRingAllreduceIsTwoHopsAndOneReduction) {
  const size_t count = 1 << 16, bytes = 4 * count;
  auto ring = [&](int rank) { return ringAllreduce(shapeOf(rank, 2, count, count)); };
  EXPECT_DOUBLE_EQ(timeOf(2, ring, model(kAlpha, kBeta, kInfinite)), 2 * kAlpha + bytes / kBeta);
  EXPECT_DOUBLE_EQ(timeOf(2, ring, model(kAlpha, kBeta, kGamma)),
                   2 * kAlpha + bytes / kBeta + bytes / 2.0 / kGamma);
}

// n ranks, one slice per segment: 2(n-1) hops of B/n, n-1 of them followed by a reduction.
TEST(Simulate, RingAllreduceIsTwoNMinusOneHops) {
  for (int n : {3, 4, 7}) {
    const size_t count = 1000 * static_cast<size_t>(n), segment = size_t{4} * 1000;
    auto ring = [&](int rank) { return ringAllreduce(shapeOf(rank, n, count, count)); };
    EXPECT_NEAR(timeOf(n, ring, model(kAlpha, kBeta, kGamma)),
                2 * (n - 1) * (kAlpha + segment / kBeta) + (n - 1) * (segment / kGamma), 1e-12)
        << n << " ranks";
  }
}

// log2(n) rounds, each a whole-buffer exchange and a reduction.
TEST(Simulate, RecursiveDoublingIsLogNExchanges) {
  const size_t count = 1 << 14, bytes = 4 * count;
  for (int n : {2, 4, 16}) {
    auto doubling = [&](int rank) {
      for (const Algorithm& a : algorithms()) {
        if (a.collective == CollectiveKind::kAllreduce && a.name == "recursive_doubling") {
          return a.build(shapeOf(rank, n, count, count));
        }
      }
      return Schedule{};
    };
    const double rounds = std::log2(n);
    EXPECT_NEAR(timeOf(n, doubling, model(kAlpha, kBeta, kGamma)),
                rounds * (kAlpha + bytes / kBeta + bytes / kGamma), 1e-12)
        << n << " ranks";
  }
}

// A chain of n ranks and k slices of s bytes: the last slice leaves the root after k sends and
// crosses n-1 hops, each waiting for nothing else: (n-1) alpha + (n+k-2) s/beta.
TEST(Simulate, RingBroadcastPipelinesItsSlices) {
  for (int n : {2, 5}) {
    for (size_t k : {1, 3, 8}) {
      const size_t slice = 1000, s = 4 * slice;
      auto chain = [&](int rank) { return ringBroadcast(shapeOf(rank, n, k * slice, slice)); };
      EXPECT_NEAR(timeOf(n, chain, model(kAlpha, kBeta, kInfinite)),
                  (n - 1) * kAlpha + double(n + k - 2) * s / kBeta, 1e-12)
          << n << " ranks, " << k << " slices";
    }
  }
}

// Ranks 0 and 1 share host 0's NIC; each sends B to its counterpart on host 1. Alone a flow
// takes alpha + B/beta; together the second queues behind the first: alpha + 2B/beta.
TEST(Simulate, FlowsThatShareANicQueue) {
  const size_t count = 1 << 18, bytes = 4 * count;
  auto flows = [&](int pairs) {
    return [=](int rank) {
      Schedule schedule;
      if (rank % 2 >= pairs) return schedule;
      schedule.add(rank < 2 ? message(StepKind::kSend, rank + 2, count)
                            : message(StepKind::kRecv, rank - 2, count));
      return schedule;
    };
  };
  const LinkModel twoPerHost = model(kAlpha, kBeta, kInfinite, 2);
  EXPECT_DOUBLE_EQ(timeOf(4, flows(1), twoPerHost), kAlpha + bytes / kBeta);
  EXPECT_DOUBLE_EQ(timeOf(4, flows(2), twoPerHost), kAlpha + 2 * bytes / kBeta);
  // Without latency, exactly twice as long.
  EXPECT_DOUBLE_EQ(timeOf(4, flows(2), model(0, kBeta, kInfinite, 2)),
                   2 * timeOf(4, flows(1), model(0, kBeta, kInfinite, 2)));
  // On hosts of their own, the flows do not meet.
  EXPECT_DOUBLE_EQ(timeOf(4, flows(2), model(kAlpha, kBeta, kInfinite, 1)), kAlpha + bytes / kBeta);
}

// Within a host each rank has its own port at the intra-host rates; between hosts the NIC's.
TEST(Simulate, IntraHostMessagesUseTheirOwnRates) {
  const size_t count = 1 << 18, bytes = 4 * count;
  LinkModel m = model(kAlpha, kBeta, kInfinite, 2);
  m.intraAlpha = 7e-6;
  m.intraBeta = 4e9;
  auto pair = [&](int peer) {
    return [=](int rank) {
      Schedule schedule;
      if (rank == 0) schedule.add(message(StepKind::kSend, peer, count));
      if (rank == peer) schedule.add(message(StepKind::kRecv, 0, count));
      return schedule;
    };
  };
  EXPECT_DOUBLE_EQ(timeOf(4, pair(1), m), 7e-6 + bytes / 4e9);
  EXPECT_DOUBLE_EQ(timeOf(4, pair(2), m), kAlpha + bytes / kBeta);
  // Four ranks on two cores: each rank's port runs at half speed.
  m.ranksPerHost = 4;
  m.coresPerHost = 2;
  EXPECT_DOUBLE_EQ(timeOf(4, pair(1), m), 7e-6 + 2 * bytes / 4e9);
  // There the receiver sleeps: its receive completes a wakeup after the last byte.
  m.wakeup = 5e-6;
  EXPECT_DOUBLE_EQ(timeOf(4, pair(1), m), 7e-6 + 2 * bytes / 4e9 + 5e-6);
}

// On one core (loopback TCP), a rank that sends and receives at once copies both ways in turn:
// an exchange of s bytes each way takes 2 s/beta instead of s/beta once alpha < s/beta.
TEST(Simulate, IntraOnCoreSerialisesSendsAndReceives) {
  const size_t count = 1 << 18, bytes = 4 * count;
  auto exchange = [&](int rank) {
    Schedule schedule;
    schedule.add(message(StepKind::kSend, 1 - rank, count));
    schedule.add(message(StepKind::kRecv, 1 - rank, count));
    return schedule;
  };
  LinkModel m = model(kAlpha, kBeta, kInfinite, 2);
  EXPECT_DOUBLE_EQ(timeOf(2, exchange, m), kAlpha + bytes / kBeta);
  m.intraOnCore = true;
  EXPECT_DOUBLE_EQ(timeOf(2, exchange, m), 2 * bytes / kBeta);
}

// Rank 1 reduces k messages from rank 0. A receive moves only once posted, and a RecvReduce is
// posted only into a free scratch slot: with one slot every message waits for the previous
// one's reduction, k (alpha + s/beta); with k slots they stream, alpha + k s/beta.
TEST(Simulate, ScratchSlotsBoundReceivesInFlight) {
  const size_t count = 1000, s = 4 * count, k = 6;
  auto stream = [&](int rank) {
    Schedule schedule;
    for (size_t i = 0; i < k; ++i) {
      schedule.add(rank == 0 ? message(StepKind::kSend, 1, count)
                             : message(StepKind::kRecvReduce, 0, count));
    }
    return schedule;
  };
  const LinkModel m = model(kAlpha, kBeta, kInfinite);
  EXPECT_NEAR(timeOf(2, stream, m, 1), k * (kAlpha + s / kBeta), 1e-12);
  EXPECT_NEAR(timeOf(2, stream, m, k), kAlpha + k * s / kBeta, 1e-12);
}

TEST(Simulate, ReportsDeadlockAndMismatch) {
  // Both ranks receive first, and their sends wait for it.
  auto stuck = [](int rank) {
    Schedule schedule;
    const int32_t got = schedule.add(message(StepKind::kRecv, 1 - rank, 10));
    schedule.add(message(StepKind::kSend, 1 - rank, 10, got));
    return schedule;
  };
  EXPECT_THROW(timeOf(2, stuck, model(kAlpha, kBeta, kGamma)), Error);
  auto mismatched = [](int rank) {
    Schedule schedule;
    schedule.add(rank == 0 ? message(StepKind::kSend, 1, 10) : message(StepKind::kRecv, 0, 11));
    return schedule;
  };
  EXPECT_THROW(timeOf(2, mismatched, model(kAlpha, kBeta, kGamma)), Error);
}

// Whatever the table holds: every algorithm of every collective the CLI offers finishes, for
// odd and even rank counts, one or several ranks per host, tiny and sliced counts.
TEST(Simulate, EveryAlgorithmInTheTableCompletes) {
  const CollectiveKind kinds[] = {CollectiveKind::kAllreduce,     CollectiveKind::kBroadcast,
                                  CollectiveKind::kReduce,        CollectiveKind::kAllgather,
                                  CollectiveKind::kReduceScatter, CollectiveKind::kAllToAll};
  for (CollectiveKind kind : kinds) {
    for (int n : {1, 2, 3, 4, 5, 8, 9, 16}) {
      for (int perHost : {1, 4}) {
        for (size_t count : {size_t{0}, size_t{1}, size_t{1000}, size_t{70000}}) {
          SimOptions options;
          options.collective = kind;
          options.nranks = n;
          options.root = n / 2;
          options.chunkBytes = 16 << 10;
          options.model.ranksPerHost = perHost;
          for (const Algorithm& algorithm : algorithms()) {
            if (algorithm.collective != kind || !algorithm.supports(shapeFor(options, count))) {
              continue;
            }
            SCOPED_TRACE(testing::Message()
                         << collectiveName(kind) << " " << algorithm.name << " n=" << n
                         << " perHost=" << perHost << " count=" << count);
            const SimRow row = timeAlgorithm(algorithm, options, count);
            if (n > 1) {
              EXPECT_GT(row.timeUs, 0);
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace gccl::sim
