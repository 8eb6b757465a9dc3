"""A gccl communicator and its requests, on raw addresses (no framework inside).

The torch plugin (gccl.torch) maps tensors onto these calls; anything else that holds buffer
addresses (NumPy arrays, ctypes buffers) can use them as they are.
"""
import ctypes
import threading

from . import _capi
from ._capi import check, lib


class Request:
    """A started non-blocking collective. Its buffers must stay alive and untouched until
    wait() returns or test() returns True; `keep` holds whatever owns them until then. A
    failure is raised by every later wait() and test(), not only the first."""

    def __init__(self, handle, what, keep=()):
        self._handle = handle
        self._what = what
        self._keep = keep
        self._error = None

    def _finished(self, result):
        self._handle = None
        self._keep = ()
        if result != _capi.SUCCESS:
            self._error = _capi.error(result, self._what)

    def wait(self):
        if self._handle is not None:
            self._finished(lib.gcclWait(self._handle))
        if self._error is not None:
            raise self._error

    def test(self):
        """True once the collective has completed; raises its error if it failed."""
        if self._handle is not None:
            done = ctypes.c_int(0)
            result = lib.gcclTest(self._handle, ctypes.byref(done))
            if not done.value and result == _capi.SUCCESS:
                return False
            self._finished(result)
        if self._error is not None:
            raise self._error
        return True

    def __del__(self):
        # A request dropped unwaited is waited for here: its buffers may still be in use.
        if self._handle is not None and lib is not None:
            lib.gcclWait(self._handle)


class Communicator:
    """One gccl communicator. Collectives on it may be issued from any thread; they are issued
    one at a time (gccl.h asks for that) and complete in the order they were issued."""

    def __init__(self, handle):
        self.handle = handle
        self._issue = threading.Lock()
        count, rank = ctypes.c_int(), ctypes.c_int()
        try:
            check(lib.gcclCommCount(handle, ctypes.byref(count)), "gccl.Communicator")
            check(lib.gcclCommUserRank(handle, ctypes.byref(rank)), "gccl.Communicator")
        except BaseException:
            lib.gcclCommAbort(handle)
            raise
        self.size = count.value
        self.rank = rank.value

    @classmethod
    def from_env(cls):
        """Joins the job the environment describes: GCCL_RANK/GCCL_WORLD_SIZE/GCCL_ROOT_ADDR/
        GCCL_ROOT_PORT, torchrun's RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT, Open MPI or Slurm
        (gcclCommInitFromEnv)."""
        handle = ctypes.c_void_p()
        check(lib.gcclCommInitFromEnv(ctypes.byref(handle)), "gccl.init")
        return cls(handle)

    @classmethod
    def from_unique_id(cls, nranks, unique_id, rank, timeout_ms=0):
        """Joins the job of `unique_id` (bytes from unique_id() on one rank, shared out of
        band) as `rank` of `nranks`. `timeout_ms`: how long a silent peer is waited for
        (0: GCCL_TIMEOUT_MS or gccl's default)."""
        if len(unique_id) != ctypes.sizeof(_capi.UniqueId):
            raise ValueError(f"gccl: a unique id has {ctypes.sizeof(_capi.UniqueId)} bytes, "
                             f"not {len(unique_id)}")
        uid = _capi.UniqueId.from_buffer_copy(unique_id)
        handle = ctypes.c_void_p()
        config = _capi.Config(timeout_ms)
        check(lib.gcclCommInitRankConfig(ctypes.byref(handle), nranks, uid, rank,
                                         ctypes.byref(config)), "gccl.init")
        return cls(handle)

    def _call(self, what, function, *args):
        with self._issue:  # destroy() frees the handle under it: checked here, still valid
            if self.handle is None:
                raise _capi.GcclError(_capi.INVALID_USAGE,
                                      f"{what}: the communicator is destroyed")
            check(function(*args), what)

    def _start(self, what, function, keep, *args):
        request = ctypes.c_void_p()
        self._call(what, function, *args, self.handle, ctypes.byref(request))
        return Request(request, what, keep)

    def allreduce(self, send, recv, count, dtype, op, stream=None):
        if stream is None:
            self._call("allreduce", lib.gcclAllReduce, send, recv, count, dtype, op, self.handle)
        else:
            self._call("allreduce", lib.gcclAllReduceOnStream, send, recv, count, dtype, op,
                       self.handle, stream)

    def allreduce_async(self, send, recv, count, dtype, op, keep=()):
        return self._start("allreduce", lib.gcclAllReduceAsync, keep, send, recv, count, dtype,
                           op)

    def broadcast(self, send, recv, count, dtype, root, stream=None):
        if stream is None:
            self._call("broadcast", lib.gcclBroadcast, send, recv, count, dtype, root,
                       self.handle)
        else:
            self._call("broadcast", lib.gcclBroadcastOnStream, send, recv, count, dtype, root,
                       self.handle, stream)

    def broadcast_async(self, send, recv, count, dtype, root, keep=()):
        return self._start("broadcast", lib.gcclBroadcastAsync, keep, send, recv, count, dtype,
                           root)

    def reduce(self, send, recv, count, dtype, op, root, stream=None):
        if stream is None:
            self._call("reduce", lib.gcclReduce, send, recv, count, dtype, op, root,
                       self.handle)
        else:
            self._call("reduce", lib.gcclReduceOnStream, send, recv, count, dtype, op, root,
                       self.handle, stream)

    def reduce_async(self, send, recv, count, dtype, op, root, keep=()):
        return self._start("reduce", lib.gcclReduceAsync, keep, send, recv, count, dtype, op,
                           root)

    def reduce_scatter(self, send, recv, recvcount, dtype, op, stream=None):
        if stream is None:
            self._call("reduce_scatter", lib.gcclReduceScatter, send, recv, recvcount, dtype,
                       op, self.handle)
        else:
            self._call("reduce_scatter", lib.gcclReduceScatterOnStream, send, recv, recvcount,
                       dtype, op, self.handle, stream)

    def reduce_scatter_async(self, send, recv, recvcount, dtype, op, keep=()):
        return self._start("reduce_scatter", lib.gcclReduceScatterAsync, keep, send, recv,
                           recvcount, dtype, op)

    def allgatherv(self, send, sendcount, recv, recvcounts, displs, dtype, stream=None):
        counts = (ctypes.c_size_t * self.size)(*recvcounts)
        offsets = (ctypes.c_size_t * self.size)(*displs)
        if stream is None:
            self._call("allgather", lib.gcclAllGatherV, send, sendcount, recv, counts, offsets,
                       dtype, self.handle)
        else:
            self._call("allgather", lib.gcclAllGatherVOnStream, send, sendcount, recv, counts,
                       offsets, dtype, self.handle, stream)

    def allgatherv_async(self, send, sendcount, recv, recvcounts, displs, dtype, keep=()):
        counts = (ctypes.c_size_t * self.size)(*recvcounts)
        offsets = (ctypes.c_size_t * self.size)(*displs)
        return self._start("allgather", lib.gcclAllGatherVAsync, (keep, counts, offsets), send,
                           sendcount, recv, counts, offsets, dtype)

    def alltoall(self, send, recv, count, dtype, stream=None):
        """gcclAllToAll: `count` elements to and from every rank (send and recv hold size x
        count)."""
        if stream is None:
            self._call("alltoall", lib.gcclAllToAll, send, recv, count, dtype, self.handle)
        else:
            self._call("alltoall", lib.gcclAllToAllOnStream, send, recv, count, dtype,
                       self.handle, stream)

    def alltoall_async(self, send, recv, count, dtype, keep=()):
        return self._start("alltoall", lib.gcclAllToAllAsync, keep, send, recv, count, dtype)

    def _size_arrays(self, *lists):
        """size_t arrays of the lists, None (NULL) for None."""
        return [None if values is None else (ctypes.c_size_t * self.size)(*values)
                for values in lists]

    def alltoallv(self, send, sendcounts, sdispls, recv, recvcounts, rdispls, dtype,
                  stream=None):
        """gcclAllToAllV: sendcounts[p] elements at sdispls[p] of `send` to rank p, rank p's
        block for this rank (recvcounts[p] elements) at rdispls[p] of `recv`. In place
        (send == recv) sendcounts and sdispls may be None. With a stream (device buffers):
        gcclAllToAllVOnStream."""
        arrays = self._size_arrays(sendcounts, sdispls, recvcounts, rdispls)
        if stream is None:
            self._call("alltoallv", lib.gcclAllToAllV, send, arrays[0], arrays[1], recv,
                       arrays[2], arrays[3], dtype, self.handle)
        else:
            self._call("alltoallv", lib.gcclAllToAllVOnStream, send, arrays[0], arrays[1], recv,
                       arrays[2], arrays[3], dtype, self.handle, stream)

    def alltoallv_async(self, send, sendcounts, sdispls, recv, recvcounts, rdispls, dtype,
                        keep=()):
        arrays = self._size_arrays(sendcounts, sdispls, recvcounts, rdispls)
        return self._start("alltoallv", lib.gcclAllToAllVAsync, (keep, arrays), send, arrays[0],
                           arrays[1], recv, arrays[2], arrays[3], dtype)

    def barrier(self):
        self._call("barrier", lib.gcclBarrier, self.handle)

    def barrier_async(self):
        return self._start("barrier", lib.gcclBarrierAsync, ())

    def async_error(self):
        """The error the progress thread raised, as a GcclError, or None."""
        result = ctypes.c_int(0)
        check(lib.gcclCommGetAsyncError(self.handle, ctypes.byref(result)), "gccl")
        if result.value == _capi.SUCCESS:
            return None
        message = lib.gcclGetLastError(self.handle).decode(errors="replace")
        return _capi.GcclError(result.value, f"asynchronous error: {message}")

    def split(self, color, key):
        """gcclCommSplit: a new Communicator, or None for a negative color."""
        new = ctypes.c_void_p()
        self._call("split", lib.gcclCommSplit, self.handle, color, key, ctypes.byref(new))
        return Communicator(new) if new.value else None

    def abort(self):
        """Fails what is outstanding and frees the communicator; safe from any thread."""
        handle, self.handle = self.handle, None
        if handle is not None:
            check(lib.gcclCommAbort(handle), "gccl.abort")

    def destroy(self):
        """Waits for what is outstanding, then frees the communicator."""
        with self._issue:
            handle, self.handle = self.handle, None
        if handle is not None:
            check(lib.gcclCommDestroy(handle), "gccl.shutdown")


def unique_id():
    """A new unique id (bytes) for Communicator.from_unique_id; made on one rank, shared out
    of band."""
    uid = _capi.UniqueId()
    check(lib.gcclGetUniqueId(ctypes.byref(uid)), "gccl.unique_id")
    return bytes(uid)
