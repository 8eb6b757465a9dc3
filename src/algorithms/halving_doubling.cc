#include "algorithms/halving_doubling.h"

#include <bit>
#include <optional>

#include "algorithms/partition.h"
#include "algorithms/steps.h"

namespace gccl {

namespace {

// Ranks 2i and 2i+1 (i < extra) fold into one: 2i+1 takes part, as virtual rank i. Every rank
// from 2 x extra on takes part as virtual rank (rank - extra).
struct Fold {
  int virtualSize;  // p: a power of two
  int extra;        // n - p
  int rank;

  explicit Fold(int size, int rank)
      : virtualSize(static_cast<int>(std::bit_floor(static_cast<unsigned>(size)))),
        extra(size - virtualSize),
        rank(rank) {}

  bool foldedOut() const { return rank < 2 * extra && rank % 2 == 0; }
  bool foldsIn() const { return rank < 2 * extra && rank % 2 == 1; }
  int virtualRank() const { return rank < 2 * extra ? rank / 2 : rank - extra; }
  int realRank(int v) const { return v < extra ? 2 * v + 1 : v + extra; }
};

// The elements of blocks [first, last) when the buffer is split into `blocks` balanced blocks.
Range blockSpan(size_t count, int blocks, int first, int last) {
  const Range a = balancedPiece(count, static_cast<size_t>(blocks), static_cast<size_t>(first));
  const Range b = balancedPiece(count, static_cast<size_t>(blocks), static_cast<size_t>(last - 1));
  return {a.offset, b.end() - a.offset};
}

// Builds one rank's schedule; every exchange starts after the whole previous one (a join), so
// no step reads or overwrites memory an earlier exchange still uses.
class Builder {
 public:
  explicit Builder(const ScheduleShape& shape) : shape_(shape), fold_(shape.size, shape.rank) {}

  Schedule build() {
    if (shape_.size == 1) {
      if (!shape_.inPlace) copyWhole();
      return std::move(schedule_);
    }
    const Range whole{0, shape_.count};
    const int partner = shape_.rank + (fold_.foldedOut() ? 1 : -1);
    if (fold_.foldedOut()) {
      // Hand the buffer over, then wait for the result.
      exchange(partner, whole, BufferRole::kInput, std::nullopt, StepKind::kRecv);
      exchange(partner, std::nullopt, BufferRole::kInput, whole, StepKind::kRecv);
      return std::move(schedule_);
    }
    if (fold_.foldsIn()) {
      exchange(partner, std::nullopt, BufferRole::kInput, whole, StepKind::kRecvReduce);
    }
    reduceScatter();
    allgather();
    if (fold_.foldsIn()) {
      exchange(partner, whole, BufferRole::kOutput, std::nullopt, StepKind::kRecv);
    }
    return std::move(schedule_);
  }

 private:
  // Recursive halving: the highest bit of the virtual rank first, so virtual rank v ends with
  // block v of p fully reduced.
  void reduceScatter() {
    const int p = fold_.virtualSize, v = fold_.virtualRank();
    int lo = 0, hi = p;
    for (int distance = p / 2; distance >= 1; distance /= 2) {
      const int mid = lo + (hi - lo) / 2;
      const bool lower = (v & distance) == 0;
      const Range keep =
          lower ? blockSpan(shape_.count, p, lo, mid) : blockSpan(shape_.count, p, mid, hi);
      const Range give =
          lower ? blockSpan(shape_.count, p, mid, hi) : blockSpan(shape_.count, p, lo, mid);
      // The last exchange leaves block v reduced: an average divides it there, slice by slice.
      exchange(fold_.realRank(v ^ distance), give, current_, keep, StepKind::kRecvReduce,
               shape_.average && distance == 1);
      (lower ? hi : lo) = mid;
    }
  }

  // Recursive doubling: the blocks a rank holds double with every exchange.
  void allgather() {
    const int p = fold_.virtualSize, v = fold_.virtualRank();
    for (int distance = 1; distance < p; distance *= 2) {
      const int mine = v & ~(distance - 1);
      const int theirs = (v ^ distance) & ~(distance - 1);
      exchange(fold_.realRank(v ^ distance), blockSpan(shape_.count, p, mine, mine + distance),
               BufferRole::kOutput, blockSpan(shape_.count, p, theirs, theirs + distance),
               StepKind::kRecv);
    }
  }

  // Sends `give` of `from` and receives `take` into the output (reducing it with the partial
  // so far when `receive` is kRecvReduce, then dividing each reduced slice when `divide`),
  // both sliced. An empty range is still a message (so a mismatch is always seen); an absent
  // one is none.
  void exchange(int peer, std::optional<Range> give, BufferRole from, std::optional<Range> take,
                StepKind receive, bool divide = false) {
    std::vector<int32_t> steps;
    if (give) {
      for (const Range part : slicesOf(*give, shape_.sliceElements)) {
        steps.push_back(addSend(schedule_, peer, from, part, previous_));
      }
    }
    if (take) {
      for (const Range part : slicesOf(*take, shape_.sliceElements)) {
        // The lower ranks' partial on the left.
        int32_t received = receive == StepKind::kRecvReduce
                               ? addRecvReduce(schedule_, peer, current_, part, BufferRole::kOutput,
                                               part, peer < shape_.rank, previous_)
                               : addRecv(schedule_, peer, BufferRole::kOutput, part, previous_);
        if (divide) received = addDivide(schedule_, part, received);
        steps.push_back(received);
      }
      if (receive == StepKind::kRecvReduce) current_ = BufferRole::kOutput;
    }
    previous_ = schedule_.join(steps);
  }

  void copyWhole() {
    const Range whole{0, shape_.count};
    addCopy(schedule_, BufferRole::kInput, whole, BufferRole::kOutput, whole, kNoStep);
  }

  const ScheduleShape& shape_;
  const Fold fold_;
  Schedule schedule_;
  BufferRole current_ = BufferRole::kInput;  // where the partial result is
  int32_t previous_ = kNoStep;               // the last exchange, joined
};

}  // namespace

std::vector<int> halvingDoublingPeers(int rank, int size) {
  const Fold fold(size, rank);
  if (fold.foldedOut()) return {rank + 1};
  std::vector<int> peers;
  if (fold.foldsIn()) peers.push_back(rank - 1);
  for (int distance = 1; distance < fold.virtualSize; distance *= 2) {
    peers.push_back(fold.realRank(fold.virtualRank() ^ distance));
  }
  return peers;
}

Schedule halvingDoublingAllreduce(const ScheduleShape& shape) {
  return Builder(shape).build();
}

}  // namespace gccl
