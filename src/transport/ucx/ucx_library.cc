#include "transport/ucx/ucx_library.h"

#include <dlfcn.h>

#include <string>

#include "base/error.h"
#include "transport/ucx/ucx_transport.h"

namespace gccl::transport::ucx {

namespace {

// The run-time name first (Debian's libucx0); the development link as a fallback.
constexpr const char* kLibraryNames[] = {"libucp.so.0", "libucp.so"};

struct Loaded {
  UcxLibrary library;
  std::string error;  // empty when loaded
};

Loaded load() {
  Loaded loaded;
  void* handle = nullptr;
  std::string firstError;  // the run-time name's: the one that should have loaded
  for (const char* name : kLibraryNames) {
    handle = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr) break;
    const char* why = ::dlerror();
    if (firstError.empty()) firstError = why == nullptr ? strCat(name, ": not found") : why;
  }
  if (handle == nullptr) {
    loaded.error =
        strCat("cannot load libucp.so.0 (", firstError, "): install UCX (Debian: libucx0)");
    return loaded;
  }
  // dlsym on the handle also searches what libucp depends on: ucs_status_string is libucs's.
#define GCCL_UCX_RESOLVE(name)                                                       \
  loaded.library.name = reinterpret_cast<decltype(&::name)>(::dlsym(handle, #name)); \
  if (loaded.library.name == nullptr && loaded.error.empty()) {                      \
    loaded.error = strCat("libucp has no " #name " (UCX too old?)");                 \
  }
  GCCL_UCX_FUNCTIONS(GCCL_UCX_RESOLVE)
#undef GCCL_UCX_RESOLVE
  return loaded;
}

const Loaded& loadedOnce() {
  static const Loaded loaded = load();
  return loaded;
}

}  // namespace

const UcxLibrary& ucxLibrary() {
  const Loaded& loaded = loadedOnce();
  if (!loaded.error.empty()) fail(Status::kSystemError, "UCX: ", loaded.error);
  return loaded.library;
}

bool ucxLoadable(std::string* why) {
  const Loaded& loaded = loadedOnce();
  if (why != nullptr) *why = loaded.error;
  return loaded.error.empty();
}

}  // namespace gccl::transport::ucx
