// The collectives the baselines measure (--collective), described as gccl's perf tools
// describe them (perf/collective.h): the nccl-tests size column and bus factors, where an
// in-place call finds its input, and what of the output is checked.
//
// In-place layouts are MPI's, which Gloo's shares: a reduce-scatter leaves a rank's block at
// the start of the buffer that held the whole input (gccl leaves it at block `rank`), an
// allgather finds a rank's input at block `rank` of the output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "perf_types.h"

namespace baselines {

enum class Collective { kAllreduce, kBroadcast, kReduce, kAllgather, kReduceScatter, kAllToAll };

std::optional<Collective> parseCollective(const std::string& name);
const char* collectiveName(Collective c);  // "allreduce", ..., "reduce_scatter"
const char* toolName(Collective c);        // gccl's tool: "allreduce_perf", "all_gather_perf"
bool reduces(Collective c);                // takes -o; otherwise the op column reads "none"
bool rooted(Collective c);                 // takes -r

// A row of the size column holds this many blocks of the call's count.
int blocksPerRow(Collective c, int nranks);
double busBw(Collective c, double algbw, int nranks);

// Elements a call reads from a rank's input (the whole input for a reduce-scatter and an
// all-to-all).
size_t inputElements(Collective c, size_t count, int nranks);
// In place, a rank's input sits at this element of the output, if the call reads it at all
// (a broadcast reads the root's only).
size_t inPlaceInputOffset(Collective c, size_t count, int rank);
bool readsInput(Collective c, int rank, int root);

// Elements of this rank's output that differ from the exact result; 0 where the collective
// defines none (reduce off the root). `op` is the op the input was filled for.
template <typename T>
int64_t countWrongOutput(Collective c, const T* output, size_t count, Op op, int rank, int nranks,
                         int root) {
  switch (c) {
    case Collective::kBroadcast: return countWrongInput(output, count, op, root);
    case Collective::kReduce: return rank == root ? countWrong(output, count, op, nranks) : 0;
    case Collective::kAllgather: {
      int64_t wrong = 0;
      for (int block = 0; block < nranks; ++block) {
        wrong += countWrongInput(output + count * block, count, op, block);
      }
      return wrong;
    }
    case Collective::kReduceScatter: return countWrong(output, count, op, nranks, count * rank);
    case Collective::kAllToAll: {  // rank s's block for this rank: s's input from count x rank
      int64_t wrong = 0;
      for (int block = 0; block < nranks; ++block) {
        wrong += countWrongInput(output + count * block, count, op, block, count * rank);
      }
      return wrong;
    }
    case Collective::kAllreduce: break;
  }
  return countWrong(output, count, op, nranks);
}

}  // namespace baselines
