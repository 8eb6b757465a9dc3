"""libgccl.so through ctypes: where the library is found, and the C API's signatures.

Only this module knows ctypes; the rest of the package calls `lib` with the types declared
here and turns every result into an exception with `check`. ctypes releases the GIL for the
duration of each call, so a rank blocked in a collective does not stop the process's other
Python threads.
"""
import ctypes
import ctypes.util
import os

c_size_t = ctypes.c_size_t
c_int = ctypes.c_int
c_void_p = ctypes.c_void_p
P = ctypes.POINTER

# gcclResult_t (gccl.h).
SUCCESS, INVALID_ARGUMENT, INVALID_USAGE, SYSTEM_ERROR, REMOTE_ERROR, TIMEOUT, INTERNAL_ERROR, \
    IN_PROGRESS = range(8)

# gcclDataType_t and gcclRedOp_t (gccl.h).
INT8, UINT8, INT32, UINT32, INT64, UINT64, FLOAT16, BFLOAT16, FLOAT32, FLOAT64 = range(10)
SUM, PROD, MIN, MAX, AVG = range(5)

# gcclWireFormat_t.
WIRE_NONE, WIRE_FLOAT16, WIRE_BFLOAT16 = range(3)

CONFIG_MAGIC = 0x6763636C  # "gccl"
GRAD_SYNC_CONFIG_MAGIC = 0x67726164  # "grad"
# GCCL_VERSION_CODE of the gccl.h these declarations follow: the version a config struct
# filled here claims (the library recognises older structs by their size).
HEADER_VERSION = 100


class UniqueId(ctypes.Structure):
    # Bytes, not c_char: a c_char array reads back cut at its first NUL.
    _fields_ = [("internal", ctypes.c_ubyte * 128)]


class Config(ctypes.Structure):
    """gcclConfig_t, field for field: zeros fall back to the environment, then the defaults."""
    _fields_ = [
        ("size", c_size_t), ("magic", ctypes.c_uint), ("version", ctypes.c_uint),
        ("timeoutMs", c_int), ("chunkBytes", c_int), ("algorithm", ctypes.c_char_p),
    ]

    def __init__(self, timeout_ms=0):
        super().__init__(ctypes.sizeof(Config), CONFIG_MAGIC, HEADER_VERSION, timeout_ms, 0,
                         None)


class GradSyncConfig(ctypes.Structure):
    """gcclGradSyncConfig_t, revision 2, field for field."""
    _fields_ = [
        ("size", c_size_t), ("magic", ctypes.c_uint), ("version", ctypes.c_uint),
        ("bucketBytes", c_size_t), ("alignment", c_size_t), ("compression", c_int),
        ("average", c_int), ("preDivide", c_int), ("copyMode", c_int), ("sparse", c_int),
        ("sparseChunk", c_size_t), ("sparseDensity", ctypes.c_double),
        ("sparseWarmupSteps", c_size_t), ("sparseMomentum", ctypes.c_float),
        ("sparsePayload", c_int),
    ]


class GradSyncStats(ctypes.Structure):
    _fields_ = [("wireBytes", c_size_t), ("buckets", c_size_t), ("nonFinite", c_int)]


# name: (argument types); every function returns gcclResult_t unless listed in _RESTYPES.
_SIGNATURES = {
    "gcclGetVersion": [P(c_int)],
    "gcclGetErrorString": [c_int],
    "gcclGetLastError": [c_void_p],
    "gcclGetUniqueId": [P(UniqueId)],
    "gcclCommInitRank": [P(c_void_p), c_int, UniqueId, c_int],
    "gcclCommInitRankConfig": [P(c_void_p), c_int, UniqueId, c_int, P(Config)],
    "gcclCommInitFromEnv": [P(c_void_p)],
    "gcclCommSplit": [c_void_p, c_int, c_int, P(c_void_p)],
    "gcclCommDestroy": [c_void_p],
    "gcclCommAbort": [c_void_p],
    "gcclCommCount": [c_void_p, P(c_int)],
    "gcclCommUserRank": [c_void_p, P(c_int)],
    "gcclCommGetAsyncError": [c_void_p, P(c_int)],
    "gcclAllReduce": [c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p],
    "gcclAllReduceAsync": [c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p, P(c_void_p)],
    "gcclAllReduceOnStream": [c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p, c_void_p],
    "gcclBroadcast": [c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p],
    "gcclBroadcastAsync": [c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p, P(c_void_p)],
    "gcclBroadcastOnStream": [c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p, c_void_p],
    "gcclReduce": [c_void_p, c_void_p, c_size_t, c_int, c_int, c_int, c_void_p],
    "gcclReduceAsync": [c_void_p, c_void_p, c_size_t, c_int, c_int, c_int, c_void_p,
                        P(c_void_p)],
    "gcclReduceOnStream": [c_void_p, c_void_p, c_size_t, c_int, c_int, c_int, c_void_p,
                           c_void_p],
    "gcclReduceScatter": [c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p],
    "gcclReduceScatterAsync": [c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p,
                               P(c_void_p)],
    "gcclReduceScatterOnStream": [c_void_p, c_void_p, c_size_t, c_int, c_int, c_void_p,
                                  c_void_p],
    "gcclAllGatherV": [c_void_p, c_size_t, c_void_p, P(c_size_t), P(c_size_t), c_int, c_void_p],
    "gcclAllGatherVAsync": [c_void_p, c_size_t, c_void_p, P(c_size_t), P(c_size_t), c_int,
                            c_void_p, P(c_void_p)],
    "gcclAllGatherVOnStream": [c_void_p, c_size_t, c_void_p, P(c_size_t), P(c_size_t), c_int,
                               c_void_p, c_void_p],
    "gcclAllToAll": [c_void_p, c_void_p, c_size_t, c_int, c_void_p],
    "gcclAllToAllAsync": [c_void_p, c_void_p, c_size_t, c_int, c_void_p, P(c_void_p)],
    "gcclAllToAllOnStream": [c_void_p, c_void_p, c_size_t, c_int, c_void_p, c_void_p],
    "gcclAllToAllV": [c_void_p, P(c_size_t), P(c_size_t), c_void_p, P(c_size_t), P(c_size_t),
                      c_int, c_void_p],
    "gcclAllToAllVAsync": [c_void_p, P(c_size_t), P(c_size_t), c_void_p, P(c_size_t),
                           P(c_size_t), c_int, c_void_p, P(c_void_p)],
    "gcclAllToAllVOnStream": [c_void_p, P(c_size_t), P(c_size_t), c_void_p, P(c_size_t),
                              P(c_size_t), c_int, c_void_p, c_void_p],
    "gcclBarrier": [c_void_p],
    "gcclBarrierAsync": [c_void_p, P(c_void_p)],
    "gcclWait": [c_void_p],
    "gcclTest": [c_void_p, P(c_int)],
    "gcclGradSyncCreate": [c_void_p, P(GradSyncConfig), P(c_void_p)],
    "gcclGradSyncRegister": [c_void_p, ctypes.c_char_p, c_size_t, c_int, P(c_size_t)],
    "gcclGradSyncFinalize": [c_void_p, P(c_void_p), P(c_size_t)],
    "gcclGradSyncGetTensor": [c_void_p, c_size_t, P(c_void_p)],
    "gcclGradSyncMarkReady": [c_void_p, c_size_t, c_void_p],
    "gcclGradSyncWait": [c_void_p, P(GradSyncStats)],
    "gcclGradSyncReset": [c_void_p],
    "gcclGradSyncDestroy": [c_void_p],
}
_RESTYPES = {"gcclGetErrorString": ctypes.c_char_p, "gcclGetLastError": ctypes.c_char_p}


def _candidates():
    """Where libgccl.so may be, most explicit first."""
    explicit = os.environ.get("GCCL_LIBRARY")
    if explicit:
        return [explicit]  # asked for: no silent fallback to another copy
    here = os.path.dirname(os.path.abspath(__file__))
    # Installed by CMake: <libdir>/python3/dist-packages/gccl beside <libdir>/libgccl.so.0.
    found = [os.path.join(here, "..", "..", "..", "libgccl.so.0")]
    system = ctypes.util.find_library("gccl")
    if system:
        found.append(system)
    found.append("libgccl.so.0")  # LD_LIBRARY_PATH, the loader's cache
    # A source checkout: python/gccl/ next to build/lib/.
    found.append(os.path.join(here, "..", "..", "build", "lib", "libgccl.so"))
    return found


def _load():
    tried = []
    for path in _candidates():
        try:
            library = ctypes.CDLL(path)
            break
        except OSError as error:
            tried.append(f"{path}: {error}")
    else:
        raise ImportError("gccl: cannot load libgccl.so (set GCCL_LIBRARY to its path); tried "
                          + "; ".join(tried))
    for name, argtypes in _SIGNATURES.items():
        try:
            function = getattr(library, name)
        except AttributeError:
            raise ImportError(f"gccl: {library._name} has no {name} (a library older than "
                              "this package?)") from None
        function.argtypes = argtypes
        function.restype = _RESTYPES.get(name, c_int)
    return library


lib = _load()


class GcclError(RuntimeError):
    """A gccl call failed. `result` is the gcclResult_t; the message is gccl's own, naming the
    rank, the peer and the operation."""

    def __init__(self, result, message):
        super().__init__(message)
        self.result = result


def error_text(result):
    """The result's name and the calling thread's last gccl message, which every failed call
    records (gcclWait and gcclTest record theirs nowhere else)."""
    name = lib.gcclGetErrorString(result).decode(errors="replace")
    detail = lib.gcclGetLastError(None).decode(errors="replace")
    return f"{name}: {detail}" if detail else name


def error(result, what):
    return GcclError(result, f"{what}: {error_text(result)}")


def check(result, what):
    """Raises GcclError for a failed call; `what` names the Python-level operation."""
    if result != SUCCESS:
        raise error(result, what)


def version():
    code = c_int()
    check(lib.gcclGetVersion(ctypes.byref(code)), "gccl.version")
    return code.value
