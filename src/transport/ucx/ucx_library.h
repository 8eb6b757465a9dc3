// UCX's functions, from libucp loaded the first time a communicator routes a peer through UCX,
// never when gccl itself loads. Linking UCX would run its libraries' constructors in every
// process that links gccl, whether or not it ever uses UCX: libucm patches mmap and malloc,
// and libucs installs SIGSEGV/SIGBUS handlers over the application's own (Python's
// faulthandler, a framework's crash reporter). UCX's headers still give the types and macros.
#pragma once

#include <ucp/api/ucp.h>

namespace gccl::transport::ucx {

// The functions gccl calls, each a member named as in UCX (ucp_init is an inline over
// ucp_init_version; ucp_dt_make_contig and ucp_dt_make_iov are macros).
#define GCCL_UCX_FUNCTIONS(X)   \
  X(ucp_config_read)            \
  X(ucp_config_modify)          \
  X(ucp_config_print)           \
  X(ucp_config_release)         \
  X(ucp_init_version)           \
  X(ucp_cleanup)                \
  X(ucp_worker_create)          \
  X(ucp_worker_destroy)         \
  X(ucp_worker_get_address)     \
  X(ucp_worker_release_address) \
  X(ucp_worker_get_efd)         \
  X(ucp_worker_arm)             \
  X(ucp_worker_progress)        \
  X(ucp_ep_create)              \
  X(ucp_ep_close_nbx)           \
  X(ucp_ep_flush_nbx)           \
  X(ucp_tag_send_nbx)           \
  X(ucp_tag_recv_nbx)           \
  X(ucp_tag_recv_request_test)  \
  X(ucp_request_check_status)   \
  X(ucp_request_cancel)         \
  X(ucp_request_free)           \
  X(ucs_status_string)

struct UcxLibrary {
#define GCCL_UCX_MEMBER(name) decltype(&::name) name = nullptr;
  GCCL_UCX_FUNCTIONS(GCCL_UCX_MEMBER)
#undef GCCL_UCX_MEMBER
};

// Loads libucp once per process (and keeps it: UCX does not unload cleanly). Throws
// Error(kSystemError) saying what is missing when the library or one of its functions is not
// there.
const UcxLibrary& ucxLibrary();

// ucxLibrary(), at the call sites: ucx().ucp_worker_progress(worker).
// Loaded once, then a plain reference: the progress loop calls through it.
inline const UcxLibrary& ucx() {
  static const UcxLibrary& library = ucxLibrary();  // a failed load throws, and is retried
  return library;
}

}  // namespace gccl::transport::ucx
