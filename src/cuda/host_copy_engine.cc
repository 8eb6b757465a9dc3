#include "cuda/host_copy_engine.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "base/error.h"

namespace gccl {

HostCopyEngine::HostCopyEngine(HostCopyFaults faults)
    : faults_(faults),
      random_(faults.shuffleSeed),
      defaultStream_(std::make_unique<HostStream>()),
      thread_([this] { worker(); }) {}

HostCopyEngine::~HostCopyEngine() {
  defaultStream_.reset();  // its queued marks and holds use this engine
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] {
      return std::none_of(copies_.begin(), copies_.end(), [](const auto& entry) {
        return entry.second.state == State::kQueued && !entry.second.streamMark;
      });
    });
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
  for (const auto& [pointer, bytes] : device_) ::operator delete(const_cast<std::byte*>(pointer));
  for (const auto& [pointer, bytes] : staging_) ::operator delete(const_cast<std::byte*>(pointer));
}

std::byte* HostCopyEngine::allocateDevice(size_t bytes) {
  auto* device = static_cast<std::byte*>(::operator new(std::max<size_t>(bytes, 1)));
  std::memset(device, 0, bytes);
  std::lock_guard lock(mutex_);
  device_[device] = bytes;
  return device;
}

void HostCopyEngine::freeDevice(std::byte* device) {
  std::lock_guard lock(mutex_);
  if (device_.erase(device) == 0) fail(Status::kInvalidArgument, "freeDevice: not device memory");
  ::operator delete(device);
}

void HostCopyEngine::setFaults(const HostCopyFaults& faults) {
  std::lock_guard lock(mutex_);
  faults_ = faults;
  random_.seed(faults.shuffleSeed);
}

size_t HostCopyEngine::stagingHighWater() const {
  std::lock_guard lock(mutex_);
  return stagingHighWater_;
}

uint64_t HostCopyEngine::copiesQueued() const {
  std::lock_guard lock(mutex_);
  return nextTicket_;
}

size_t HostCopyEngine::copiesUnsettled() const {
  std::lock_guard lock(mutex_);
  return copies_.size();
}

uint64_t HostCopyEngine::completedOutOfOrder() const {
  std::lock_guard lock(mutex_);
  return outOfOrder_;
}

size_t HostCopyEngine::copiesInFlightHighWater() const {
  std::lock_guard lock(mutex_);
  return copiesInFlightHighWater_;
}

uint64_t HostCopyEngine::busBytes() const {
  std::lock_guard lock(mutex_);
  return busBytes_;
}

bool HostCopyEngine::isDevice(const void* pointer) const {
  const auto* address = static_cast<const std::byte*>(pointer);
  std::lock_guard lock(mutex_);
  auto after = device_.upper_bound(address);  // the first allocation starting past `address`
  if (after == device_.begin()) return false;
  const auto& [start, bytes] = *std::prev(after);
  return address < start + std::max<size_t>(bytes, 1);
}

bool HostCopyEngine::isDeviceRange(const void* pointer, size_t bytes) const {
  const auto* address = static_cast<const std::byte*>(pointer);
  std::lock_guard lock(mutex_);
  auto after = device_.upper_bound(address);
  if (after == device_.begin()) return false;
  const auto& [start, size] = *std::prev(after);
  const size_t offset = static_cast<size_t>(address - start);
  return offset < std::max<size_t>(size, 1) && bytes <= size - std::min(offset, size);
}

std::byte* HostCopyEngine::allocateStaging(size_t bytes) {
  auto* staging = static_cast<std::byte*>(::operator new(std::max<size_t>(bytes, 1)));
  std::lock_guard lock(mutex_);
  staging_[staging] = bytes;
  stagingBytes_ += bytes;
  stagingHighWater_ = std::max(stagingHighWater_, stagingBytes_);
  return staging;
}

void HostCopyEngine::freeStaging(std::byte* staging) {
  std::lock_guard lock(mutex_);
  auto found = staging_.find(staging);
  if (found == staging_.end()) fail(Status::kInvalidArgument, "freeStaging: not staging memory");
  stagingBytes_ -= found->second;
  staging_.erase(found);
  ::operator delete(staging);
}

bool HostCopyEngine::pinHost(void* pointer, size_t bytes) {
  std::lock_guard lock(mutex_);
  return pinned_.emplace(static_cast<const std::byte*>(pointer), bytes).second;
}

void HostCopyEngine::unpinHost(void* pointer) {
  std::lock_guard lock(mutex_);
  if (pinned_.erase(static_cast<const std::byte*>(pointer)) == 0) {
    fail(Status::kInvalidArgument, "unpinHost: not pinned");
  }
}

size_t HostCopyEngine::pinnedBuffers() const {
  std::lock_guard lock(mutex_);
  return pinned_.size();
}

bool HostCopyEngine::isPinned(const void* host) const {
  const auto* address = static_cast<const std::byte*>(host);
  for (const auto* ranges : {&staging_, &pinned_}) {
    auto after = ranges->upper_bound(address);
    if (after == ranges->begin()) continue;
    const auto& [start, bytes] = *std::prev(after);
    if (address < start + bytes) return true;
  }
  return false;
}

CopyTicket HostCopyEngine::toHost(CopyTicket ticket, const void* host) {
  std::unique_lock lock(mutex_);
  if (!isPinned(host)) {
    auto copy = copies_.find(ticket);
    changed_.wait(lock, [&] { return copy->second.state != State::kQueued; });
  }
  return ticket;
}

CopyTicket HostCopyEngine::copyToHost(void* hostDst, const void* deviceSrc, size_t bytes) {
  return toHost(queue(hostDst, deviceSrc, bytes, deviceSrc, "device->host", Conversion{}), hostDst);
}

CopyTicket HostCopyEngine::copyToDevice(void* deviceDst, const void* hostSrc, size_t bytes) {
  return queue(deviceDst, hostSrc, bytes, deviceDst, "host->device", Conversion{});
}

bool HostCopyEngine::convertsHalf() const {
  std::lock_guard lock(mutex_);
  return faults_.convertsHalf;
}

CopyTicket HostCopyEngine::encodeToHost(void* hostDst, const float* deviceSrc, size_t count,
                                        HalfFormat format, float scale) {
  if (!convertsHalf()) fail(Status::kInvalidUsage, "encodeToHost: this engine does not convert");
  return toHost(queue(hostDst, deviceSrc, count * sizeof(float), deviceSrc, "device->host, encoded",
                      {Kind::kEncode, format, scale}),
                hostDst);
}

CopyTicket HostCopyEngine::decodeToDevice(float* deviceDst, const void* hostSrc, size_t count,
                                          HalfFormat format) {
  if (!convertsHalf()) fail(Status::kInvalidUsage, "decodeToDevice: this engine does not convert");
  return queue(deviceDst, hostSrc, count * sizeof(float), deviceDst, "host->device, decoded",
               {Kind::kDecode, format, 1.0f});
}

CopyTicket HostCopyEngine::copyToHostAfter(void* stream, void* hostDst, const void* deviceSrc,
                                           size_t bytes) {
  return toHost(queue(hostDst, deviceSrc, bytes, deviceSrc, "device->host, after the stream",
                      Conversion{}, gateOn(stream)),
                hostDst);
}

CopyTicket HostCopyEngine::encodeToHostAfter(void* stream, void* hostDst, const float* deviceSrc,
                                             size_t count, HalfFormat format, float scale) {
  if (!convertsHalf()) fail(Status::kInvalidUsage, "encodeToHost: this engine does not convert");
  return toHost(queue(hostDst, deviceSrc, count * sizeof(float), deviceSrc,
                      "device->host, encoded, after the stream", {Kind::kEncode, format, scale},
                      gateOn(stream)),
                hostDst);
}

CopyTicket HostCopyEngine::queue(void* dst, const void* src, size_t bytes, const void* device,
                                 const char* direction, Conversion conversion,
                                 std::optional<uint64_t> gate) {
  if (!isDevice(device)) fail(Status::kInvalidArgument, direction, " copy: not device memory");
  std::lock_guard lock(mutex_);
  const CopyTicket ticket = nextTicket_++;
  auto latency = faults_.delay;
  if (faults_.jitter.count() > 0) {
    latency += std::chrono::microseconds(random_() % (faults_.jitter.count() + 1));
  }
  copies_[ticket] = Copy{dst,
                         src,
                         bytes,
                         device,
                         conversion,
                         Clock::now() + latency,
                         State::kQueued,
                         strCat("copy ", ticket, " (", direction, ", ", bytes, " bytes)"),
                         /*streamMark=*/false,
                         gate};
  copiesInFlightHighWater_ = std::max(copiesInFlightHighWater_, ++copiesInFlight_);
  changed_.notify_all();
  return ticket;
}

bool HostCopyEngine::settle(std::map<CopyTicket, Copy>::iterator copy) {
  if (copy->second.state == State::kQueued) return false;
  const bool failed = copy->second.state == State::kFailed;
  const std::string what = copy->second.what;
  copies_.erase(copy);
  if (failed) fail(Status::kSystemError, what, " failed (injected)");
  return true;
}

bool HostCopyEngine::done(CopyTicket ticket) {
  std::lock_guard lock(mutex_);
  auto copy = copies_.find(ticket);
  if (copy == copies_.end()) fail(Status::kInvalidUsage, "copy ", ticket, ": unknown or settled");
  return settle(copy);
}

void HostCopyEngine::wait(CopyTicket ticket) {
  std::unique_lock lock(mutex_);
  auto copy = copies_.find(ticket);
  if (copy == copies_.end()) fail(Status::kInvalidUsage, "copy ", ticket, ": unknown or settled");
  // std::map iterators stay valid while other entries come and go.
  changed_.wait(lock, [&] { return copy->second.state != State::kQueued; });
  settle(copy);
}

HostStream& HostCopyEngine::streamOf(void* stream) {
  return stream == nullptr ? *defaultStream_ : *static_cast<HostStream*>(stream);
}

CopyTicket HostCopyEngine::streamReached(void* stream) {
  std::lock_guard lock(mutex_);
  const CopyTicket ticket = nextTicket_++;
  Copy& mark = copies_[ticket];
  mark.what = strCat("stream mark ", ticket);
  mark.streamMark = true;
  streamOf(stream).enqueue([this, ticket] {
    std::lock_guard lock(mutex_);
    copies_.at(ticket).state = State::kDone;
    changed_.notify_all();
  });
  return ticket;
}

uint64_t HostCopyEngine::gateOn(void* stream) {
  std::lock_guard lock(mutex_);
  const uint64_t gate = gatesIssued_++;
  closedGates_.insert(gate);
  streamOf(stream).enqueue([this, gate] {
    std::lock_guard lock(mutex_);
    closedGates_.erase(gate);
    changed_.notify_all();
  });
  return gate;
}

bool HostCopyEngine::gateOpen(const Copy& copy) const {
  return !copy.gate || !closedGates_.contains(*copy.gate);
}

bool HostCopyEngine::holdStream(void* stream, uint64_t hold) {
  {
    std::lock_guard lock(mutex_);
    if (faults_.failHolds) fail(Status::kSystemError, "holding the stream failed (injected)");
    if (!faults_.holdsStreams) return false;
  }
  streamOf(stream).enqueue([this, hold] {
    std::unique_lock lock(mutex_);
    // Cyclic, as the CUDA driver compares: a release past the holds issued would not count.
    changed_.wait(lock, [&] { return static_cast<int64_t>(released_ - hold) >= 0; });
  });
  return true;
}

void HostCopyEngine::releaseStreams(uint64_t through) {
  {
    std::lock_guard lock(mutex_);
    released_ = through;
  }
  changed_.notify_all();
}

void HostCopyEngine::worker() {
  std::unique_lock lock(mutex_);
  while (true) {
    std::vector<std::map<CopyTicket, Copy>::iterator> ready;
    auto next = Clock::time_point::max();
    const auto now = Clock::now();
    for (auto copy = copies_.begin(); copy != copies_.end(); ++copy) {
      if (copy->second.state != State::kQueued || copy->second.streamMark) continue;
      if (!gateOpen(copy->second)) continue;  // opening a gate notifies
      if (copy->second.readyAt <= now) ready.push_back(copy);
      next = std::min(next, copy->second.readyAt);
    }
    if (ready.empty()) {
      if (stopping_) return;
      if (next == Clock::time_point::max()) {
        changed_.wait(lock);
      } else {
        changed_.wait_until(lock, next);
      }
      continue;
    }
    auto copy = ready.front();
    if (faults_.shuffleSeed != 0) copy = ready[random_() % ready.size()];
    if (copy != ready.front() || std::any_of(copies_.begin(), copy, [](const auto& earlier) {
          return earlier.second.state == State::kQueued && !earlier.second.streamMark;
        })) {
      ++outOfOrder_;
    }
    Copy& c = copy->second;
    const auto* device = static_cast<const std::byte*>(c.device);
    const auto* poison = static_cast<const std::byte*>(faults_.failAddress);
    const bool fails = static_cast<int64_t>(copy->first) == faults_.failCopy ||
                       (poison != nullptr && poison >= device && poison < device + c.bytes);
    // The copy runs under the lock: the buffers are the caller's until it settles the ticket,
    // and tests copy little.
    if (!fails) run(c);
    c.state = fails ? State::kFailed : State::kDone;
    --copiesInFlight_;
    changed_.notify_all();
  }
}

void HostCopyEngine::run(const Copy& copy) {
  const size_t count = copy.bytes / sizeof(float);
  switch (copy.conversion.kind) {
    case Kind::kPlain:
      std::memcpy(copy.dst, copy.src, copy.bytes);
      busBytes_ += copy.bytes;
      return;
    case Kind::kEncode:
      encode(copy.conversion.format, copy.dst, static_cast<const float*>(copy.src), count,
             copy.conversion.scale);
      break;
    case Kind::kDecode:
      decode(copy.conversion.format, static_cast<float*>(copy.dst), copy.src, count);
      break;
  }
  busBytes_ += count * 2;
}

}  // namespace gccl
