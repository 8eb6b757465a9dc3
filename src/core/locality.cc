#include "core/locality.h"

#include <sched.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/socket.h"

namespace gccl {

std::string machineId() {
  std::ifstream bootId("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (bootId >> id && !id.empty()) return id;
  return localHostName();
}

int ranksOnThisMachine(Store& store, int rank, int size, const Deadline& deadline) {
  store.set(strCat("locality/machine/", rank), machineId());
  if (rank == 0) {
    std::vector<std::string> machines(static_cast<size_t>(size));
    std::map<std::string, int> ranksPerMachine;
    for (int r = 0; r < size; ++r) {
      machines[r] = store.get(strCat("locality/machine/", r), deadline);
      ++ranksPerMachine[machines[r]];
    }
    for (int r = 0; r < size; ++r)
      store.set(strCat("locality/count/", r), std::to_string(ranksPerMachine[machines[r]]));
  }
  const std::string count = store.get(strCat("locality/count/", rank), deadline);
  try {
    return std::stoi(count);
  } catch (const std::exception&) {
    fail(Status::kRemoteError, "bootstrap store sent a malformed rank count '", count, "'");
  }
}

int usableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<int>(online) : 1;
}

int autoSpinUs(int ranksOnMachine, int cpus) {
  return ranksOnMachine > cpus ? 0 : kDefaultSpinUs;
}

}  // namespace gccl
