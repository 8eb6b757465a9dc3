#include "algorithms/double_tree.h"

#include <bit>
#include <set>

#include "algorithms/partition.h"

namespace gccl {

namespace {

// Tree 1's relabelling. Inner nodes sit at even positions: mirroring puts them on odd ranks
// when n is even; for odd n a mirror maps even positions to even ranks (the same inner nodes),
// so the positions shift by one instead (then only rank 0 is inner in both trees).
int rankAt(int tree, int position, int size) {
  if (tree == 0) return position;
  return size % 2 == 0 ? size - 1 - position : (position + 1) % size;
}

int positionOf(int tree, int rank, int size) {
  if (tree == 0) return rank;
  return size % 2 == 0 ? size - 1 - rank : (rank + size - 1) % size;
}

// The steps of one slice on one tree: reduce up, then broadcast down. Every element is reduced
// once, along its tree, and copied from the root: every rank ends with the same bits.
void appendTreeSlice(Schedule& schedule, const ScheduleShape& shape, const TreeNode& node,
                     Range part) {
  BufferRole partial = BufferRole::kInput;
  int32_t reduced = kNoStep;
  for (const int child : {node.left, node.right}) {
    if (child < 0) continue;
    Step reduce;
    reduce.kind = StepKind::kRecvReduce;
    reduce.source = partial;
    reduce.peer = child;
    reduce.input = part;
    reduce.output = part;
    // The left subtree holds the lower positions: its partial is the left operand.
    reduce.receivedFirst = child == node.left;
    reduce.after = {reduced, kNoStep};
    reduced = schedule.add(reduce);
    partial = BufferRole::kOutput;
  }
  int32_t result = reduced;
  if (node.parent >= 0) {
    Step up;
    up.kind = StepKind::kSend;
    up.source = partial;
    up.peer = node.parent;
    up.input = part;
    up.after = {reduced, kNoStep};
    const int32_t sent = schedule.add(up);
    Step down;
    down.kind = StepKind::kRecv;
    down.peer = node.parent;
    down.output = part;
    down.after = {sent, kNoStep};  // in place, it overwrites what the send reads
    result = schedule.add(down);
  } else if (shape.average) {
    Step divide;
    divide.kind = StepKind::kDivide;
    divide.source = BufferRole::kOutput;
    divide.output = part;
    divide.after = {reduced, kNoStep};
    result = schedule.add(divide);
  }
  for (const int child : {node.left, node.right}) {
    if (child < 0) continue;
    Step send;
    send.kind = StepKind::kSend;
    send.source = BufferRole::kOutput;
    send.peer = child;
    send.input = part;
    send.after = {result, kNoStep};
    schedule.add(send);
  }
}

}  // namespace

// The in-order tree of positions by lowest set bit: position x with lowest bit b > 1 has
// children x - b/2 and x + b/2 (or, past the end, the first of x + b/4, x + b/8, ... that
// exists); odd positions are the leaves; position 0 is the root, with one child: the largest
// power of two below n. Depth log2(n), and the even positions carry all the inner work.
TreeNode treeNode(int tree, int rank, int size) {
  const int x = positionOf(tree, rank, size);
  TreeNode node;
  if (x == 0) {
    if (size > 1) node.right = rankAt(tree, static_cast<int>(std::bit_floor(size - 1u)), size);
    return node;
  }
  const int bit = x & -x;
  // The natural parent has the next bit up; past the end, it is x - bit (whose right child x
  // then is, every candidate between them being past the end too).
  int parent = (x ^ bit) | (bit << 1);
  if (parent >= size) parent = x ^ bit;
  node.parent = rankAt(tree, parent, size);
  if (bit == 1) return node;
  node.left = rankAt(tree, x - bit / 2, size);
  for (int half = bit / 2; half >= 1; half /= 2) {
    if (x + half < size) {
      node.right = rankAt(tree, x + half, size);
      break;
    }
  }
  return node;
}

std::vector<int> doubleTreePeers(int rank, int size) {
  std::set<int> peers;
  for (int tree = 0; tree < 2; ++tree) {
    const TreeNode node = treeNode(tree, rank, size);
    for (const int peer : {node.parent, node.left, node.right}) {
      if (peer >= 0) peers.insert(peer);
    }
  }
  return {peers.begin(), peers.end()};
}

// Slices of the two halves alternate in the schedule, so both trees are busy at once; a pair of
// ranks neighbours in both trees lists its messages in the same (slice, tree) order on both
// sides, which keeps the i-th send matched with the i-th receive.
Schedule doubleTreeAllreduce(const ScheduleShape& shape) {
  Schedule schedule;
  const Range whole{0, shape.count};
  if (shape.size == 1) {
    if (!shape.inPlace) {
      Step copy;
      copy.kind = StepKind::kCopy;
      copy.input = whole;
      copy.output = whole;
      schedule.add(copy);
    }
    return schedule;
  }
  const TreeNode nodes[2] = {treeNode(0, shape.rank, shape.size),
                             treeNode(1, shape.rank, shape.size)};
  const size_t slices = slicesPerPiece(shape.count, 2, shape.sliceElements);
  for (size_t j = 0; j < slices; ++j) {
    for (int tree = 0; tree < 2; ++tree) {
      const Range half = balancedPiece(shape.count, 2, static_cast<size_t>(tree));
      appendTreeSlice(schedule, shape, nodes[tree], slice(half, slices, j));
    }
  }
  return schedule;
}

}  // namespace gccl
