#include "transport/ucx/ucx_worker.h"

#include <sys/epoll.h>

#include <cstdlib>
#include <string>

#include "base/error.h"
#include "base/poller.h"
#include "transport/ucx/ucx_settings.h"

namespace gccl::transport::ucx {

namespace {

// UCX's environment as the user set it, for errors: the usual reason init fails.
std::string tlsSetting() {
  const char* tls = std::getenv("UCX_TLS");  // NOLINT(concurrency-mt-unsafe): read-only
  return tls == nullptr ? "UCX_TLS unset" : strCat("UCX_TLS=", tls);
}

}  // namespace

std::string describe(ucs_status_t status) {
  return ucx().ucs_status_string(status);
}

UcxWorker::UcxWorker() {
  ucp_config_t* config = nullptr;
  ucs_status_t status = ucx().ucp_config_read(nullptr, nullptr, &config);
  if (status != UCS_OK) {
    fail(Status::kSystemError, "UCX: cannot read its configuration (", tlsSetting(),
         "): ", describe(status));
  }
  applyGcclSettings(config);
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES;
  params.features = UCP_FEATURE_TAG | UCP_FEATURE_WAKEUP;
  status = ucx().ucp_init_version(UCP_API_MAJOR, UCP_API_MINOR, &params, config, &context_);
  ucx().ucp_config_release(config);
  if (status != UCS_OK) {
    fail(Status::kSystemError, "UCX: ucp_init failed (", tlsSetting(), "): ", describe(status));
  }
  // The driver role moves between the caller's thread and the progress thread, never two at
  // once (the engine hands it over under a mutex): serialized, not single.
  ucp_worker_params_t workerParams{};
  workerParams.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  workerParams.thread_mode = UCS_THREAD_MODE_SERIALIZED;
  status = ucx().ucp_worker_create(context_, &workerParams, &worker_);
  if (status != UCS_OK) {
    ucx().ucp_cleanup(context_);
    fail(Status::kSystemError, "UCX: cannot create a worker (", tlsSetting(),
         "): ", describe(status));
  }
  ucp_address_t* address = nullptr;
  size_t length = 0;
  status = ucx().ucp_worker_get_address(worker_, &address, &length);
  if (status == UCS_OK) {
    address_.assign(reinterpret_cast<const char*>(address), length);
    ucx().ucp_worker_release_address(worker_, address);
    status = ucx().ucp_worker_get_efd(worker_, &wakeupFd_);
  }
  if (status != UCS_OK) {
    ucx().ucp_worker_destroy(worker_);
    ucx().ucp_cleanup(context_);
    fail(Status::kSystemError, "UCX: worker set-up failed: ", describe(status));
  }
}

UcxWorker::~UcxWorker() {
  if (watchedBy_ != nullptr) watchedBy_->forget(wakeupFd_);
  ucx().ucp_worker_destroy(worker_);
  ucx().ucp_cleanup(context_);
}

bool UcxWorker::progress() {
  bool moved = false;
  // Bounded: a flood of incoming messages must not keep one call here for ever.
  for (int round = 0; round < 64 && ucx().ucp_worker_progress(worker_) != 0; ++round) moved = true;
  return moved;
}

void UcxWorker::progressIdle(uint64_t round) noexcept {
  if (round == lastIdleRound_) return;
  lastIdleRound_ = round;
  progress();
}

void UcxWorker::prepareToSleep(Poller& poller) {
  if (watchedBy_ != &poller) {
    poller.watch(wakeupFd_);
    watchedBy_ = &poller;
  }
  poller.setEvents(wakeupFd_, EPOLLIN);
  if (ucx().ucp_worker_arm(worker_) == UCS_ERR_BUSY) poller.wake();
}

}  // namespace gccl::transport::ucx
