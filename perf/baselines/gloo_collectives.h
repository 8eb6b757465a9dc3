// Gloo's implementation of each collective the baselines measure, bound to one size's buffers
// as two calls, out of place and in place, so that the sweep's Gloo backend is the same for all.
//
// Gloo's allreduce algorithms and its reduce-scatter (ReduceScatterHalvingDoubling) reduce in
// place on the pointers they were built over. Out of place, they copy the input into the output
// buffer inside the timed call, as a caller keeping its input would have to. gloo::broadcast,
// gloo::reduce and gloo::allgather take an input and an output buffer themselves.
#pragma once

#include <gloo/allgather.h>
#include <gloo/allreduce_bcube.h>
#include <gloo/allreduce_halving_doubling.h>
#include <gloo/allreduce_ring_chunked.h>
#include <gloo/alltoall.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/reduce.h>
#include <gloo/reduce_scatter.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "perf_collective.h"
#include "perf_types.h"

namespace baselines {

// What --algo all runs, per collective: Gloo has several allreduce algorithms and one of each
// of the others (a binomial tree broadcast, ring reduce and allgather, halving-doubling
// reduce-scatter, a pairwise all-to-all).
inline std::vector<std::string> glooAlgorithms(Collective c) {
  switch (c) {
    case Collective::kBroadcast: return {"binomial_tree"};
    case Collective::kAllToAll: return {"pairwise"};
    case Collective::kReduce:
    case Collective::kAllgather: return {"ring"};
    case Collective::kReduceScatter: return {"halving_doubling"};
    case Collective::kAllreduce: break;
  }
  return {"ring_chunked", "halving_doubling", "bcube"};
}

// Whether Gloo implements `c` over unbound buffers (gloo::broadcast, reduce, allgather) rather
// than over pair-bound buffers (the allreduce algorithms, ReduceScatterHalvingDoubling).
//
// This decides the sweep's own barriers and bookkeeping (gloo_allreduce_perf.cc). Gloo's TCP
// pair grows SO_SNDBUF to the largest pair-bound message sent so far, but its unbound sends
// never touch it. One small pair-bound message (a barrier) therefore leaves every later
// unbound send with the kernel's minimum send buffer: one 64 KiB loopback segment per 40 ms
// delayed ACK, 660 ms for a 1 MiB broadcast here instead of about 1 ms. Around unbound
// collectives the sweep uses unbound ones (gloo::barrier, gloo::allreduce), as PyTorch's
// Gloo process group does, and the kernel keeps sizing the buffers.
inline bool glooUsesUnboundBuffers(Collective c) {
  return c == Collective::kBroadcast || c == Collective::kReduce || c == Collective::kAllgather ||
         c == Collective::kAllToAll;
}

// Whether the out-of-place time includes copying the input (see the file comment).
inline bool glooCopiesInput(Collective c) {
  return c == Collective::kAllreduce || c == Collective::kReduceScatter;
}

// Whether the in-place time includes copying the input aside: gloo::alltoall has no in-place
// form, so the in-place call copies the buffer out first, as gccl does inside its call.
inline bool glooCopiesInPlace(Collective c) {
  return c == Collective::kAllToAll;
}

struct GlooCalls {
  std::function<void()> outOfPlace;
  std::function<void()> inPlace;
};

template <typename T>
const gloo::ReductionFunction<T>* glooOp(Op op) {
  switch (op) {
    case Op::kProd: return gloo::ReductionFunction<T>::product;
    case Op::kMin: return gloo::ReductionFunction<T>::min;
    case Op::kMax: return gloo::ReductionFunction<T>::max;
    case Op::kSum: break;
  }
  return gloo::ReductionFunction<T>::sum;
}

// gloo::reduce takes the three-pointer kernels of gloo/math.h.
template <typename T>
gloo::ReduceOptions::Func glooReduceFunction(Op op) {
  using Kernel = void (*)(void*, const void*, const void*, size_t);
  switch (op) {
    case Op::kProd: return static_cast<Kernel>(&gloo::product<T>);
    case Op::kMin: return static_cast<Kernel>(&gloo::min<T>);
    case Op::kMax: return static_cast<Kernel>(&gloo::max<T>);
    case Op::kSum: break;
  }
  return static_cast<Kernel>(&gloo::sum<T>);
}

struct GlooCallArgs {
  std::shared_ptr<gloo::Context> context;
  std::string algorithm;
  Op op;
  int root;
  size_t count;  // the call's count: a block, for allgather and reduce-scatter
};

namespace detail {

// An algorithm that reduces `elements` of `output` in place; out of place copies input first.
template <typename T>
GlooCalls inPlaceAlgorithm(std::shared_ptr<gloo::Algorithm> algorithm, const T* input, T* output,
                           size_t elements) {
  return {[=] {
            std::memcpy(output, input, elements * sizeof(T));
            algorithm->run();
          },
          [=] { algorithm->run(); }};
}

// Construction pairs up buffers, so it stays outside the timed loop.
template <typename T>
std::shared_ptr<gloo::Algorithm> makeAllreduce(const GlooCallArgs& a, T* data) {
  const std::vector<T*> ptrs = {data};
  const int count = static_cast<int>(a.count);
  if (a.algorithm == "halving_doubling") {
    return std::make_shared<gloo::AllreduceHalvingDoubling<T>>(a.context, ptrs, count,
                                                               glooOp<T>(a.op));
  }
  if (a.algorithm == "bcube") {
    return std::make_shared<gloo::AllreduceBcube<T>>(a.context, ptrs, count, glooOp<T>(a.op));
  }
  return std::make_shared<gloo::AllreduceRingChunked<T>>(a.context, ptrs, count, glooOp<T>(a.op));
}

}  // namespace detail

// Options objects and algorithms are built once per size (untimed); each call runs them again.
template <typename T>
GlooCalls makeGlooCalls(Collective c, const GlooCallArgs& a, T* input, T* output) {
  const auto& context = a.context;
  const size_t n = static_cast<size_t>(context->size);
  switch (c) {
    case Collective::kBroadcast: {
      auto oop = std::make_shared<gloo::BroadcastOptions>(context);
      auto ip = std::make_shared<gloo::BroadcastOptions>(context);
      for (auto* options : {oop.get(), ip.get()}) {
        options->setRoot(a.root);
        options->template setOutput<T>(output, a.count);
      }
      if (context->rank == a.root) oop->template setInput<T>(input, a.count);
      return {[oop] { gloo::broadcast(*oop); }, [ip] { gloo::broadcast(*ip); }};
    }
    case Collective::kReduce: {
      auto oop = std::make_shared<gloo::ReduceOptions>(context);
      auto ip = std::make_shared<gloo::ReduceOptions>(context);
      for (auto* options : {oop.get(), ip.get()}) {
        options->setRoot(a.root);
        options->setReduceFunction(glooReduceFunction<T>(a.op));
        options->template setOutput<T>(output, a.count);
      }
      oop->template setInput<T>(input, a.count);
      return {[oop] { gloo::reduce(*oop); }, [ip] { gloo::reduce(*ip); }};
    }
    case Collective::kAllgather: {
      auto oop = std::make_shared<gloo::AllgatherOptions>(context);
      auto ip = std::make_shared<gloo::AllgatherOptions>(context);
      oop->template setInput<T>(input, a.count);
      oop->template setOutput<T>(output, a.count * n);
      ip->template setOutput<T>(output, a.count * n);
      // The installed Gloo (2022-05) divides by zero on an empty allgather (it checks for that
      // only later): with nothing to gather, no call is made.
      if (a.count == 0) return {[] {}, [] {}};
      return {[oop] { gloo::allgather(*oop); }, [ip] { gloo::allgather(*ip); }};
    }
    case Collective::kAllToAll: {
      auto oop = std::make_shared<gloo::AlltoallOptions>(context);
      auto ip = std::make_shared<gloo::AlltoallOptions>(context);
      auto aside = std::make_shared<std::vector<T>>(a.count * n);
      oop->template setInput<T>(input, a.count * n);
      ip->template setInput<T>(aside->data(), a.count * n);
      for (auto* options : {oop.get(), ip.get()}) {
        options->template setOutput<T>(output, a.count * n);
      }
      if (a.count == 0) return {[] {}, [] {}};  // nothing to exchange (buffers may be null)
      return {[oop] { gloo::alltoall(*oop); },
              [ip, aside, output] {
                std::memcpy(aside->data(), output, aside->size() * sizeof(T));
                gloo::alltoall(*ip);
              }};
    }
    case Collective::kReduceScatter: {
      const std::vector<int> blocks(n, static_cast<int>(a.count));
      auto algorithm = std::make_shared<gloo::ReduceScatterHalvingDoubling<T>>(
          context, std::vector<T*>{output}, static_cast<int>(a.count * n), blocks, glooOp<T>(a.op));
      return detail::inPlaceAlgorithm<T>(algorithm, input, output, a.count * n);
    }
    case Collective::kAllreduce: break;
  }
  return detail::inPlaceAlgorithm<T>(detail::makeAllreduce(a, output), input, output, a.count);
}

}  // namespace baselines
