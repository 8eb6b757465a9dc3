// Double binary tree allreduce (NCCL since 2.4): two binary trees over all ranks, each
// reducing and then broadcasting half of the buffer, pipelined in slices. A rank that is a leaf
// in one tree is an inner node in the other, so every rank sends and receives about as much as
// in a ring, while a slice crosses only 2 log2(n) hops instead of 2(n-1).
#pragma once

#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

// One rank's place in one tree: -1 where there is no such neighbour.
struct TreeNode {
  int parent = -1;
  int left = -1;   // child whose subtree holds lower positions (reduced first)
  int right = -1;  // child whose subtree holds higher positions
};

// Tree 0 is an in-order binary tree of positions 0..n-1 whose inner nodes are the even
// positions; tree 1 is the same tree with relabelled positions (mirrored for even n, shifted by
// one for odd n), which turns tree 0's leaves into inner nodes.
TreeNode treeNode(int tree, int rank, int size);

std::vector<int> doubleTreePeers(int rank, int size);
Schedule doubleTreeAllreduce(const ScheduleShape& shape);

}  // namespace gccl
