#include "algorithms/double_tree.h"

#include <algorithm>
#include <bit>
#include <set>

#include "algorithms/partition.h"
#include "algorithms/steps.h"

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

// Where a slice stands after its way up: the last reduction into it and the send that hands it
// to the parent (kNoStep where there is none).
struct Climbed {
  int32_t reduced = kNoStep;
  int32_t sent = kNoStep;
};

// A slice's way up one tree: the children's partials reduced into it, then sent to the parent.
// Every element is reduced once, along its tree, and copied down from the root: every rank ends
// with the same bits.
Climbed appendUp(Schedule& schedule, const TreeNode& node, Range part) {
  BufferRole partial = BufferRole::kInput;
  Climbed climbed;
  for (const int child : {node.left, node.right}) {
    if (child < 0) continue;
    // The left subtree holds the lower positions: its partial is the left operand.
    climbed.reduced = addRecvReduce(schedule, child, partial, part, BufferRole::kOutput, part,
                                    child == node.left, climbed.reduced);
    partial = BufferRole::kOutput;
  }
  if (node.parent >= 0) {
    climbed.sent = addSend(schedule, node.parent, partial, part, climbed.reduced);
  }
  return climbed;
}

// Its way down: the result from the parent (or, at the root, the reduction itself, averaged
// there once), then on to the children.
void appendDown(Schedule& schedule, const ScheduleShape& shape, const TreeNode& node, Range part,
                const Climbed& climbed) {
  int32_t result = climbed.reduced;
  if (node.parent >= 0) {
    // In place, it overwrites what the send up reads: after it.
    result = addRecv(schedule, node.parent, BufferRole::kOutput, part, climbed.sent);
  } else if (shape.average) {
    result = addDivide(schedule, part, climbed.reduced);
  }
  for (const int child : {node.left, node.right}) {
    if (child >= 0) addSend(schedule, child, BufferRole::kOutput, part, result);
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
// ranks neighbours in both trees lists its messages in the same order on both sides (every rank
// lists by the same rule), which keeps the i-th send matched with the i-th receive.
Schedule doubleTreeAllreduce(const ScheduleShape& shape) {
  Schedule schedule;
  const Range whole{0, shape.count};
  if (shape.size == 1) {
    if (!shape.inPlace) {
      addCopy(schedule, BufferRole::kInput, whole, BufferRole::kOutput, whole, kNoStep);
    }
    return schedule;
  }
  const TreeNode nodes[2] = {treeNode(0, shape.rank, shape.size),
                             treeNode(1, shape.rank, shape.size)};
  const size_t slices = slicesPerPiece(shape.count, 2, shape.sliceElements);
  // Slice k's way down is listed `lag` slices after its way up. A pair of ranks neighbours in
  // both trees sends its messages in listed order, so a down-send listed right after the
  // up-send of the same slice would hold back the next slice's up-send until the other tree
  // had reduced and broadcast that slice: the trees would run in lock-step (the simulator
  // showed half the bandwidth at two ranks). With the lag, a slice's way down is due about
  // when its up and down trips (2 x depth hops) have had time to happen.
  const size_t lag =
      std::min<size_t>(slices, 2 * std::bit_width(static_cast<unsigned>(shape.size)));
  std::vector<Climbed> climbed(2 * slices);
  const auto part = [&](int tree, size_t j) {
    return slice(balancedPiece(shape.count, 2, static_cast<size_t>(tree)), slices, j);
  };
  for (size_t k = 0; k < slices + lag; ++k) {
    for (int tree = 0; tree < 2; ++tree) {
      if (k < slices) climbed[2 * k + tree] = appendUp(schedule, nodes[tree], part(tree, k));
      if (k >= lag) {
        const size_t j = k - lag;
        appendDown(schedule, shape, nodes[tree], part(tree, j), climbed[2 * j + tree]);
      }
    }
  }
  return schedule;
}

}  // namespace gccl
