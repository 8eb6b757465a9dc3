#include "core/communicator.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <thread>

#include "algorithms/all_to_all.h"
#include "algorithms/registry.h"
#include "base/logging.h"
#include "base/simd.h"
#include "bootstrap/locality.h"
#include "bootstrap/prefixed_store.h"
#include "bootstrap/tcp_store.h"
#include "reduce/simd_calibration.h"

namespace gccl {

namespace {

// Ranks as threads of one process (the in-process transport) skip the machine census of the
// TCP bootstrap: they take the plain defaults.
Config withDefaultWaits(Config config) {
  if (config.spinUs == kAutoSpinUs) config.spinUs = kDefaultSpinUs;
  if (config.yieldUs == kAutoYieldUs) config.yieldUs = 0;
  return config;
}

// Alltoallv: the elements of each rank's block.
std::vector<uint64_t> countsOf(const std::vector<Range>& blocks) {
  std::vector<uint64_t> counts;
  for (const Range& block : blocks) counts.push_back(block.count);
  return counts;
}

}  // namespace

Communicator::Communicator(int rank, int size, const Config& config, const JobToken& token,
                           std::shared_ptr<Store> store,
                           std::shared_ptr<TcpStoreServer> storeServer,
                           const TransportRouter& router, RouteFactory splitRoutes,
                           std::string scope, JobLayout layout)
    : rank_(rank),
      size_(size),
      config_(withDefaultWaits(config)),
      token_(token),
      scope_(std::move(scope)),
      splitRoutes_(std::move(splitRoutes)),
      storeServer_(std::move(storeServer)),
      store_(std::move(store)),
      hostOf_(layout.hostOf.empty()
                  ? nullptr
                  : std::make_shared<const std::vector<int>>(std::move(layout.hostOf))),
      figures_(layout.figures),
      costs_(costInputsOf(baseShape(), config_.chunkBytes, figures_)),
      diagnosis_(*store_, rank, size, config_.timeoutMs),
      engine_(config_, rank, size) {
  // GCCL_SIMD reaches the kernels here: they read no configuration themselves. "auto" takes
  // the level measured fastest on this machine, unless a test, a benchmark or an earlier
  // communicator's GCCL_SIMD forced one.
  if (const auto level = parseSimdLevel(config_.simd)) {
    setSimdLevel(*level);
  } else {
    adoptDefaultSimdLevel(calibrateSimdLevel().chosen);
  }
  // An unknown GCCL_ALGO fails init, not every call.
  selectAlgorithm(CollectiveKind::kAllreduce, config.algorithm, baseShape(), costs_);
  ConnectRequest request;
  request.rank = rank;
  request.size = size;
  request.peers = connectionPeers(baseShape());
  request.token = token;
  request.scope = scope_;
  request.timeoutMs = config.timeoutMs;
  diagnosis_.publishHost();
  ConnectionMap connections = router.connect(request, *store_, engine_.poller());
  for (const auto& [peer, connection] : connections) {
    zeroCopyPeers_ |= connection->peerMapsSharedBuffers();
  }
  engine_.start(std::move(connections), &diagnosis_);
  logInfo(LogSubsys::kInit, "rank ", rank, " of ", size,
          " ready: ", router.describe(request.peers));
}

Communicator::~Communicator() {
  drain();
  // Rank 0 serves the store: after a failure the others may still be reading it to name the
  // silent rank (0.2 s when nobody is, at most two graces + 0.6 s).
  while (storeServer_ && diagnosis_.othersMayNeedStore(storeServer_->lastProbe())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

uint64_t Communicator::collectivesStarted() const {
  std::lock_guard lock(startMutex_);
  return sequence_;
}

const Algorithm& Communicator::algorithmFor(CollectiveKind kind, size_t bytes) {
  std::lock_guard lock(startMutex_);
  return chosenAlgorithm(kind, bytes);
}

const Algorithm& Communicator::chosenAlgorithm(CollectiveKind kind, size_t bytes) {
  const auto key = std::make_pair(kind, bytes);
  if (const auto found = choices_.find(key); found != choices_.end()) return *found->second;
  CostInputs costs = costs_;
  costs.bytes = bytes;
  // The shape in a named local: g++ 13 takes a reference returned from a call with a temporary
  // argument for one into that temporary (-Wdangling-reference); the algorithm is the registry's.
  const ScheduleShape shape = baseShape();
  const Algorithm& chosen = selectAlgorithm(kind, config_.algorithm, shape, costs);
  constexpr size_t kCachedChoices = 256;
  if (choices_.size() >= kCachedChoices) choices_.clear();
  choices_.emplace(key, &chosen);
  // Once per collective and power of two of the size: enough to see the crossovers.
  const int sizeClass = bytes == 0 ? -1 : static_cast<int>(std::bit_width(bytes));
  if (loggedChoices_.insert({kind, sizeClass}).second) {
    const std::optional<double> micros = predictMicros(kind, chosen.id, costs);
    logInfo(LogSubsys::kColl, "rank ", rank_, ": ", collectiveName(kind), " of ", bytes,
            " bytes on ", size_, " ranks (", costs.hosts, " host(s)): ", chosen.name,
            micros ? strCat(", predicted ", static_cast<long long>(*micros), " us") : std::string(),
            config_.algorithm == "auto" ? "" : strCat(" (GCCL_ALGO=", config_.algorithm, ")"));
  }
  return chosen;
}

ScheduleShape Communicator::baseShape() const {
  ScheduleShape shape;
  shape.rank = rank_;
  shape.size = size_;
  shape.hostOf = hostOf_;
  return shape;
}

std::shared_ptr<Request> Communicator::allreduce(const void* input, void* output, size_t count,
                                                 DataType type, ReduceOp op, bool blocking) {
  return start(allreduceCall(input, output, count, type, op), blocking);
}

std::shared_ptr<Request> Communicator::start(const CollectiveCall& call, bool blocking) {
  const BufferLayout layout = checkCall(call, rank_, size_, config_.chunkBytes);
  const size_t elementSize = dataTypeSize(call.type);
  const size_t bytes = std::max(layout.inputCount, layout.outputCount) * elementSize;
  ScheduleShape shape = baseShape();
  shape.count = call.count;
  shape.sliceElements = std::max<size_t>(1, config_.chunkBytes / elementSize);
  shape.root = call.root;
  shape.average = call.op == ReduceOp::kAvg;
  shape.inPlace = layout.inPlace;
  shape.blocks = call.blocks;
  shape.sendBlocks = call.sendBlocks;
  const Algorithm& algorithm = algorithmFor(call.kind, bytes);
  if (!fits(algorithm, shape, bytes)) {
    // Only alltoallv has no algorithm that runs everywhere: every pair's counts on every rank
    // grow as n^2. Every rank refuses alike, before the call takes a sequence number.
    fail(Status::kInvalidUsage, collectiveName(call.kind), " on rank ", rank_, ": runs on at most ",
         kMaxBruckAllToAllVRanks, " ranks, and this communicator has ", size_,
         "; gcclAllToAll with blocks padded to the largest runs everywhere");
  }
  // Alltoallv through relays: an allgather of every rank's counts goes first, and the
  // alltoallv is planned from them when the engine reaches it (so ...Async does not wait).
  std::shared_ptr<const PairCountExchange> exchange;
  if (needsPairCounts(algorithm)) exchange = exchangePairCounts(call, layout.inPlace, blocking);

  auto operation = std::make_unique<Operation>();
  operation->kind = call.kind;
  operation->input = call.input;
  operation->output = call.output;
  // What every rank must agree on: allgatherv's per-rank counts differ, its layout does not.
  // Alltoallv's ranks agree pair by pair: each message of the pairwise exchange carries its
  // pair's block; through relays every message carries the total of the gathered counts (set
  // by the plan).
  const bool blockwise =
      call.kind == CollectiveKind::kAllgatherV || call.kind == CollectiveKind::kAllToAllV;
  operation->count = blockwise ? layout.outputCount : call.count;
  if (call.kind == CollectiveKind::kAllToAllV && exchange == nullptr) {
    operation->sendCounts = countsOf(layout.inPlace ? call.blocks : call.sendBlocks);
    operation->recvCounts = countsOf(call.blocks);
  }
  operation->type = call.type;
  operation->op = call.op;
  operation->root = call.root;
  operation->findNonFinite = call.findNonFinite && call.op == ReduceOp::kAvg;
  operation->resultStores =
      config_.shmStreamBytes >= 0 && bytes >= static_cast<size_t>(config_.shmStreamBytes)
          ? Stores::kStreaming
          : Stores::kCached;
  operation->agreementHash = layout.agreementHash;
  operation->keepAlive = call.keepAlive;
  {
    // Concurrent callers are a usage error (their order is arbitrary), but not a data race.
    std::lock_guard lock(startMutex_);
    operation->algorithm = algorithm.id;
    operation->sequence = ++sequence_;
    if (exchange != nullptr) {
      operation->plan = relayedAllToAllVPlan(exchange, algorithm, std::move(shape), layout);
    } else {
      const std::shared_ptr<const PlannedSchedule> planned =
          schedule(call, layout, algorithm, shape);
      // Views into the one allocation, which they share.
      operation->schedule = std::shared_ptr<const Schedule>(planned, &planned->schedule);
      operation->index = std::shared_ptr<const ScheduleIndex>(planned, &planned->index);
    }
  }
  auto request = operation->request;
  {
    std::lock_guard lock(lastMutex_);
    last_ = request;  // before running: a concurrent abort + destroy must wait for it
  }
  if (blocking) {
    engine_.run(std::move(operation));
  } else {
    engine_.submit(std::move(operation));
  }
  return request;
}

std::shared_ptr<const PairCountExchange> Communicator::exchangePairCounts(
    const CollectiveCall& call, bool inPlace, bool blocking) {
  auto exchange = std::make_shared<PairCountExchange>();
  exchange->row =
      pairCountRow(countsOf(inPlace ? call.blocks : call.sendBlocks), countsOf(call.blocks));
  exchange->rows.resize(exchange->row.size() * static_cast<size_t>(size_));
  CollectiveCall gather;
  gather.kind = CollectiveKind::kAllgather;
  gather.input = exchange->row.data();
  gather.output = exchange->rows.data();
  gather.count = exchange->row.size();
  gather.type = DataType::kUint64;
  gather.keepAlive = exchange;
  // A failure breaks the engine, so the alltoallv queued after it fails with the same error.
  const std::shared_ptr<Request> gathered = start(gather, blocking);
  if (blocking) gathered->rethrow();
  return exchange;
}

std::shared_ptr<const Communicator::PlannedSchedule> Communicator::schedule(
    const CollectiveCall& call, const BufferLayout& layout, const Algorithm& algorithm,
    const ScheduleShape& shape) {
  auto build = [&] {
    Schedule built = buildSchedule(algorithm, shape);
    // Checked once per shape (then cached): the engine trusts indices, peers and ranges.
    checkSchedule(built, rank_, size_, layout.inputCount, layout.outputCount);
    ScheduleIndex index = indexSchedule(built);
    return std::make_shared<const PlannedSchedule>(
        PlannedSchedule{std::move(built), std::move(index)});
  };
  // Allgatherv's and alltoallv's blocks change from call to call (and are not in the key):
  // built each time.
  if (call.kind == CollectiveKind::kAllgatherV || call.kind == CollectiveKind::kAllToAllV) {
    return build();
  }
  constexpr size_t kCachedSchedules = 64;
  const ScheduleKey key{call.kind,  algorithm.id,  shape.count,  shape.sliceElements,
                        shape.root, shape.average, shape.inPlace};
  auto found = schedules_.find(key);
  if (found != schedules_.end()) return found->second;
  if (schedules_.size() >= kCachedSchedules) schedules_.clear();
  auto built = build();
  schedules_.emplace(key, built);
  return built;
}

std::unique_ptr<Communicator> Communicator::split(int color, int key) {
  // Before any exchange: every rank of a communicator has the same factory (or none), so all
  // fail alike here instead of leaving the others waiting for this one in the new rendezvous.
  if (!splitRoutes_) {
    fail(Status::kInvalidUsage, "rank ", rank_, ": this communicator cannot be split");
  }
  // Every rank learns every rank's (color, key): one allgather on this communicator.
  const int64_t mine[2] = {color, key};
  std::vector<int64_t> all(2 * static_cast<size_t>(size_));
  CollectiveCall gather;
  gather.kind = CollectiveKind::kAllgather;
  gather.input = mine;
  gather.output = all.data();
  gather.count = 2;
  gather.type = DataType::kInt64;
  start(gather, true)->rethrow();
  const uint64_t splitId = [&] {
    std::lock_guard lock(startMutex_);
    return ++splits_;
  }();
  if (color < 0) return nullptr;
  std::vector<std::pair<int64_t, int>> members;  // (key, rank here)
  for (int r = 0; r < size_; ++r) {
    const size_t at = 2 * static_cast<size_t>(r);
    if (all[at] == color) members.push_back({all[at + 1], r});
  }
  std::sort(members.begin(), members.end());
  const int newSize = static_cast<int>(members.size());
  const auto me = std::find(members.begin(), members.end(), std::pair<int64_t, int>(key, rank_));
  const int newRank = static_cast<int>(me - members.begin());
  const std::string scope = strCat(scope_, "split/", splitId, "/", color, "/");
  auto store = std::make_shared<PrefixedStore>(store_, scope);
  const MachineShare share =
      shareOfMachine(*store, newRank, newSize, Deadline::afterMs(config_.timeoutMs), config_.hostId,
                     settingsEveryRankShares(config_));
  return std::make_unique<Communicator>(newRank, newSize, config_, token_, std::move(store),
                                        storeServer_, splitRoutes_(share), splitRoutes_, scope,
                                        JobLayout{share.hostOf, figures_});
}

void Communicator::drain() {
  std::shared_ptr<Request> last;
  {
    std::lock_guard lock(lastMutex_);
    last = last_;
  }
  if (last) last->wait(waitPolicyOf(config_));
}

void Communicator::abort(const std::string& reason) {
  engine_.abort(reason);
}

}  // namespace gccl
