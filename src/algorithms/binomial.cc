#include "algorithms/binomial.h"

#include <set>

#include "algorithms/partition.h"
#include "algorithms/steps.h"

namespace gccl {

// The tree is built on virtual ranks v = (rank - root) mod n, so that the root is 0. The parent
// of v clears v's lowest set bit; its children are v + 2^k for every 2^k below that bit (below
// n at the root) that is still a rank. Child v + 2^k roots the subtree [v + 2^k, v + 2^(k+1)).
//
//   8 ranks:   0 --+-- 1
//                  +-- 2 --- 3
//                  +-- 4 --+-- 5
//                          +-- 6 --- 7
//
// A reduce combines, per slice, its own input with its children's partials nearest child
// first, the received partial always on the right: each rank's result covers its virtual ranks
// in ascending order, and the operand order never depends on which child's data came first
// (min/max of NaNs and NaN payloads of sums come out the same on every run).

namespace {

struct TreeNode {
  int parent = -1;            // the root has none
  std::vector<int> children;  // nearest (smallest subtree) first
};

int wrap(long long value, int size) {
  const long long m = value % size;
  return static_cast<int>(m < 0 ? m + size : m);
}

TreeNode nodeOf(int rank, int size, int root) {
  TreeNode node;
  const int v = wrap(rank - root, size);
  const int lowest = v == 0 ? size : (v & -v);
  if (v != 0) node.parent = wrap(rank - lowest, size);
  for (int distance = 1; distance < lowest && v + distance < size; distance <<= 1) {
    node.children.push_back(wrap(rank + distance, size));
  }
  return node;
}

}  // namespace

std::vector<int> binomialPeers(int rank, int size) {
  std::set<int> peers;
  for (int root = 0; root < size; ++root) {
    const TreeNode node = nodeOf(rank, size, root);
    if (node.parent >= 0) peers.insert(node.parent);
    peers.insert(node.children.begin(), node.children.end());
  }
  return {peers.begin(), peers.end()};
}

Schedule binomialBroadcast(const ScheduleShape& shape) {
  Schedule schedule;
  const TreeNode node = nodeOf(shape.rank, shape.size, shape.root);
  const bool root = node.parent < 0;
  const Range whole{0, shape.count};
  if (root && !shape.inPlace) {
    addCopy(schedule, BufferRole::kInput, whole, BufferRole::kOutput, whole, kNoStep);
  }
  if (shape.size == 1) return schedule;
  for (const Range part : slicesOf(whole, shape.sliceElements)) {
    const int32_t received =
        root ? kNoStep : addRecv(schedule, node.parent, BufferRole::kOutput, part, kNoStep);
    // The largest subtree first: it has the longest way to go. The root sends from its input,
    // without waiting for its own copy.
    for (auto child = node.children.rbegin(); child != node.children.rend(); ++child) {
      addSend(schedule, *child, root ? BufferRole::kInput : BufferRole::kOutput, part, received);
    }
  }
  return schedule;
}

Schedule binomialReduce(const ScheduleShape& shape) {
  Schedule schedule;
  const TreeNode node = nodeOf(shape.rank, shape.size, shape.root);
  const bool root = node.parent < 0;
  const Range whole{0, shape.count};
  if (root && shape.size == 1) {
    if (!shape.inPlace) {  // an average over one rank divides by one: nothing more
      addCopy(schedule, BufferRole::kInput, whole, BufferRole::kOutput, whole, kNoStep);
    }
    return schedule;
  }
  if (node.children.empty()) {  // a leaf passes its input up as it is
    for (const Range part : slicesOf(whole, shape.sliceElements)) {
      addSend(schedule, node.parent, BufferRole::kInput, part, kNoStep);
    }
    return schedule;
  }
  // Non-roots have no output: their partial lives in the work buffer.
  const BufferRole into = root ? BufferRole::kOutput : BufferRole::kWork;
  if (!root) schedule.workElements = shape.count;
  for (const Range part : slicesOf(whole, shape.sliceElements)) {
    int32_t partial = kNoStep;  // the last reduction of this slice
    for (int child : node.children) {
      const BufferRole from = partial == kNoStep ? BufferRole::kInput : into;
      partial = addRecvReduce(schedule, child, from, part, into, part, false, partial);
    }
    if (!root) {
      addSend(schedule, node.parent, BufferRole::kWork, part, partial);
    } else if (shape.average) {
      addDivide(schedule, part, partial);
    }
  }
  return schedule;
}

}  // namespace gccl
