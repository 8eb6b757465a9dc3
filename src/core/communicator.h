// A communicator: this rank's place in a group, its connections (owned by the engine) and its
// configuration. The C API is a thin shell over this class.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "algorithms/registry.h"
#include "algorithms/schedule_index.h"
#include "base/config.h"
#include "base/dtype.h"
#include "base/store.h"
#include "core/collective_call.h"
#include "core/engine.h"
#include "core/pair_counts.h"
#include "core/request.h"
#include "core/transport_router.h"

namespace gccl {

class TcpStoreServer;
struct MachineShare;

// How a communicator split from this one routes its peers, given its own machine census.
using RouteFactory = std::function<TransportRouter(const MachineShare& share)>;

// What init learned about the job beyond the ranks' addresses.
struct JobLayout {
  std::vector<int> hostOf;  // every rank's host (MachineShare::hostOf); empty: one host
  CostFigures figures;      // rank 0's cost model figures (GCCL_TUNE_FILE or defaults)
};

class Communicator {
 public:
  // Connects `rank` of `size` to the peers its algorithms need, each through the transport the
  // router picks for it, exchanging addresses in `store`.
  // `storeServer` (rank 0 of a TCP job) is kept alive as long as the communicator.
  // `splitRoutes` serves split(); `scope` is the store prefix of a split communicator.
  // `layout`: what init learned about the job (hosts, rank 0's cost figures).
  Communicator(int rank, int size, const Config& config, const JobToken& token,
               std::shared_ptr<Store> store, std::shared_ptr<TcpStoreServer> storeServer,
               const TransportRouter& router, RouteFactory splitRoutes = {}, std::string scope = {},
               JobLayout layout = {});
  // Drains, then closes. No other call may be running or start on another thread (the C API
  // waits for its callers to leave first); an abort beforehand makes the drain prompt.
  ~Communicator();

  int rank() const { return rank_; }
  int size() const { return size_; }
  const Config& config() const { return config_; }

  // The algorithm this communicator runs `kind` of `bytes` (the larger of one rank's input and
  // output) with: GCCL_ALGO's, or the cost model's choice. The same on every rank.
  const Algorithm& algorithmFor(CollectiveKind kind, size_t bytes);

  // Runs an allreduce; in place when input == output. Arguments are validated here. Blocking
  // calls return with the request complete (run on the caller's thread when possible).
  std::shared_ptr<Request> allreduce(const void* input, void* output, size_t count, DataType type,
                                     ReduceOp op, bool blocking = false);
  // Every collective goes through here: validation, algorithm, schedule, engine.
  std::shared_ptr<Request> start(const CollectiveCall& call, bool blocking);
  // MPI_Comm_split: collective over this communicator. Ranks passing the same color >= 0 form a
  // new communicator, ordered by key then by rank here; nullptr for a negative color. The new
  // one rendezvouses in this one's store (under its own prefix) and shares nothing else.
  std::unique_ptr<Communicator> split(int color, int key);
  // Waits for every started operation (bounded by the timeout). Any thread; an operation that
  // another thread is still starting may be missed, so the owner drains again once alone.
  void drain();
  // Fails every unfinished operation promptly (also one another thread is blocked in) and
  // every later one. Any thread, any moment until destruction; never waits for I/O.
  void abort(const std::string& reason);
  // Any thread, any moment until destruction; never waits for I/O.
  std::optional<Error> asyncError() const { return engine_.error(); }
  // Counters, for statistics and tests: collectives started on this communicator, and the
  // payload bytes its completed ones sent from this rank.
  uint64_t collectivesStarted() const;
  uint64_t payloadBytesSent() const { return engine_.payloadBytesSent(); }
  // Whether some peer reads this rank's shareable buffers (base/shareable_memory.h) in place,
  // as shm peers do where the kernel lets them map each other's memory.
  bool hasZeroCopyPeers() const { return zeroCopyPeers_; }

 private:
  const int rank_;
  const int size_;
  const Config config_;
  const JobToken token_;
  const std::string scope_;
  const RouteFactory splitRoutes_;
  // Shared with communicators split from this one: rank 0's server lives as long as any of them.
  std::shared_ptr<TcpStoreServer> storeServer_;
  std::shared_ptr<Store> store_;
  // The host of every rank, for hierarchical algorithms; null while all share one host.
  std::shared_ptr<const std::vector<int>> hostOf_;
  const CostFigures figures_;  // rank 0's, shared at init
  const CostInputs costs_;     // all but the bytes of a call
  bool zeroCopyPeers_ = false;
  StallDiagnosis diagnosis_;
  Engine engine_;
  // Rank, size and host map: what algorithm choice and peers depend on.
  ScheduleShape baseShape() const;
  // algorithmFor, with startMutex_ held.
  const Algorithm& chosenAlgorithm(CollectiveKind kind, size_t bytes);
  // Alltoallv through relays: starts the allgather of every rank's counts, which the
  // alltoallv queued after it reads (core/pair_counts.h).
  std::shared_ptr<const PairCountExchange> exchangePairCounts(const CollectiveCall& call,
                                                              bool inPlace, bool blocking);
  // A schedule with its index, built, checked and indexed once per shape.
  struct PlannedSchedule {
    Schedule schedule;
    ScheduleIndex index;
  };
  std::shared_ptr<const PlannedSchedule> schedule(const CollectiveCall& call,
                                                  const BufferLayout& layout,
                                                  const Algorithm& algorithm,
                                                  const ScheduleShape& shape);

  mutable std::mutex startMutex_;  // guards sequence_, splits_, the choices and the schedule cache
  uint64_t sequence_ = 0;
  uint64_t splits_ = 0;  // split() calls so far: the same on every rank
  // Recently used schedules: training repeats the same few sizes every step.
  using ScheduleKey = std::tuple<CollectiveKind, AlgorithmId, size_t, size_t, int, bool, bool>;
  std::map<ScheduleKey, std::shared_ptr<const PlannedSchedule>> schedules_;
  // Choices made so far (a size is logged once per power of two); a shape's host map may be
  // walked by a choice, so it is made once per (collective, bytes).
  std::map<std::pair<CollectiveKind, size_t>, const Algorithm*> choices_;
  std::set<std::pair<CollectiveKind, int>> loggedChoices_;
  std::mutex lastMutex_;  // drain() may run on another thread (abort from a watchdog)
  std::shared_ptr<Request> last_;
};

}  // namespace gccl
