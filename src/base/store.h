// The key-value store ranks use to exchange addresses during bootstrap. Values are set once;
// get() waits until the key exists, bounded by a deadline. Only the interface lives in base:
// transports read their peers' addresses through it, and the stores themselves (TCP, memory)
// are bootstrap's.
#pragma once

#include <string>

#include "base/deadline.h"

namespace gccl {

// What a probe found: the value, no such key yet, or no answer from the store in time.
struct StoreProbe {
  enum class Result { kFound, kAbsent, kNoAnswer };
  Result result = Result::kNoAnswer;
  std::string value;
};

class Store {
 public:
  virtual ~Store() = default;
  virtual void set(const std::string& key, const std::string& value) = 0;
  // Throws Error(kTimeout) naming the key when it does not appear before the deadline.
  virtual std::string get(const std::string& key, const Deadline& deadline) = 0;

  // For diagnosing a failure, when the store itself may be the silent party: neither call
  // throws or waits past `deadline`. A probe answers at once whether the key exists; a store
  // that does not answer in time is kNoAnswer (and, over TCP, not used again: the late reply
  // would be read as the answer to the next request).
  virtual bool trySet(const std::string& key, const std::string& value,
                      const Deadline& deadline) = 0;
  virtual StoreProbe probe(const std::string& key, const Deadline& deadline) = 0;

  // "127.0.0.1:29511" (where it is served), or "in-process".
  virtual std::string location() const = 0;
};

}  // namespace gccl
