// One collective submitted to the engine: the schedule to run and the buffers to run it on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "algorithms/registry.h"
#include "algorithms/schedule.h"
#include "algorithms/schedule_index.h"
#include "base/dtype.h"
#include "base/error.h"
#include "core/request.h"
#include "reduce/reduce.h"
#include "transport/frame.h"

namespace gccl {

struct Operation {
  CollectiveKind kind = CollectiveKind::kAllreduce;
  const void* input = nullptr;
  void* output = nullptr;
  size_t count = 0;  // the collective's count argument (what every rank must agree on)
  DataType type = DataType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  int root = 0;                // rooted collectives only
  bool findNonFinite = false;  // CollectiveCall::findNonFinite, for an average
  // How a result written into several buffers at once is stored (Config::shmStreamBytes).
  Stores resultStores = Stores::kCached;
  uint32_t agreementHash = 0;  // BufferLayout::agreementHash: every rank's must be equal
  AlgorithmId algorithm = AlgorithmId::kRing;
  uint64_t sequence = 0;
  std::shared_ptr<const Schedule> schedule;
  std::shared_ptr<const ScheduleIndex> index;  // of `schedule`; made per execution when null
  std::shared_ptr<Request> request = std::make_shared<Request>();

  // Alltoallv: per rank, the elements of the block this rank sends it and receives from it.
  // Their messages carry them as the count, so that a pair whose counts disagree fails on its
  // first message (the ranks have no count in common).
  std::vector<uint64_t> sendCounts;
  std::vector<uint64_t> recvCounts;

  // Where the schedule depends on what an operation before this one gathers (alltoallv
  // through relays, whose schedule needs every pair's count): sets `schedule`, `index` and
  // `count`, run by the engine when it reaches this operation, in submission order. The error
  // it returns is a refusal every rank makes alike, from the same gathered data, before any
  // message: it fails this operation alone. What it throws breaks the engine, as any failure.
  std::function<std::optional<Error>(Operation&)> plan;
  // What the buffers point into when gccl made them for a call of its own (the count
  // exchange's rows): kept for as long as the operation.
  std::shared_ptr<const void> keepAlive;

  // The header every message of this operation carries (bytes filled per message).
  FrameHeader frameHeader() const;
  // The header of a message to (from) `peer`: frameHeader() with the pair's count where the
  // operation has counts per peer.
  FrameHeader frameHeaderTo(int peer) const;
  FrameHeader frameHeaderFrom(int peer) const;
  // "allreduce #5 (float32 sum, 1000 elements, ring)"; rooted collectives name the root.
  std::string describe() const;
};

}  // namespace gccl
