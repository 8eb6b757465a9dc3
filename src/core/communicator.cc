#include "core/communicator.h"

#include <limits>

#include "algorithms/registry.h"
#include "base/logging.h"
#include "base/simd.h"
#include "bootstrap/tcp_store.h"

namespace gccl {

namespace {

// Ranks as threads of one process (the in-process transport) skip the machine census of the
// TCP bootstrap: they take the plain default.
Config withDefaultSpin(Config config) {
  if (config.spinUs == kAutoSpinUs) config.spinUs = kDefaultSpinUs;
  return config;
}

}  // namespace

Communicator::Communicator(int rank, int size, const Config& config, const JobToken& token,
                           std::unique_ptr<Store> store,
                           std::unique_ptr<TcpStoreServer> storeServer,
                           const TransportRouter& router)
    : rank_(rank),
      size_(size),
      config_(withDefaultSpin(config)),
      storeServer_(std::move(storeServer)),
      store_(std::move(store)),
      engine_(config_, rank, size) {
  // GCCL_SIMD reaches the kernels here: they read no configuration themselves. "auto" keeps
  // the level in force (the best the CPU has, unless a test or benchmark forced another).
  if (const auto level = parseSimdLevel(config_.simd)) setSimdLevel(*level);
  selectAllreduce(config.algorithm, size, 0);  // an unknown GCCL_ALGO fails init, not every call
  ConnectRequest request;
  request.rank = rank;
  request.size = size;
  request.peers = allreducePeers(rank, size);
  request.token = token;
  request.timeoutMs = config.timeoutMs;
  engine_.start(router.connect(request, *store_, engine_.poller()));
  logInfo(LogSubsys::kInit, "rank ", rank, " of ", size, " ready: ", router.describe(request.peers));
}

Communicator::~Communicator() {
  drain();
}

std::shared_ptr<Request> Communicator::allreduce(const void* input, void* output, size_t count,
                                                 DataType type, ReduceOp op, bool blocking) {
  const size_t elementSize = dataTypeSize(type);
  if (count > std::numeric_limits<size_t>::max() / elementSize / 2) {
    fail(Status::kInvalidArgument, "allreduce on rank ", rank_, ": count ", count,
         " overflows the buffer size");
  }
  if (count > 0 && (input == nullptr || output == nullptr)) {
    fail(Status::kInvalidArgument, "allreduce on rank ", rank_, ": null ",
         input == nullptr ? "send" : "receive", " buffer with count ", count);
  }
  const size_t bytes = count * elementSize;
  const auto* in = static_cast<const std::byte*>(input);
  const auto* out = static_cast<const std::byte*>(output);
  if (input != output && count > 0 && in < out + bytes && out < in + bytes) {
    fail(Status::kInvalidArgument, "allreduce on rank ", rank_,
         ": send and receive buffers overlap without being identical");
  }
  const AllreduceAlgorithm& algorithm = selectAllreduce(config_.algorithm, size_, bytes);
  ScheduleShape shape;
  shape.rank = rank_;
  shape.size = size_;
  shape.count = count;
  shape.sliceElements = std::max<size_t>(1, config_.chunkBytes / elementSize);
  shape.average = op == ReduceOp::kAvg;
  shape.inPlace = input == output;

  auto operation = std::make_unique<Operation>();
  operation->input = input;
  operation->output = output;
  operation->count = count;
  operation->type = type;
  operation->op = op;
  operation->algorithm = algorithm.id;
  operation->sequence = ++sequence_;
  operation->schedule = schedule(algorithm, shape);
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

std::shared_ptr<const Schedule> Communicator::schedule(const AllreduceAlgorithm& algorithm,
                                                       const ScheduleShape& shape) {
  constexpr size_t kCachedSchedules = 64;
  const auto key =
      std::make_tuple(algorithm.id, shape.count, shape.sliceElements, shape.average, shape.inPlace);
  auto found = schedules_.find(key);
  if (found != schedules_.end()) return found->second;
  if (schedules_.size() >= kCachedSchedules) schedules_.clear();
  auto built = std::make_shared<const Schedule>(algorithm.build(shape));
  schedules_.emplace(key, built);
  return built;
}

void Communicator::drain() {
  std::shared_ptr<Request> last;
  {
    std::lock_guard lock(lastMutex_);
    last = last_;
  }
  if (last) last->wait(config_.spinUs);
}

void Communicator::abort(const std::string& reason) {
  engine_.abort(reason);
}

}  // namespace gccl
