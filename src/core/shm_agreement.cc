#include "core/shm_agreement.h"

#include "base/error.h"
#include "base/logging.h"

namespace gccl {

namespace {

std::string answerKey(int rank) {
  return strCat("shm/usable/", rank);
}

}  // namespace

bool machineAgreesOnSharedMemory(Store& store, int rank, bool usableHere, const std::string& why,
                                 const std::vector<int>& localRanks, const Deadline& deadline) {
  store.set(answerKey(rank), usableHere ? std::string("1") : strCat("0 ", why));
  for (const int local : localRanks) {
    const std::string answer = store.get(answerKey(local), deadline);
    if (answer != "1") {
      logInfo(LogSubsys::kInit, "rank ", rank, ": rank ", local, " cannot map shared memory (",
              answer.size() > 2 ? answer.substr(2) : std::string("no reason given"),
              "); its machine's ranks talk over the network transport instead");
      return false;
    }
  }
  return true;
}

}  // namespace gccl
