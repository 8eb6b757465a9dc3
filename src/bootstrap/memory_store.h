// A store shared by ranks that are threads of one process (tests, in-process communicators).
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>

#include "base/store.h"

namespace gccl {

class MemoryStore final : public Store {
 public:
  void set(const std::string& key, const std::string& value) override;
  std::string get(const std::string& key, const Deadline& deadline) override;
  bool trySet(const std::string& key, const std::string& value, const Deadline&) override;
  StoreProbe probe(const std::string& key, const Deadline&) override;
  std::string location() const override { return "in-process"; }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::string> values_;
};

}  // namespace gccl
