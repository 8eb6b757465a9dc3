// One collective as the perf tools measure it: a small descriptor of how a row of the table
// becomes a call (count, buffers, input), what of the result is defined and checked, and the
// bus-bandwidth factor. The sweep (sweep.cc) and main (perf_main.cc) are written once over it,
// so allreduce_perf and the other <collective>_perf tools are the same program.
//
// Sizes follow nccl-tests (src/<collective>.cu, getCollByteCount and getBw): the size column is
// the larger of a rank's send and receive buffers, so allgather shows the gathered bytes and
// reduce-scatter the bytes each rank contributes (all-to-all: a rank's whole buffer); the
// count column is the call's count argument (a block, for those three); algbw is size / time.
#pragma once

#include <cstddef>
#include <span>

#include <gccl/gccl.h>

#include "base/collective.h"

namespace gccl::perf {

// What one call sees. `op` is gcclSum for collectives that reduce nothing: it only picks the
// shape of the exact input values (verifiable.h).
struct CallSetup {
  gcclComm_t comm = nullptr;
  int rank = 0;
  int nranks = 1;
  int root = 0;
  gcclDataType_t type = gcclFloat32;
  gcclRedOp_t op = gcclSum;
  size_t count = 0;  // the call's count argument
  bool inPlace = false;
};

// The pointers a call takes, both inside the sweep's two buffers.
struct Placement {
  unsigned char* send = nullptr;
  unsigned char* recv = nullptr;
};

struct CollectiveSpec {
  const char* name;  // "allreduce": messages, header, JSON
  const char* tool;  // "allreduce_perf"
  CollectiveKind kind;
  bool reduces;  // takes -o; otherwise the op column reads "none"
  bool rooted;   // takes -r
  // A row of n elements is nranks blocks of n / nranks (allgather, reduce-scatter) or one call
  // of n elements: blocksPerRow is nranks or 1.
  int (*blocksPerRow)(int nranks);
  double (*busBw)(double algbw, int nranks);
  // Out of place: send in buffer a, recv in b. In place: the layout the C API calls in place.
  Placement (*place)(const CallSetup& call, unsigned char* a, unsigned char* b);
  // Writes this rank's exact input where the call reads it.
  void (*fill)(const CallSetup& call, Placement where);
  gcclResult_t (*run)(const CallSetup& call, Placement where);
  // The part of this rank's output whose value the collective defines (empty for reduce off
  // the root): what --corrupt-rank flips and countWrong reads.
  std::span<unsigned char> (*result)(const CallSetup& call, Placement where);
  size_t (*countWrong)(const CallSetup& call, Placement where);
};

extern const CollectiveSpec kAllreduceSpec;
extern const CollectiveSpec kBroadcastSpec;
extern const CollectiveSpec kReduceSpec;
extern const CollectiveSpec kAllgatherSpec;
extern const CollectiveSpec kReduceScatterSpec;
extern const CollectiveSpec kAllToAllSpec;
extern const CollectiveSpec kAllToAllVSpec;

}  // namespace gccl::perf
