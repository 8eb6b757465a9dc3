// The key-value store ranks use to exchange addresses during bootstrap. Values are set once;
// get() waits until the key exists, bounded by a deadline. Only the interface lives in base:
// transports read their peers' addresses through it, and the stores themselves (TCP, memory)
// are bootstrap's.
#pragma once

#include <string>

#include "base/deadline.h"

namespace gccl {

class Store {
 public:
  virtual ~Store() = default;
  virtual void set(const std::string& key, const std::string& value) = 0;
  // Throws Error(kTimeout) naming the key when it does not appear before the deadline.
  virtual std::string get(const std::string& key, const Deadline& deadline) = 0;
};

}  // namespace gccl
