#include "bootstrap/locality.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <bitset>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <vector>

#include "base/config.h"
#include "base/error.h"
#include "base/socket.h"

namespace gccl {
namespace {

using CpuSet = std::bitset<CPU_SETSIZE>;
constexpr size_t kMaskDigits = CPU_SETSIZE / 4;

CpuSet parseMask(const std::string& hex) {
  CpuSet cpus;
  if (hex.size() != kMaskDigits) fail(Status::kRemoteError, "malformed CPU mask in the store");
  for (size_t i = 0; i < kMaskDigits; ++i) {
    const char c = hex[kMaskDigits - 1 - i];
    int nibble = 0;
    if (c >= '0' && c <= '9') {
      nibble = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      nibble = c - 'a' + 10;
    } else {
      fail(Status::kRemoteError, "malformed CPU mask in the store");
    }
    for (int bit = 0; bit < 4; ++bit) cpus[i * 4 + static_cast<size_t>(bit)] = (nibble >> bit) & 1;
  }
  return cpus;
}

std::string machineKey(int rank) {
  return strCat("locality/machine/", rank);
}

std::string shareKey(int rank) {
  return strCat("locality/share/", rank);
}

constexpr const char* kHostsKey = "locality/hosts";
constexpr const char* kSizeKey = "locality/size";  // rank 0's nranks
// An answer starting with this carries rank 0's reason for failing the census.
constexpr char kRefusal = '!';

// A census key, or a timeout that names who is missing instead of the key.
std::string awaited(Store& store, const std::string& key, const Deadline& deadline,
                    const std::string& missing) {
  try {
    return store.get(key, deadline);
  } catch (const Error& e) {
    if (e.status() != Status::kTimeout) throw;
    fail(Status::kTimeout, missing, " within GCCL_TIMEOUT_MS (", e.what(), ")");
  }
}

// This process, as it signs its census entry: "<pid>@<host>#<random>". Two processes started
// as the same rank (a launcher's mistake, or two jobs on one derived token) overwrite each
// other's entry, and the one whose entry is gone finds out.
std::string processClaim() {
  std::random_device random;
  return strCat(::getpid(), "@", localHostName(), "#", random(), random());
}

// "pid 1234@node7" from a claim.
std::string claimant(const std::string& claim) {
  return strCat("pid ", claim.substr(0, claim.find('#')));
}

std::string sizeMismatch(int rank, int size, int rootSize) {
  return strCat("rank ", rank, " was started with nranks ", size, ", rank 0 with nranks ", rootSize,
                ": every rank must pass the same nranks");
}

// "H" for one host, else "H h0 h1 ... h(n-1)".
std::vector<int> parseHosts(const std::string& text, int size) {
  std::istringstream in(text);
  int hosts = 0;
  in >> hosts;
  std::vector<int> hostOf;
  for (int host = 0; in >> host;) {
    if (host < 0 || host >= hosts) break;
    hostOf.push_back(host);
  }
  const bool valid = hosts >= 1 && in.eof() &&
                     (hosts == 1 ? hostOf.empty() : hostOf.size() == static_cast<size_t>(size));
  if (!valid) fail(Status::kRemoteError, "malformed host map in the store");
  return hostOf;
}

}  // namespace

std::string machineId() {
  std::ifstream bootId("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (!(bootId >> id) || id.empty()) id = localHostName();
  // Network namespaces of one kernel cannot reach each other's abstract Unix sockets (shared
  // memory's doorbells): a rank in another namespace is another machine to the transports.
  std::error_code ignored;
  const std::string network = std::filesystem::read_symlink("/proc/self/ns/net", ignored);
  const size_t open = network.find('['), close = network.find(']');
  if (open != std::string::npos && close > open) {
    id.push_back('/');
    id.append(network, open + 1, close - open - 1);
  }
  return id;
}

std::string cpuMaskHex() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CpuSet cpus;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    for (size_t cpu = 0; cpu < CPU_SETSIZE; ++cpu) cpus[cpu] = CPU_ISSET(cpu, &set);
  } else {
    cpus[0] = true;
  }
  std::string hex(kMaskDigits, '0');
  for (size_t i = 0; i < kMaskDigits; ++i) {
    int nibble = 0;
    for (int bit = 0; bit < 4; ++bit) nibble |= cpus[i * 4 + static_cast<size_t>(bit)] << bit;
    hex[kMaskDigits - 1 - i] = "0123456789abcdef"[nibble];
  }
  return hex;
}

MachineShare shareOfMachine(Store& store, int rank, int size, const Deadline& deadline,
                            const std::string& hostId, const std::string& settings) {
  const std::string machine = machineId();
  const std::string claim = processClaim();
  const std::string mySettings = settings.empty() ? "-" : settings;
  if (rank == 0) store.set(kSizeKey, strCat(size));
  store.set(machineKey(rank), strCat(machine, " ", hostId.empty() ? machine : hostId, " ",
                                     cpuMaskHex(), " ", size, " ", mySettings, " ", claim));
  // Ranks that disagree on nranks would wait for ranks that never come, or connect to the
  // wrong ones: each checks rank 0's, and rank 0 checks everyone's it waits for.
  if (rank != 0) {
    const std::string rootSize =
        awaited(store, kSizeKey, deadline, "rank 0 has not started the machine census");
    if (rootSize != strCat(size)) {
      fail(Status::kInvalidUsage, sizeMismatch(rank, size, std::atoi(rootSize.c_str())));
    }
  }
  if (rank == 0) {
    const auto refuse = [&](const std::string& reason) {
      for (int other = 1; other < size; ++other) store.set(shareKey(other), kRefusal + reason);
      fail(Status::kInvalidUsage, reason);
    };
    std::vector<std::string> machineOf(static_cast<size_t>(size));
    std::map<std::string, int> hostIndex;
    std::string hostMap;
    struct Machine {
      std::vector<int> ranks;
      CpuSet cpus;
    };
    std::map<std::string, Machine> machines;
    for (int r = 0; r < size; ++r) {
      std::istringstream entry(
          awaited(store, machineKey(r), deadline, strCat("rank ", r, " has not joined the job")));
      std::string host, mask, theirSettings, signedBy;
      int rankSize = 0;
      if (!(entry >> machineOf[r] >> host >> mask >> rankSize >> theirSettings >> signedBy) ||
          !(entry >> std::ws).eof())
        fail(Status::kRemoteError, "malformed locality entry of rank ", r);
      if (rankSize != size) refuse(sizeMismatch(r, rankSize, size));
      if (theirSettings != mySettings) {
        refuse(strCat("rank ", r, " was started with ", theirSettings, ", rank 0 with ", mySettings,
                      ": every rank must set these alike"));
      }
      Machine& machine = machines[machineOf[r]];
      machine.ranks.push_back(r);
      machine.cpus |= parseMask(mask);
      const auto index = hostIndex.try_emplace(host, static_cast<int>(hostIndex.size())).first;
      hostMap += strCat(" ", index->second);
    }
    store.set(kHostsKey, hostIndex.size() == 1 ? "1" : strCat(hostIndex.size(), hostMap));
    // Each answer lists only the ranks of that rank's machine: O(ranks per machine) bytes each,
    // not O(size). (The host map is O(size) for every rank, but only when the job spans
    // several hosts, where the hierarchy needs it: 8 KiB per rank at 4096 ranks.)
    for (int r = 0; r < size; ++r) {
      const Machine& machine = machines[machineOf[r]];
      std::string answer = strCat(machine.cpus.count());
      for (int local : machine.ranks) answer += strCat(" ", local);
      store.set(shareKey(r), answer);
    }
  }
  const std::string text = awaited(store, shareKey(rank), deadline,
                                   strCat("rank 0 has not heard from every rank (one of the ", size,
                                          " has not started, or was given another unique id)"));
  if (!text.empty() && text[0] == kRefusal) fail(Status::kInvalidUsage, text.substr(1));
  std::istringstream answer(text);
  MachineShare share;
  share.cpus = 0;
  answer >> share.cpus;
  for (int local = 0; answer >> local;) {
    if (local < 0 || local >= size) break;
    share.localRanks.push_back(local);
  }
  const bool listsItself =
      std::find(share.localRanks.begin(), share.localRanks.end(), rank) != share.localRanks.end();
  if (share.cpus < 1 || !answer.eof() || !listsItself)
    fail(Status::kRemoteError, "malformed locality answer for rank ", rank);
  share.ranks = static_cast<int>(share.localRanks.size());
  share.hostOf = parseHosts(store.get(kHostsKey, deadline), size);
  // Still this process's entry? Otherwise another process joined as this rank after it.
  const std::string entry = store.get(machineKey(rank), deadline);
  const std::string signedBy = entry.substr(entry.rfind(' ') + 1);
  if (signedBy != claim) {
    fail(Status::kInvalidUsage, "rank ", rank, " was started twice: ", claimant(signedBy),
         " also joined as rank ", rank, " (", claimant(claim), " is this one)");
  }
  return share;
}

int autoSpinUs(const MachineShare& share) {
  return share.ranks > share.cpus ? 0 : kDefaultSpinUs;
}

int autoYieldUs(const MachineShare& share) {
  return share.ranks > share.cpus ? kOversubscribedYieldUs : 0;
}

}  // namespace gccl
