#include "algorithms/all_to_all.h"

#include <algorithm>
#include <bit>

#include "algorithms/partition.h"
#include "algorithms/steps.h"
#include "base/error.h"

namespace gccl {

namespace {

int wrap(long long value, int size) {
  const long long m = value % size;
  return static_cast<int>(m < 0 ? m + size : m);
}

// Rank p's block of either buffer.
Range blockOf(int p, size_t count) {
  return {static_cast<size_t>(p) * count, count};
}

}  // namespace

bool pairwiseAllToAllSupports(const ScheduleShape& shape) {
  return shape.size <= kMaxPairwiseAllToAllRanks;
}

std::vector<int> pairwiseAllToAllPeers(const ScheduleShape& shape) {
  std::vector<int> peers;
  for (int i = 1; i < shape.size; ++i) peers.push_back(wrap(shape.rank + i, shape.size));
  return peers;
}

// Out of place nothing waits: the receives write the output, the sends read the input. In
// place a receive would overwrite a block still to be sent (rank r - i's block lands where
// r - i's own block waits for its round), so the sends read a copy and the receives wait for it.
Schedule pairwiseAllToAll(const ScheduleShape& shape) {
  Schedule schedule;
  const int n = shape.size;
  const int r = shape.rank;
  const size_t c = shape.count;
  BufferRole sendFrom = BufferRole::kInput;
  int32_t copied = kNoStep;
  if (shape.inPlace) {
    const Range all{0, static_cast<size_t>(n) * c};
    schedule.workElements = all.count;
    copied = addCopy(schedule, BufferRole::kInput, all, BufferRole::kWork, all, kNoStep);
    sendFrom = BufferRole::kWork;
  } else {
    addCopy(schedule, BufferRole::kInput, blockOf(r, c), BufferRole::kOutput, blockOf(r, c),
            kNoStep);
  }
  // Round i pairs r with r + i (to) and r - i (from), so that no rank is every rank's first.
  for (int i = 1; i < n; ++i) {
    const int to = wrap(r + i, n);
    const int from = wrap(r - i, n);
    for (const Range& part : slicesOf(blockOf(to, c), shape.sliceElements)) {
      addSend(schedule, to, sendFrom, part, copied);
    }
    for (const Range& part : slicesOf(blockOf(from, c), shape.sliceElements)) {
      addRecv(schedule, from, BufferRole::kOutput, part, copied);
    }
  }
  return schedule;
}

// The work buffer holds n slots, slot i the block at distance i: first this rank's block for
// rank r + i (a rotated copy of the input), and once it has arrived, rank r - i's block for
// this rank. Blocks keep their slot as they travel: a block at distance i sits in slot i of
// every rank it passes through. Round k (d = 2^k) moves the slots whose index has bit k set,
// runs of d slots from slot d on, to r + d, and receives the same slots from r - d.
//
// A round is one message each way (cut into slices): the runs are packed into a send area,
// and what arrives lands in a receive area, from which it is unpacked into the same slots. The
// receive waits for nothing of its own round: waiting for the send instead (to refill the
// slots it reads) would wait for the receiver, whose receive would wait for its own send, a
// cycle through every rank. A round starts once the round before has sent and unpacked.
Schedule bruckAllToAll(const ScheduleShape& shape) {
  Schedule schedule;
  const int n = shape.size;
  const int r = shape.rank;
  const size_t c = shape.count;
  const size_t total = static_cast<size_t>(n) * c;
  const auto slots = [&](int first, int end) {
    return Range{static_cast<size_t>(first) * c, static_cast<size_t>(end - first) * c};
  };
  const auto runsOf = [&](int d) {
    std::vector<std::pair<int, int>> runs;  // [first, end) slots
    for (int first = d; first < n; first += 2 * d) runs.emplace_back(first, std::min(first + d, n));
    return runs;
  };
  size_t packSlots = 0;
  for (int d = 1; d < n; d <<= 1) {
    size_t moved = 0;
    for (const auto& [first, end] : runsOf(d)) moved += static_cast<size_t>(end - first);
    packSlots = std::max(packSlots, moved);
  }
  const size_t sendArea = total;
  const size_t receiveArea = total + packSlots * c;
  schedule.workElements = total + 2 * packSlots * c;

  // Slot i = input block r + i: input blocks r.. n-1, then 0 .. r-1.
  std::vector<int32_t> rotated = {addCopy(schedule, BufferRole::kInput, slots(r, n),
                                          BufferRole::kWork, slots(0, n - r), kNoStep)};
  if (r > 0) {
    rotated.push_back(addCopy(schedule, BufferRole::kInput, slots(0, r), BufferRole::kWork,
                              slots(n - r, n), kNoStep));
  }
  int32_t previousRound = schedule.join(rotated);
  for (int d = 1; d < n; d <<= 1) {
    const std::vector<std::pair<int, int>> runs = runsOf(d);
    std::vector<int32_t> packs;
    size_t packed = 0;
    for (const auto& [first, end] : runs) {
      const Range run = slots(first, end);
      packs.push_back(addCopy(schedule, BufferRole::kWork, run, BufferRole::kWork,
                              {sendArea + packed, run.count}, previousRound));
      packed += run.count;
    }
    const int32_t allPacked = schedule.join(packs);
    std::vector<int32_t> roundDone;
    for (const Range& part : slicesOf({sendArea, packed}, shape.sliceElements)) {
      roundDone.push_back(addSend(schedule, wrap(r + d, n), BufferRole::kWork, part, allPacked));
    }
    std::vector<int32_t> received;
    for (const Range& part : slicesOf({receiveArea, packed}, shape.sliceElements)) {
      received.push_back(addRecv(schedule, wrap(r - d, n), BufferRole::kWork, part, previousRound));
    }
    // Into the slots once they have been packed (read) and the message is in.
    const int32_t unpackAfter = schedule.join({allPacked, schedule.join(received)});
    size_t unpacked = 0;
    for (const auto& [first, end] : runs) {
      const Range run = slots(first, end);
      roundDone.push_back(addCopy(schedule, BufferRole::kWork, {receiveArea + unpacked, run.count},
                                  BufferRole::kWork, run, unpackAfter));
      unpacked += run.count;
    }
    previousRound = schedule.join(roundDone);
  }
  // Slot i holds rank r - i's block for this rank. (In place, the rotation has read the input
  // long before: every round waits for it.)
  for (int i = 0; i < n; ++i) {
    addCopy(schedule, BufferRole::kWork, slots(i, i + 1), BufferRole::kOutput,
            blockOf(wrap(r - i, n), c), previousRound);
  }
  return schedule;
}

// In place the blocks of the output go out from copies packed in the work buffer (every one
// but this rank's own, which stays), taken before any receive overwrites them.
Schedule pairwiseAllToAllV(const ScheduleShape& shape) {
  Schedule schedule;
  const int n = shape.size;
  const int r = shape.rank;
  // An empty block's displacement may be anything: its range is 0 elements at 0.
  const auto blockIn = [](const std::vector<Range>& blocks, int p) {
    const Range block = blocks[static_cast<size_t>(p)];
    return block.count == 0 ? Range{} : block;
  };
  std::vector<Range> sendBlocks(static_cast<size_t>(n));
  BufferRole sendFrom = BufferRole::kInput;
  int32_t copied = kNoStep;
  if (shape.inPlace) {
    std::vector<int32_t> copies;
    size_t packed = 0;
    for (int p = 0; p < n; ++p) {
      const Range block = blockIn(shape.blocks, p);
      if (p == r || block.count == 0) continue;
      sendBlocks[static_cast<size_t>(p)] = {packed, block.count};
      copies.push_back(addCopy(schedule, BufferRole::kOutput, block, BufferRole::kWork,
                               {packed, block.count}, kNoStep));
      packed += block.count;
    }
    schedule.workElements = packed;
    copied = schedule.join(copies);
    sendFrom = BufferRole::kWork;
  } else {
    for (int p = 0; p < n; ++p) sendBlocks[static_cast<size_t>(p)] = blockIn(shape.sendBlocks, p);
    if (blockIn(shape.blocks, r).count > 0) {
      addCopy(schedule, BufferRole::kInput, sendBlocks[static_cast<size_t>(r)], BufferRole::kOutput,
              blockIn(shape.blocks, r), kNoStep);
    }
  }
  // The rounds of the equal-block exchange: r + i gets its block, r - i's arrives.
  for (int i = 1; i < n; ++i) {
    const int to = wrap(r + i, n);
    const int from = wrap(r - i, n);
    for (const Range& part : slicesOf(sendBlocks[static_cast<size_t>(to)], shape.sliceElements)) {
      addSend(schedule, to, sendFrom, part, copied);
    }
    for (const Range& part : slicesOf(blockIn(shape.blocks, from), shape.sliceElements)) {
      addRecv(schedule, from, BufferRole::kOutput, part, copied);
    }
  }
  return schedule;
}

namespace {

size_t saturatingAdd(size_t a, size_t b) {
  return b > SIZE_MAX - a ? SIZE_MAX : a + b;
}

// What Bruck's alltoallv rounds move, from every pair's count, the same on every rank. Before
// round d (rounds 1, 2 .. d/2 done) the block at distance i has travelled i mod d, so slot i
// of rank q holds the block that q - (i mod d) sends to q - (i mod d) + i. Sender and receiver
// of a round thus compute the same message length.
class BruckBlocks {
 public:
  BruckBlocks(const std::vector<size_t>& pairCounts, int size)
      : pairCounts_(pairCounts), size_(size) {}

  size_t held(int q, int i, int d) const {
    const int from = wrap(static_cast<long long>(q) - i % d, size_);
    return sends(from, wrap(from + i, size_));
  }
  // Round d's message from q: the slots whose index has bit d, as they are before it
  // (saturating: the counts come from other ranks).
  size_t messageLength(int q, int d) const {
    size_t length = 0;
    for (int i = d; i < size_; ++i)
      length = saturatingAdd(length, (i & d) != 0 ? held(q, i, d) : 0);
    return length;
  }
  size_t sends(int from, int to) const {
    return pairCounts_[static_cast<size_t>(from) * static_cast<size_t>(size_) +
                       static_cast<size_t>(to)];
  }

 private:
  const std::vector<size_t>& pairCounts_;
  const int size_;
};

}  // namespace

// Block by block: the block s sends s + i goes out in each round d whose bit i has, from
// where it lies then, s + (i mod d).
BusiestRelay bruckAllToAllVBusiest(const std::vector<size_t>& pairCounts, int size) {
  const BruckBlocks blocks(pairCounts, size);
  std::vector<size_t> sent(static_cast<size_t>(size));
  for (int s = 0; s < size; ++s) {
    for (int i = 1; i < size; ++i) {
      const size_t count = blocks.sends(s, wrap(s + i, size));
      for (int d = 1; d <= i; d <<= 1) {
        if ((i & d) == 0) continue;
        size_t& holder = sent[static_cast<size_t>(wrap(s + i % d, size))];
        holder = saturatingAdd(holder, count);
      }
    }
  }
  const auto busiest = std::max_element(sent.begin(), sent.end());
  return {static_cast<int>(busiest - sent.begin()), *busiest};
}

namespace {

// The rank's own blocks must be the pair counts' (the communicator gathered them from these).
void checkBlocksAgainst(const BruckBlocks& bruck, const ScheduleShape& shape) {
  const std::vector<Range>& sent = shape.inPlace ? shape.blocks : shape.sendBlocks;
  const int r = shape.rank;
  for (int p = 0; p < shape.size; ++p) {
    const size_t fromHere = sent[static_cast<size_t>(p)].count;
    const size_t toHere = shape.blocks[static_cast<size_t>(p)].count;
    if (fromHere != bruck.sends(r, p) || toHere != bruck.sends(p, r)) {
      fail(Status::kInternalError, "alltoallv on rank ", r, ": the blocks to and from rank ", p,
           " (", fromHere, ", ", toHere, " elements) differ from the pair counts (",
           bruck.sends(r, p), ", ", bruck.sends(p, r), ")");
    }
  }
}

// Where rank r's slots and its two message areas lie in its work buffer. Slot i is as large
// as the largest block it ever holds (after the last round, d = bit_ceil(n) > i, rank r - i's
// block for r); each area as the largest message r sends or receives.
struct BruckWork {
  std::vector<size_t> slotAt;
  size_t sendArea = 0;
  size_t receiveArea = 0;
  size_t end = 0;

  BruckWork(const BruckBlocks& bruck, int r, int n) {
    const int last = static_cast<int>(std::bit_ceil(static_cast<unsigned>(n)));
    size_t slotsEnd = 0;
    for (int i = 0; i < n; ++i) {
      slotAt.push_back(slotsEnd);
      size_t capacity = 0;
      for (int d = 1; d <= last; d <<= 1) capacity = std::max(capacity, bruck.held(r, i, d));
      slotsEnd += capacity;
    }
    size_t area = 0;
    for (int d = 1; d < n; d <<= 1) {
      area = std::max({area, bruck.messageLength(r, d), bruck.messageLength(wrap(r - d, n), d)});
    }
    sendArea = slotsEnd;
    receiveArea = sendArea + area;
    end = receiveArea + area;
  }
  Range slot(int i, size_t count) const { return {slotAt[static_cast<size_t>(i)], count}; }
};

// Round d on rank r: the slots with bit d packed into one message to r + d, r - d's message
// received and unpacked into the same slots. Returns the step that ends the round.
int32_t addBruckRound(Schedule& schedule, const BruckBlocks& bruck, const BruckWork& work,
                      const ScheduleShape& shape, int d, int32_t previousRound) {
  const int n = shape.size;
  const int r = shape.rank;
  std::vector<int32_t> packs;
  size_t packed = 0;
  for (int i = d; i < n; ++i) {
    const size_t length = (i & d) != 0 ? bruck.held(r, i, d) : 0;
    if (length == 0) continue;
    packs.push_back(addCopy(schedule, BufferRole::kWork, work.slot(i, length), BufferRole::kWork,
                            {work.sendArea + packed, length}, previousRound));
    packed += length;
  }
  const int32_t allPacked = schedule.join(packs);
  // A round may pack or unpack nothing here (empty blocks): it still ends after the round
  // before it, or the next one's packs could overtake that round's unpacks.
  std::vector<int32_t> roundDone = {previousRound};
  for (const Range& part : slicesOf({work.sendArea, packed}, shape.sliceElements)) {
    roundDone.push_back(addSend(schedule, wrap(r + d, n), BufferRole::kWork, part, allPacked));
  }
  const int from = wrap(r - d, n);
  std::vector<int32_t> received;
  for (const Range& part :
       slicesOf({work.receiveArea, bruck.messageLength(from, d)}, shape.sliceElements)) {
    received.push_back(addRecv(schedule, from, BufferRole::kWork, part, previousRound));
  }
  roundDone.insert(roundDone.end(), received.begin(), received.end());
  // As in bruckAllToAll: into the slots once they have been packed and the message is in.
  const int32_t unpackAfter = schedule.join({allPacked, schedule.join(received)});
  size_t unpacked = 0;
  for (int i = d; i < n; ++i) {
    const size_t length = (i & d) != 0 ? bruck.held(from, i, d) : 0;
    if (length == 0) continue;
    roundDone.push_back(addCopy(schedule, BufferRole::kWork, {work.receiveArea + unpacked, length},
                                BufferRole::kWork, work.slot(i, length), unpackAfter));
    unpacked += length;
  }
  return schedule.join(roundDone);
}

}  // namespace

// Bruck's rounds (bruckAllToAll) with blocks of any size (BruckBlocks). Slot i still holds the
// block at distance i, but each slot is as large as the largest block it ever holds on this
// rank, and a round packs and unpacks block by block.
Schedule bruckAllToAllV(const ScheduleShape& shape) {
  const int n = shape.size;
  const int r = shape.rank;
  const size_t ranks = static_cast<size_t>(n);
  if (shape.pairCounts == nullptr || shape.pairCounts->size() != ranks * ranks) {
    fail(Status::kInternalError, "alltoallv on rank ", r, ": Bruck's schedule without the ", ranks,
         " x ", ranks, " pair counts");
  }
  const BruckBlocks bruck(*shape.pairCounts, n);
  checkBlocksAgainst(bruck, shape);
  const BruckWork work(bruck, r, n);
  Schedule schedule;
  schedule.workElements = work.end;
  // In place the blocks to send are the output's (the input is not a buffer of its own);
  // every round, and so every write to the output, waits for these copies.
  const std::vector<Range>& sent = shape.inPlace ? shape.blocks : shape.sendBlocks;
  const BufferRole sentFrom = shape.inPlace ? BufferRole::kOutput : BufferRole::kInput;
  std::vector<int32_t> loaded;
  for (int i = 0; i < n; ++i) {
    const Range block = sent[static_cast<size_t>(wrap(r + i, n))];
    if (block.count == 0) continue;
    loaded.push_back(
        addCopy(schedule, sentFrom, block, BufferRole::kWork, work.slot(i, block.count), kNoStep));
  }
  int32_t previousRound = schedule.join(loaded);
  for (int d = 1; d < n; d <<= 1) {
    previousRound = addBruckRound(schedule, bruck, work, shape, d, previousRound);
  }
  for (int i = 0; i < n; ++i) {
    const Range block = shape.blocks[static_cast<size_t>(wrap(r - i, n))];
    if (block.count == 0) continue;
    addCopy(schedule, BufferRole::kWork, work.slot(i, block.count), BufferRole::kOutput, block,
            previousRound);
  }
  return schedule;
}

}  // namespace gccl
