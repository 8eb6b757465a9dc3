#include "algorithms/recursive_halving.h"

#include <algorithm>

#include "algorithms/partition.h"
#include "algorithms/steps.h"

namespace gccl {

// With p the largest power of two <= n and f = n - p, ranks 2i (i < f) hand their whole input
// to rank 2i + 1, which reduces it in, and wait. The p ranks left are virtual ranks 0 .. p-1:
// rank 2v + 1 for v < f, which finishes blocks 2v and 2v + 1, and rank v + f above, which
// finishes its own block. Each virtual rank's blocks follow the previous one's, so any run of
// virtual ranks finishes a contiguous range of the input.
//
// Among them, exchange k (distance d = p/2, p/4, .. 1) halves the range of virtual ranks a
// rank is responsible for: the partner v ^ d gets the half it is responsible for and sends
// back the other, which this rank reduces into its partial. 6 ranks (p = 4, f = 2):
//
//   fold      0 -> 1, 2 -> 3          virtual ranks 0..3 = ranks 1, 3, 4, 5
//   d = 2     1 <-> 4: blocks 0-2 / 3-5     3 <-> 5: blocks 0-2 / 3-5
//   d = 1     1 <-> 3: blocks 0-1 / 2       4 <-> 5: block 4 / block 5
//   serve     1 -> 0: block 0, 3 -> 2: block 2
//
// Partials live in the work buffer (the input is never written), indexed like the input from
// the first range written there; the last exchange writes the rank's own block to the output.
// Each exchange reads what the previous one reduced, so it starts when all of that is done
// (a join): the halves shrink too fast for pipelining across exchanges to pay. The messages
// of an exchange are slices of its range, and in the last exchange a folded pair's range is
// cut at the block boundary first, so that every slice lands wholly in one block.

namespace {

struct Fold {
  int p = 1;       // the virtual ranks
  int folded = 0;  // pairs folded into one

  explicit Fold(int n) {
    while (p * 2 <= n) p *= 2;
    folded = n - p;
  }
  int rankOf(int v) const { return v < folded ? 2 * v + 1 : v + folded; }
  // -1 for the even rank of a pair (it has no virtual rank).
  int virtualOf(int rank) const {
    if (rank >= 2 * folded) return rank - folded;
    return rank % 2 == 1 ? rank / 2 : -1;
  }
  bool isPair(int v) const { return v < folded; }
  // The input range of the blocks virtual ranks [lo, hi) finish.
  Range elements(int lo, int hi, size_t count) const {
    const size_t first = static_cast<size_t>(firstBlock(lo));
    return {first * count, (static_cast<size_t>(firstBlock(hi)) - first) * count};
  }
  int firstBlock(int v) const { return v < folded ? 2 * v : v + folded; }
};

std::vector<Range> piecesOf(Range range, bool pair, size_t count, size_t sliceElements) {
  if (!pair) return slicesOf(range, sliceElements);
  std::vector<Range> pieces = slicesOf({range.offset, count}, sliceElements);
  for (const Range& part : slicesOf({range.offset + count, count}, sliceElements)) {
    pieces.push_back(part);
  }
  return pieces;
}

// Where this rank's partial results are: the input until it reduces anything, then the work
// buffer, whose element 0 stands for input element `base`.
struct Partial {
  BufferRole role = BufferRole::kInput;
  size_t base = 0;

  Range at(Range inInput) const {
    return role == BufferRole::kInput ? inInput : Range{inInput.offset - base, inInput.count};
  }
  // The first write to the work buffer sizes it: every later one lies inside.
  void moveToWork(Schedule& schedule, Range range) {
    if (role == BufferRole::kWork) return;
    role = BufferRole::kWork;
    base = range.offset;
    schedule.workElements = range.count;
  }
};

// The even rank of a pair: its input goes to the odd rank, its finished block comes back.
void appendHandOver(Schedule& schedule, const ScheduleShape& shape) {
  const size_t n = static_cast<size_t>(shape.size);
  std::vector<int32_t> sent;
  for (const Range& part : slicesOf({0, n * shape.count}, shape.sliceElements)) {
    sent.push_back(addSend(schedule, shape.rank + 1, BufferRole::kInput, part, kNoStep));
  }
  // In place the result overwrites the input's own block: only once the input has gone.
  const int32_t handed = schedule.join(sent);
  for (const Range& part : slicesOf({0, shape.count}, shape.sliceElements)) {
    const int32_t got = addRecv(schedule, shape.rank + 1, BufferRole::kOutput, part, handed);
    if (shape.average) addDivide(schedule, part, got);
  }
}

// The odd rank of a pair reduces its partner's input into its own (the partner's on the left:
// it is the lower rank); returns the join of those reductions.
int32_t appendFoldIn(Schedule& schedule, const ScheduleShape& shape, Partial& partial) {
  const Range everything{0, static_cast<size_t>(shape.size) * shape.count};
  partial.moveToWork(schedule, everything);
  std::vector<int32_t> reduced;
  for (const Range& part : slicesOf(everything, shape.sliceElements)) {
    reduced.push_back(addRecvReduce(schedule, shape.rank - 1, BufferRole::kInput, part,
                                    BufferRole::kWork, partial.at(part), true, kNoStep));
  }
  return schedule.join(reduced);
}

// A reduction of the last exchange: into the output (this rank's block) or into the work buffer
// (the block of the even rank of a pair, sent to it next).
struct Finished {
  Range target;
  int32_t step;
  bool mine;
};

}  // namespace

std::vector<int> recursiveHalvingPeers(int rank, int size) {
  const Fold fold(size);
  const int v = fold.virtualOf(rank);
  std::vector<int> peers;
  if (v < 0 || fold.isPair(v)) peers.push_back(rank ^ 1);
  if (v >= 0) {
    for (int d = 1; d < fold.p; d <<= 1) peers.push_back(fold.rankOf(v ^ d));
  }
  std::sort(peers.begin(), peers.end());
  return peers;
}

Schedule recursiveHalvingReduceScatter(const ScheduleShape& shape) {
  Schedule schedule;
  const size_t count = shape.count;
  const Range own{static_cast<size_t>(shape.rank) * count, count};  // in the input
  if (shape.size == 1) {
    if (!shape.inPlace) {
      addCopy(schedule, BufferRole::kInput, own, BufferRole::kOutput, {0, count}, kNoStep);
    }
    return schedule;
  }
  const Fold fold(shape.size);
  const int v = fold.virtualOf(shape.rank);
  if (v < 0) {
    appendHandOver(schedule, shape);
    return schedule;
  }
  Partial partial;
  int32_t ready = fold.isPair(v) ? appendFoldIn(schedule, shape, partial) : kNoStep;
  int lo = 0, hi = fold.p;  // the virtual ranks whose blocks this rank still reduces
  std::vector<Finished> finished;
  for (int d = fold.p / 2; d >= 1; d /= 2) {
    const int u = v ^ d;
    const int peer = fold.rankOf(u);
    const bool lower = v < u;
    const bool last = d == 1;
    const Range give = lower ? fold.elements(lo + d, hi, count) : fold.elements(lo, lo + d, count);
    if (lower) {
      hi = lo + d;
    } else {
      lo += d;
    }
    const Range keep = fold.elements(lo, hi, count);
    for (const Range& part : piecesOf(give, last && fold.isPair(u), count, shape.sliceElements)) {
      addSend(schedule, peer, partial.role, partial.at(part), ready);
    }
    const Partial from = partial;  // what this exchange reads
    // In the last exchange of a pair the first pieces are the even partner's block.
    const std::vector<Range> pieces =
        piecesOf(keep, last && fold.isPair(v), count, shape.sliceElements);
    const size_t theirs = fold.isPair(v) ? slicesPerPiece(count, 1, shape.sliceElements) : 0;
    std::vector<int32_t> reduced;
    for (size_t i = 0; i < pieces.size(); ++i) {
      const Range part = pieces[i];
      const bool mine = last && i >= theirs;
      if (!mine) partial.moveToWork(schedule, keep);
      const BufferRole into = mine ? BufferRole::kOutput : BufferRole::kWork;
      const Range target = mine ? Range{part.offset - own.offset, part.count} : partial.at(part);
      reduced.push_back(addRecvReduce(schedule, peer, from.role, from.at(part), into, target,
                                      peer < shape.rank, ready));
      if (last) finished.push_back({target, reduced.back(), mine});
    }
    if (!last) ready = schedule.join(reduced);
  }
  for (const Finished& piece : finished) {
    if (!piece.mine) {
      addSend(schedule, shape.rank - 1, BufferRole::kWork, piece.target, piece.step);
    } else if (shape.average) {
      addDivide(schedule, piece.target, piece.step);
    }
  }
  return schedule;
}

}  // namespace gccl
