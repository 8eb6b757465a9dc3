// The key-value store ranks use to exchange addresses during bootstrap. Values are set once;
// get() waits until the key exists, bounded by a deadline.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>

#include "core/deadline.h"

namespace gccl {

class Store {
 public:
  virtual ~Store() = default;
  virtual void set(const std::string& key, const std::string& value) = 0;
  // Throws Error(kTimeout) naming the key when it does not appear before the deadline.
  virtual std::string get(const std::string& key, const Deadline& deadline) = 0;
};

// Ranks as threads of one process (tests) share one of these.
class MemoryStore final : public Store {
 public:
  void set(const std::string& key, const std::string& value) override;
  std::string get(const std::string& key, const Deadline& deadline) override;

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::string> values_;
};

}  // namespace gccl
