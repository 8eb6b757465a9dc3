// Names the rank that went silent. In a ring or a tree every healthy rank ends up waiting on
// some neighbour, so "the peer I waited on" is the wrong answer whenever the silent rank is not
// that neighbour. When a wait reaches its timeout, this rank publishes a wait-for edge in the
// bootstrap store ("rank r, in operation #k, waits for ranks p, q"), then follows the edges the
// others publish for a short grace period: the first rank on the chain that is waited on but
// publishes nothing is the silent one; a chain that comes back to itself is a deadlock or a
// mismatch. Nothing runs while collectives progress: the store is only touched on failure.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/store.h"

namespace gccl {

// Wait-for edges of one operation: rank -> the ranks it waits for.
using WaitGraph = std::map<int, std::vector<int>>;

// The conclusion drawn from the edges seen (pure, for tests).
struct StallVerdict {
  enum class Kind { kSilentRank, kCycle, kUnknown };
  Kind kind = Kind::kUnknown;
  int silentRank = -1;
  std::vector<int> cycle;  // ranks in waiting order, first repeated at the end
  int waiters = 0;         // ranks whose edges lead to the silent rank
};

// From `self` along `edges`: the nearest rank reached that published nothing (absent from
// `edges`) is silent; when every reachable rank published, reaching a rank on the current
// path again is a cycle.
StallVerdict judgeStall(int self, const WaitGraph& edges);

class StallDiagnosis {
 public:
  StallDiagnosis(Store& store, int rank, int size, int timeoutMs);

  // Publishes this rank's host name, so that a verdict can name the silent rank's host.
  void publishHost();

  // Called on the driver thread when operation `sequence` made no progress for the timeout
  // while waiting for `waitedPeers`. Publishes the edge, gathers the others' for at most the
  // grace period, and returns the message the timeout error should carry; `peerLevel` is what
  // this rank alone can say (the peer it waited on), kept in the message as context. When the
  // store does not answer, the message is `peerLevel` plus the store's (and so rank 0's) silence.
  // `abandon` cuts it short (an abort from another thread): the peer-level message is returned.
  std::string diagnose(uint64_t sequence, const std::vector<int>& waitedPeers,
                       const std::string& peerLevel, const std::atomic<bool>& abandon);

  // Called when an operation fails otherwise (a notice, a closed connection) while waiting for
  // `waitedPeers`: this rank is not silent, and whoever follows the chain through it goes on.
  void publishWaiting(uint64_t sequence, const std::vector<int>& waitedPeers);

  // min(1 s, timeout / 4): the most a diagnosis adds to the failure time.
  int graceMs() const { return graceMs_; }

  // Whether the others may still need the store to diagnose, `lastProbe` being when a rank last
  // probed it. The store's host (rank 0) keeps serving while this holds, or a rank that timed
  // out a moment after it would find the store gone and could not name the silent rank:
  //  - never after a clean run (nothing failed here);
  //  - while probes keep coming (someone is walking the chain), up to two graces;
  //  - for a grace at least if this rank itself timed out: the others' timeouts are near.
  bool othersMayNeedStore(Clock::time_point lastProbe) const;

 private:
  enum class Lookup { kFound, kSilent, kStoreSilent, kAbandoned };
  Lookup awaitEdges(int rank, const Deadline& deadline, const std::atomic<bool>& abandon,
                    WaitGraph& edges);
  void gatherAll(const Deadline& deadline, WaitGraph& edges);
  std::string hostOf(int rank, const Deadline& deadline);

  Store& store_;
  const int rank_;
  const int size_;
  const int timeoutMs_;
  const int graceMs_;
  // Written by the driver thread, read by othersMayNeedStore() from the thread destroying
  // the communicator, which an abort lets run while the driver is still failing.
  std::atomic<bool> published_{false};  // a communicator fails once: one edge per rank
  std::atomic<bool> diagnosed_{false};  // this rank timed out and ran a diagnosis
  std::atomic<Clock::time_point> failedAt_{};
};

}  // namespace gccl
