#include "perf_collective.h"

namespace baselines {

namespace {

struct Row {
  Collective collective;
  const char* name;
  const char* tool;
  bool reduces;
  bool rooted;
};

constexpr Row kRows[] = {
    {Collective::kAllreduce, "allreduce", "allreduce_perf", true, false},
    {Collective::kBroadcast, "broadcast", "broadcast_perf", false, true},
    {Collective::kReduce, "reduce", "reduce_perf", true, true},
    {Collective::kAllgather, "allgather", "all_gather_perf", false, false},
    {Collective::kReduceScatter, "reduce_scatter", "reduce_scatter_perf", true, false},
    {Collective::kAllToAll, "alltoall", "alltoall_perf", false, false},
};

const Row& row(Collective c) {
  for (const Row& r : kRows) {
    if (r.collective == c) return r;
  }
  return kRows[0];
}

bool blocks(Collective c) {
  return c == Collective::kAllgather || c == Collective::kReduceScatter ||
         c == Collective::kAllToAll;
}

}  // namespace

std::optional<Collective> parseCollective(const std::string& name) {
  for (const Row& r : kRows) {
    if (name == r.name) return r.collective;
  }
  return std::nullopt;
}

const char* collectiveName(Collective c) {
  return row(c).name;
}
const char* toolName(Collective c) {
  return row(c).tool;
}
bool reduces(Collective c) {
  return row(c).reduces;
}
bool rooted(Collective c) {
  return row(c).rooted;
}

int blocksPerRow(Collective c, int nranks) {
  return blocks(c) ? nranks : 1;
}

// nccl-tests' factors, written as gccl's perf tools write them (perf/collectives.cc).
double busBw(Collective c, double algbw, int nranks) {
  if (c == Collective::kAllreduce) return algbw * 2.0 * (nranks - 1) / nranks;
  if (blocks(c)) return algbw * (nranks - 1) / nranks;
  return algbw;
}

size_t inputElements(Collective c, size_t count, int nranks) {
  const bool whole = c == Collective::kReduceScatter || c == Collective::kAllToAll;
  return whole ? count * nranks : count;
}

size_t inPlaceInputOffset(Collective c, size_t count, int rank) {
  return c == Collective::kAllgather ? count * rank : 0;
}

bool readsInput(Collective c, int rank, int root) {
  return c != Collective::kBroadcast || rank == root;
}

}  // namespace baselines
