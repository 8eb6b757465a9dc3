#include "timing.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "program.h"

namespace gccl::sim {

namespace {

constexpr size_t kElementSize = 4;  // float32

// Collectives whose size column is n blocks of the call's count.
bool splitsBytes(CollectiveKind collective) {
  return collective == CollectiveKind::kAllgather || collective == CollectiveKind::kReduceScatter ||
         collective == CollectiveKind::kAllToAll;
}

}  // namespace

size_t countFor(const SimOptions& options, size_t bytes) {
  const size_t elements = bytes / kElementSize;
  return splitsBytes(options.collective) ? elements / static_cast<size_t>(options.nranks)
                                         : elements;
}

size_t bytesFor(const SimOptions& options, size_t count) {
  const size_t bytes = count * kElementSize;
  return splitsBytes(options.collective) ? bytes * static_cast<size_t>(options.nranks) : bytes;
}

ScheduleShape shapeFor(const SimOptions& options, size_t count) {
  auto hosts = std::make_shared<std::vector<int>>(static_cast<size_t>(options.nranks));
  for (int r = 0; r < options.nranks; ++r) {
    (*hosts)[static_cast<size_t>(r)] = r / options.model.ranksPerHost;
  }
  ScheduleShape shape;
  shape.size = options.nranks;
  shape.count = count;
  shape.sliceElements = std::max<size_t>(1, options.chunkBytes / kElementSize);
  shape.root = options.root;
  shape.inPlace = options.inPlace;
  shape.hostOf = std::move(hosts);
  return shape;
}

SimRow timeAlgorithm(const Algorithm& algorithm, const SimOptions& options, size_t count) {
  const auto start = std::chrono::steady_clock::now();
  ScheduleShape shape = shapeFor(options, count);  // one host map, shared by every rank's shape
  Program program = compileProgram(
      options.nranks,
      [&](int rank) {
        shape.rank = rank;
        return buildSchedule(algorithm, shape);
      },
      options.slotsPerPeer);
  SimRow row;
  row.algo = std::string(algorithm.name);
  row.selected = row.algo;
  row.count = count;
  row.bytes = bytesFor(options, count);
  row.result = simulate(program, options.model, kElementSize);
  row.timeUs = row.result.seconds * 1e6;
  row.algbw = row.timeUs > 0 ? double(row.bytes) / row.timeUs / 1e3 : 0;
  row.busbw = row.algbw * busFactor(options.collective, options.nranks);
  row.wallSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return row;
}

}  // namespace gccl::sim
