// Timing several communicators' calls in one launch, taken in turn (allreduce_perf -a A,B,...
// and the tune), so that every algorithm is measured on the same CPUs, pages and minute.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

namespace gccl::perf {

// Several sources take turns in this many rounds (fewer with fewer iterations).
constexpr size_t kTurnRounds = 5;

// Times `iterations` calls of each of `sources` call sources, after `warmup` untimed calls of
// each; `call(k)` makes one call of source k and returns false when it failed (timing then
// stops: returns false). Fills times[k][i], this rank's microseconds.
//
// One source runs its calls back to back. Several take turns by blocks: in each round, every
// source makes an untimed call, then its share of the timed ones. A call's time on a rank that
// left the previous call early includes waiting for the ranks that left late: back to back,
// each algorithm pays for its own skew, as in a run of that algorithm alone, but the first call
// after another algorithm's would pay for that one's (the call after halving-doubling's ran
// 10% slower than the same schedule after its own: 4 ranks, 4 MiB). The untimed call takes it.
template <typename Call>
bool timeInTurns(size_t sources, int warmup, int iterations, Call&& call,
                 std::vector<std::vector<double>>& times) {
  for (int i = 0; i < warmup; ++i) {
    for (size_t k = 0; k < sources; ++k) {
      if (!call(k)) return false;
    }
  }
  const auto count = static_cast<size_t>(iterations);
  const bool takeTurns = sources > 1;
  const size_t rounds = takeTurns ? std::min(count, kTurnRounds) : 1;
  times.assign(sources, std::vector<double>(count));
  for (size_t round = 0; round < rounds; ++round) {
    for (size_t k = 0; k < sources; ++k) {
      if (takeTurns && !call(k)) return false;
      for (size_t i = round * count / rounds; i < (round + 1) * count / rounds; ++i) {
        const auto start = std::chrono::steady_clock::now();
        if (!call(k)) return false;
        times[k][i] =
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                .count();
      }
    }
  }
  return true;
}

}  // namespace gccl::perf
