#include "core/stall_diagnosis.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "base/socket.h"

namespace gccl {

namespace {

// Probing every rank's edge to count the waiters costs O(size) store requests per diagnosing
// rank; above this size the count comes from the edges the walk saw ("at least").
constexpr int kMaxRanksCounted = 128;
constexpr auto kPollInterval = std::chrono::milliseconds(10);
// A live store answers in microseconds, or in a few scheduler quanta on an oversubscribed
// machine; one that takes this long (beyond the grace) is silent.
constexpr int kRoundTripMs = 300;
// No probe for this long after a failure: nobody is diagnosing.
constexpr int kQuietMs = 200;

// The bound for one store request: the grace, but never less than a round trip, so that a
// probe made as the grace ends still gets its answer.
Deadline roundTrip(const Deadline& grace) {
  const Deadline minimum = Deadline::afterMs(kRoundTripMs);
  return grace.at() > minimum.at() ? grace : minimum;
}

// One key per rank, not per operation: ranks stall in different operations (a rank that
// finished #81 waits in #82 on one still in #81), and the chain runs across them. A
// communicator fails once, so each rank publishes at most once.
std::string edgeKey(int rank) {
  return strCat("stall/", rank);
}

std::string hostKey(int rank) {
  return strCat("host/", rank);
}

std::string encodeEdges(uint64_t sequence, const std::vector<int>& peers) {
  std::string text = strCat(sequence, " waits");
  for (int peer : peers) text += strCat(" ", peer);
  return text;
}

// Peers outside [0, size) are dropped: the store is the job's own, but a verdict must not
// index anything with a value it did not check.
std::vector<int> decodeEdges(const std::string& text, int size) {
  std::istringstream in(text);
  uint64_t sequence = 0;
  std::string word;
  std::vector<int> peers;
  if (!(in >> sequence >> word) || word != "waits") return peers;
  for (int peer; in >> peer;) {
    if (peer >= 0 && peer < size) peers.push_back(peer);
  }
  return peers;
}

// Ranks whose edges lead to `target` (directly or through others).
int countWaiters(const WaitGraph& edges, int target) {
  std::set<int> waiting;
  bool grew = true;
  while (grew) {
    grew = false;
    for (const auto& [rank, peers] : edges) {
      if (rank == target || waiting.count(rank) != 0) continue;
      for (int peer : peers) {
        if (peer == target || waiting.count(peer) != 0) {
          waiting.insert(rank);
          grew = true;
          break;
        }
      }
    }
  }
  return static_cast<int>(waiting.size());
}

// The nearest rank, along the edges from `self`, that published none: stopped, hung or gone.
// Sought before any cycle: a rank's edges name every peer it still expects something from, not
// only the one it is blocked on, so live ranks can appear to wait on each other beside the path
// to the silent one (halving-doubling meets its first partner again in its last stage).
std::optional<int> nearestSilent(int self, const WaitGraph& edges) {
  std::deque<int> queue{self};
  std::set<int> seen{self};
  while (!queue.empty()) {
    const int node = queue.front();
    queue.pop_front();
    const auto found = edges.find(node);
    if (found == edges.end()) return node;
    for (int peer : found->second) {
      if (seen.insert(peer).second) queue.push_back(peer);
    }
  }
  return std::nullopt;
}

// Depth first from `node` (every rank on the way published edges): true once a rank on the
// current path is reached again, `verdict` then holds the cycle.
bool walk(int node, const WaitGraph& edges, std::vector<int>& path, std::set<int>& done,
          StallVerdict& verdict) {
  const auto found = edges.find(node);
  path.push_back(node);
  for (int peer : found->second) {
    const auto onPath = std::find(path.begin(), path.end(), peer);
    if (onPath != path.end()) {
      verdict.kind = StallVerdict::Kind::kCycle;
      verdict.cycle.assign(onPath, path.end());
      verdict.cycle.push_back(peer);
      return true;
    }
    if (done.count(peer) != 0) continue;
    if (walk(peer, edges, path, done, verdict)) return true;
  }
  path.pop_back();
  done.insert(node);
  return false;
}

std::string describeCycle(const std::vector<int>& cycle) {
  std::string text;
  for (int rank : cycle) text += strCat(text.empty() ? "" : " -> ", rank);
  return text;
}

}  // namespace

StallVerdict judgeStall(int self, const WaitGraph& edges) {
  StallVerdict verdict;
  if (const std::optional<int> silent = nearestSilent(self, edges)) {
    verdict.kind = StallVerdict::Kind::kSilentRank;
    verdict.silentRank = *silent;
    verdict.waiters = countWaiters(edges, *silent);
    return verdict;
  }
  std::vector<int> path;
  std::set<int> done;
  walk(self, edges, path, done, verdict);
  return verdict;
}

StallDiagnosis::StallDiagnosis(Store& store, int rank, int size, int timeoutMs)
    : store_(store),
      rank_(rank),
      size_(size),
      timeoutMs_(timeoutMs),
      graceMs_(std::clamp(timeoutMs / 4, 1, 1000)) {}

void StallDiagnosis::publishHost() {
  store_.set(hostKey(rank_), localHostName());
}

void StallDiagnosis::publishWaiting(uint64_t sequence, const std::vector<int>& waitedPeers) {
  if (published_.load()) return;
  failedAt_.store(Clock::now());
  published_.store(true);
  store_.trySet(edgeKey(rank_), encodeEdges(sequence, waitedPeers), Deadline::afterMs(graceMs_));
}

StallDiagnosis::Lookup StallDiagnosis::awaitEdges(int rank, const Deadline& deadline,
                                                  const std::atomic<bool>& abandon,
                                                  WaitGraph& edges) {
  for (;;) {
    const StoreProbe probe = store_.probe(edgeKey(rank), roundTrip(deadline));
    if (probe.result == StoreProbe::Result::kNoAnswer) return Lookup::kStoreSilent;
    if (probe.result == StoreProbe::Result::kFound) {
      edges[rank] = decodeEdges(probe.value, size_);
      return Lookup::kFound;
    }
    if (deadline.expired()) return Lookup::kSilent;
    if (abandon.load(std::memory_order_relaxed)) return Lookup::kAbandoned;
    std::this_thread::sleep_for(kPollInterval);
  }
}

void StallDiagnosis::gatherAll(const Deadline& deadline, WaitGraph& edges) {
  if (size_ > kMaxRanksCounted) return;
  for (int rank = 0; rank < size_; ++rank) {
    if (edges.count(rank) != 0) continue;
    const StoreProbe probe = store_.probe(edgeKey(rank), deadline);
    if (probe.result == StoreProbe::Result::kNoAnswer) return;
    if (probe.result == StoreProbe::Result::kFound) edges[rank] = decodeEdges(probe.value, size_);
  }
}

std::string StallDiagnosis::hostOf(int rank, const Deadline& deadline) {
  const StoreProbe probe = store_.probe(hostKey(rank), deadline);
  if (probe.result != StoreProbe::Result::kFound) return "unknown";
  std::string host = probe.value.substr(0, 255);
  for (char& c : host) {
    if (c < ' ' || c > '~') c = '?';
  }
  return host;
}

bool StallDiagnosis::othersMayNeedStore(Clock::time_point lastProbe) const {
  if (!published_.load()) return false;
  const auto failedAt = failedAt_.load();
  const auto now = Clock::now();
  const auto grace = std::chrono::milliseconds(graceMs_);
  // A rank that timed out up to a grace after this one walks for a grace, then counts.
  if (now > failedAt + 2 * grace + std::chrono::milliseconds(2 * kRoundTripMs)) return false;
  if (diagnosed_.load() && now < failedAt + grace) return true;
  // Walkers probe every kPollInterval: a quiet store has nobody left walking.
  return now - std::max(lastProbe, failedAt) < std::chrono::milliseconds(kQuietMs);
}

std::string StallDiagnosis::diagnose(uint64_t sequence, const std::vector<int>& waitedPeers,
                                     const std::string& peerLevel,
                                     const std::atomic<bool>& abandon) {
  diagnosed_.store(true);
  const Deadline deadline = Deadline::afterMs(graceMs_);
  // The store is served by a thread of rank 0's process: if it is silent too, rank 0 is
  // stopped or unreachable, though the ranks between it and this one cannot be told apart.
  const std::string storeSilent =
      strCat(peerLevel, "; the bootstrap store (rank 0, at ", store_.location(),
             ") does not answer either: rank 0 is stopped or unreachable");
  publishWaiting(sequence, waitedPeers);
  WaitGraph edges;
  edges[rank_] = waitedPeers;
  // Follow the chain, waiting (up to the grace) for each rank on it to publish. The verdict
  // needs only the edges on the path; judgeStall then walks what was gathered.
  StallVerdict verdict;
  for (;;) {
    verdict = judgeStall(rank_, edges);
    if (verdict.kind != StallVerdict::Kind::kSilentRank) break;
    const Lookup lookup = awaitEdges(verdict.silentRank, deadline, abandon, edges);
    if (lookup == Lookup::kStoreSilent) return storeSilent;
    if (lookup == Lookup::kAbandoned) return peerLevel;
    if (lookup == Lookup::kSilent) break;
  }
  if (verdict.kind == StallVerdict::Kind::kCycle) {
    return strCat("ranks ", describeCycle(verdict.cycle),
                  " wait for each other (a mismatched collective or a deadlock); ", peerLevel);
  }
  if (verdict.kind != StallVerdict::Kind::kSilentRank) return peerLevel;
  // Counting the waiters and naming the host take one more bounded round of probes.
  const Deadline extra = roundTrip(deadline);
  gatherAll(extra, edges);
  verdict = judgeStall(rank_, edges);
  if (verdict.kind != StallVerdict::Kind::kSilentRank) return peerLevel;
  const int silent = verdict.silentRank;
  const std::string counted = size_ > kMaxRanksCounted ? "at least " : "";
  return strCat("rank ", silent, " (host ", hostOf(silent, extra),
                ") stopped responding: no progress and no report for ", timeoutMs_, " ms; ",
                counted, verdict.waiters, verdict.waiters == 1 ? " rank waits" : " ranks wait",
                " on it (this rank: ", peerLevel, ")");
}

}  // namespace gccl
