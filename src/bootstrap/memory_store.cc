#include "bootstrap/memory_store.h"
#include "base/error.h"

namespace gccl {

void MemoryStore::set(const std::string& key, const std::string& value) {
  {
    std::lock_guard lock(mutex_);
    values_[key] = value;
  }
  changed_.notify_all();
}

std::string MemoryStore::get(const std::string& key, const Deadline& deadline) {
  std::unique_lock lock(mutex_);
  const bool found =
      changed_.wait_until(lock, deadline.at(), [&] { return values_.count(key) > 0; });
  if (!found) fail(Status::kTimeout, "store key '", key, "' did not appear in time");
  return values_.at(key);
}

bool MemoryStore::trySet(const std::string& key, const std::string& value, const Deadline&) {
  set(key, value);
  return true;
}

StoreProbe MemoryStore::probe(const std::string& key, const Deadline&) {
  std::lock_guard lock(mutex_);
  const auto found = values_.find(key);
  if (found == values_.end()) return {StoreProbe::Result::kAbsent, {}};
  return {StoreProbe::Result::kFound, found->second};
}

}  // namespace gccl
