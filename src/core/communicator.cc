#include "core/communicator.h"

#include <algorithm>
#include <limits>
#include <thread>

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
      diagnosis_(*store_, rank, size, config_.timeoutMs),
      engine_(config_, rank, size) {
  // GCCL_SIMD reaches the kernels here: they read no configuration themselves. "auto" keeps
  // the level in force (the best the CPU has, unless a test or benchmark forced another).
  if (const auto level = parseSimdLevel(config_.simd)) setSimdLevel(*level);
  // An unknown GCCL_ALGO fails init, not every call.
  selectAlgorithm(CollectiveKind::kAllreduce, config.algorithm, size, 0);
  ConnectRequest request;
  request.rank = rank;
  request.size = size;
  request.peers = connectionPeers(rank, size);
  request.token = token;
  request.timeoutMs = config.timeoutMs;
  diagnosis_.publishHost();
  engine_.start(router.connect(request, *store_, engine_.poller()), &diagnosis_);
  logInfo(LogSubsys::kInit, "rank ", rank, " of ", size, " ready: ", router.describe(request.peers));
}

Communicator::~Communicator() {
  drain();
  // Rank 0 serves the store: after a failure the others may still be reading it to name the
  // silent rank (0.2 s when nobody is, at most two graces + 0.6 s).
  while (storeServer_ && diagnosis_.othersMayNeedStore(storeServer_->lastProbe())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::shared_ptr<Request> Communicator::allreduce(const void* input, void* output, size_t count,
                                                 DataType type, ReduceOp op, bool blocking) {
  CollectiveCall call;
  call.kind = CollectiveKind::kAllreduce;
  call.input = input;
  call.output = output;
  call.count = count;
  call.type = type;
  call.op = op;
  call.inputCount = count;
  call.outputCount = count;
  return start(call, blocking);
}

void Communicator::validate(const CollectiveCall& call) const {
  const std::string_view name = collectiveName(call.kind);
  const size_t elementSize = dataTypeSize(call.type);
  const size_t largest = std::max(call.inputCount, call.outputCount);
  if (largest > std::numeric_limits<size_t>::max() / elementSize / 2) {
    fail(Status::kInvalidArgument, name, " on rank ", rank_, ": count ", call.count,
         " overflows the buffer size");
  }
  if (isRooted(call.kind) && (call.root < 0 || call.root >= size_)) {
    fail(Status::kInvalidArgument, name, " on rank ", rank_, ": root ", call.root,
         " is not a rank of ", size_);
  }
  if ((call.inputCount > 0 && call.input == nullptr) ||
      (call.outputCount > 0 && call.output == nullptr)) {
    fail(Status::kInvalidArgument, name, " on rank ", rank_, ": null ",
         call.input == nullptr ? "send" : "receive", " buffer with count ", call.count);
  }
  const auto* in = static_cast<const std::byte*>(call.input);
  const auto* out = static_cast<const std::byte*>(call.output);
  const size_t inBytes = call.inputCount * elementSize;
  const size_t outBytes = call.outputCount * elementSize;
  if (in != out && inBytes > 0 && outBytes > 0 && in < out + outBytes && out < in + inBytes) {
    fail(Status::kInvalidArgument, name, " on rank ", rank_,
         ": send and receive buffers overlap without being identical");
  }
  // A tiny slice on a huge buffer would build a schedule of millions of steps.
  const size_t slices = (largest * elementSize + config_.chunkBytes - 1) / config_.chunkBytes;
  if (slices > kMaxSlicesPerCollective) {
    fail(Status::kInvalidArgument, name, " on rank ", rank_, " of ", largest * elementSize,
         " bytes would be cut into ", slices, " slices of GCCL_CHUNK_BYTES=", config_.chunkBytes,
         " (at most ", kMaxSlicesPerCollective, "): raise GCCL_CHUNK_BYTES to at least ",
         (largest * elementSize + kMaxSlicesPerCollective - 1) / kMaxSlicesPerCollective);
  }
}

std::shared_ptr<Request> Communicator::start(const CollectiveCall& call, bool blocking) {
  validate(call);
  const size_t elementSize = dataTypeSize(call.type);
  const size_t bytes = std::max(call.inputCount, call.outputCount) * elementSize;
  const Algorithm& algorithm = selectAlgorithm(call.kind, config_.algorithm, size_, bytes);
  ScheduleShape shape;
  shape.rank = rank_;
  shape.size = size_;
  shape.count = call.count;
  shape.sliceElements = std::max<size_t>(1, config_.chunkBytes / elementSize);
  shape.root = call.root;
  shape.average = call.op == ReduceOp::kAvg;
  shape.inPlace = call.input == call.output;

  auto operation = std::make_unique<Operation>();
  operation->kind = call.kind;
  operation->input = call.input;
  operation->output = call.output;
  operation->count = call.count;
  operation->type = call.type;
  operation->op = call.op;
  operation->root = call.root;
  operation->algorithm = algorithm.id;
  operation->sequence = ++sequence_;
  operation->schedule = schedule(call, algorithm, shape);
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

std::shared_ptr<const Schedule> Communicator::schedule(const CollectiveCall& call,
                                                       const Algorithm& algorithm,
                                                       const ScheduleShape& shape) {
  constexpr size_t kCachedSchedules = 64;
  const ScheduleKey key{call.kind,       algorithm.id, shape.count,  shape.sliceElements,
                        shape.root,      shape.average, shape.inPlace};
  auto found = schedules_.find(key);
  if (found != schedules_.end()) return found->second;
  if (schedules_.size() >= kCachedSchedules) schedules_.clear();
  auto built = std::make_shared<const Schedule>(algorithm.build(shape));
  // Checked once per shape (then cached): the engine trusts indices, peers and ranges.
  checkSchedule(*built, rank_, size_, call.inputCount, call.outputCount);
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
