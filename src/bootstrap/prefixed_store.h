// A view of another store under a key prefix: a communicator split from another rendezvous in
// its parent's store (no new rendezvous for the caller) without its keys ("tcp/address/0",
// "locality/...", "stall/...") meeting the parent's or a sibling's.
#pragma once

#include <memory>
#include <string>

#include "base/store.h"

namespace gccl {

class PrefixedStore final : public Store {
 public:
  PrefixedStore(std::shared_ptr<Store> inner, std::string prefix)
      : inner_(std::move(inner)), prefix_(std::move(prefix)) {}

  void set(const std::string& key, const std::string& value) override {
    inner_->set(prefix_ + key, value);
  }
  std::string get(const std::string& key, const Deadline& deadline) override {
    return inner_->get(prefix_ + key, deadline);
  }
  bool trySet(const std::string& key, const std::string& value, const Deadline& deadline) override {
    return inner_->trySet(prefix_ + key, value, deadline);
  }
  StoreProbe probe(const std::string& key, const Deadline& deadline) override {
    return inner_->probe(prefix_ + key, deadline);
  }
  std::string location() const override { return inner_->location(); }

 private:
  std::shared_ptr<Store> inner_;
  std::string prefix_;
};

}  // namespace gccl
