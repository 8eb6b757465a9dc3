"""Horovod's collectives on torch tensors: allreduce, broadcast, allgather, each blocking,
in place (trailing _) and asynchronous (_async, then synchronize or poll).

Host tensors go through gccl's blocking or request-based calls; CUDA tensors through its
stream-ordered calls on the current stream, as NCCL's process group does (the result is ready
for later work on that stream), with a CUDA event that tells the host when it is done.
"""
import ctypes

import torch

from .. import _capi
from .compression import Compression
from .tensors import address, check_device, gccl_dtype, stream_of
from .world import communicator


class ReduceOp:
    def __init__(self, name, code):
        self.name, self.code = name, code

    def __repr__(self):
        return f"gccl.torch.{self.name}"


Average = ReduceOp("Average", _capi.AVG)
Sum = ReduceOp("Sum", _capi.SUM)
Min = ReduceOp("Min", _capi.MIN)
Max = ReduceOp("Max", _capi.MAX)
Product = ReduceOp("Product", _capi.PROD)


def _reduce_op(average, op, what):
    if op is not None and average is not None:
        raise ValueError(f"gccl.torch.{what}: give average or op, not both")
    if op is None:
        return Sum if average is False else Average
    if not isinstance(op, ReduceOp):
        raise TypeError(f"gccl.torch.{what}: op {op!r} is none of Average, Sum, Min, Max, "
                        "Product")
    return op


class _StreamRequest:
    """A collective ordered on a CUDA stream (gccl's OnStream call): done when the stream has
    passed it. A failure there is the communicator's asynchronous error, raised here (gccl
    would otherwise report it only at the next call, whatever that is)."""

    def __init__(self, comm, stream, what, keep):
        self._comm, self._what, self._keep = comm, what, keep
        self._event = torch.cuda.Event()
        self._event.record(stream)

    def _raise_async_error(self):
        self._keep = ()
        error = self._comm.async_error()
        if error is not None:
            raise _capi.GcclError(error.result, f"{self._what}: {error}")

    def wait(self):
        self._event.synchronize()
        self._raise_async_error()

    def test(self):
        if not self._event.query():
            return False
        self._raise_async_error()
        return True


class Handle:
    """An asynchronous collective: synchronize(handle) returns its result tensor."""

    def __init__(self, request, finish):
        self._request = request  # None once complete
        self._finish = finish
        self._result = None

    def _complete(self):
        if self._finish is not None:
            if self._request is not None:
                self._request.wait()
            self._result = self._finish()
            self._finish = self._request = None
        return self._result

    def poll(self):
        return self._request is None or self._request.test()


def synchronize(handle):
    """Waits for an asynchronous collective and returns its result."""
    return handle._complete()


def poll(handle):
    """True once an asynchronous collective has completed."""
    return handle.poll()


def _prepare(tensor, what, compression=Compression.none, copies_only=False):
    """The contiguous (compressed) tensor gccl works on, its gccl type, and the compression's
    context. A type gccl lacks is refused here, before anything is started."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"gccl.torch.{what}: expected a torch.Tensor, got {type(tensor)}")
    check_device(tensor, what)
    work, context = compression.compress(tensor)
    dtype = gccl_dtype(work.dtype, what, copies_only)
    return work.contiguous(), dtype, context


def _run(what, blocking, start, tensor, keep):
    """Runs a collective through `start(comm, stream, keep)`: on a host tensor blocking (keep
    None) or as a request that holds `keep` (the tensors gccl uses) until it completes; on a
    device tensor ordered on its current CUDA stream, with a request that completes when the
    stream has passed it (a blocking call waits for that, as Horovod's do). Returns the
    request, or None when nothing is left to wait for."""
    comm = communicator(what)
    stream = stream_of(tensor)
    if stream is not None:
        start(comm, stream.cuda_stream, None)
        return _StreamRequest(comm, stream, what, keep)
    if blocking:
        start(comm, None, None)
        return None
    return start(comm, None, keep)


_INCREMENT_VERSION = getattr(torch.autograd.graph, "increment_version", None)  # torch >= 2.1


def _bump_version(tensor):
    """Tells autograd that `tensor` changed (gccl wrote its memory behind torch's back)."""
    if _INCREMENT_VERSION is not None:
        _INCREMENT_VERSION(tensor)
    else:
        with torch.no_grad():
            tensor.view(-1)[:0].zero_()  # an in-place op on no element: only the version moves


def _written(output, result):
    """Makes `output` hold `result` as an in-place torch op would: under no_grad (a leaf that
    requires grad may be written), and with autograd's version counter bumped even where gccl
    wrote the memory itself, so that a tensor saved for backward and overwritten is caught.
    An inference tensor (made under inference_mode) has no version: written in that mode."""
    inference = output.is_inference()
    with torch.inference_mode() if inference else torch.no_grad():
        if result.data_ptr() != output.data_ptr():
            output.copy_(result.view(output.shape))
        elif not inference:
            _bump_version(output)
    return output


def _allreduce(tensor, output, op, compression, what, blocking):
    work, dtype, context = _prepare(tensor, what, compression)
    # In place, gccl works in `work`: the tensor itself, or a copy that is ours to overwrite.
    into = work if output is tensor else torch.empty_like(work)

    def start(comm, stream, keep):
        args = (address(work), address(into), work.numel(), dtype, op.code)
        if keep is None:
            return comm.allreduce(*args, stream=stream)
        return comm.allreduce_async(*args, keep=keep)

    def finish():
        result = compression.decompress(into, context)
        if output is None:
            return result.view(tensor.shape)
        return _written(output, result)

    return Handle(_run(what, blocking, start, work, (work, into)), finish)


def allreduce_async(tensor, average=None, name=None, compression=Compression.none, op=None):
    """Starts an allreduce into a new tensor; `name` is accepted for Horovod's signature."""
    op = _reduce_op(average, op, "allreduce_async")
    return _allreduce(tensor, None, op, compression, "allreduce_async", blocking=False)


def allreduce(tensor, average=None, name=None, compression=Compression.none, op=None):
    """The reduction (by default the average) of `tensor` over every rank, as a new tensor."""
    op = _reduce_op(average, op, "allreduce")
    return _allreduce(tensor, None, op, compression, "allreduce", blocking=True)._complete()


def allreduce_async_(tensor, average=None, name=None, compression=Compression.none, op=None):
    op = _reduce_op(average, op, "allreduce_async_")
    return _allreduce(tensor, tensor, op, compression, "allreduce_async_", blocking=False)


def allreduce_(tensor, average=None, name=None, compression=Compression.none, op=None):
    """allreduce in place: `tensor` holds the result."""
    op = _reduce_op(average, op, "allreduce_")
    return _allreduce(tensor, tensor, op, compression, "allreduce_", blocking=True)._complete()


def _broadcast(tensor, output, root_rank, what, blocking):
    work, dtype, _ = _prepare(tensor, what, copies_only=True)
    comm = communicator(what)
    if not 0 <= root_rank < comm.size:
        # gccl refuses it too, on every rank alike; this names the Python call.
        raise ValueError(f"gccl.torch.{what}: root_rank {root_rank} is out of range for "
                         f"{comm.size} ranks")
    into = work if output is tensor else torch.empty_like(work)

    def start(comm, stream, keep):
        args = (address(work), address(into), work.numel(), dtype, root_rank)
        if keep is None:
            return comm.broadcast(*args, stream=stream)
        return comm.broadcast_async(*args, keep=keep)

    def finish():
        return into.view(tensor.shape) if output is None else _written(output, into)

    return Handle(_run(what, blocking, start, work, (work, into)), finish)


def broadcast(tensor, root_rank, name=None):
    """Rank root_rank's `tensor`, as a new tensor on every rank."""
    return _broadcast(tensor, None, root_rank, "broadcast", blocking=True)._complete()


def broadcast_(tensor, root_rank, name=None):
    """broadcast in place: every rank's `tensor` ends with root_rank's values."""
    return _broadcast(tensor, tensor, root_rank, "broadcast_", blocking=True)._complete()


def broadcast_async(tensor, root_rank, name=None):
    return _broadcast(tensor, None, root_rank, "broadcast_async", blocking=False)


def broadcast_async_(tensor, root_rank, name=None):
    return _broadcast(tensor, tensor, root_rank, "broadcast_async_", blocking=False)


_MAX_DIMS = 8


def _gather_shapes(comm, tensor, what):
    """Every rank's shape, exchanged first so that every rank refuses a mismatch alike."""
    row = [tensor.dim(), *tensor.shape[:_MAX_DIMS]]
    row += [-1] * (1 + _MAX_DIMS - len(row))
    mine = (ctypes.c_int64 * len(row))(*row)
    rows = (ctypes.c_int64 * (len(row) * comm.size))()
    comm.allgatherv(ctypes.addressof(mine), len(row), ctypes.addressof(rows),
                    [len(row)] * comm.size, [r * len(row) for r in range(comm.size)],
                    _capi.INT64)
    shapes = []
    for r in range(comm.size):
        ndim = rows[r * len(row)]
        if ndim > _MAX_DIMS or ndim < 1:
            raise ValueError(f"gccl.torch.{what}: rank {r}'s tensor has {ndim} dimensions "
                             f"(1 to {_MAX_DIMS} are gathered)")
        shapes.append(tuple(rows[r * len(row) + 1:r * len(row) + 1 + ndim]))
    for r, shape in enumerate(shapes):
        if shape[1:] != shapes[0][1:]:
            raise ValueError(f"gccl.torch.{what}: rank {r}'s tensor is {list(shape)} and rank "
                             f"0's {list(shapes[0])}: all but the first dimension must match")
    return shapes


def _allgather(tensor, what, blocking):
    work, dtype, _ = _prepare(tensor, what, copies_only=True)
    comm = communicator(what)
    shapes = _gather_shapes(comm, work, what)
    row = 1
    for d in shapes[0][1:]:
        row *= d
    counts = [shape[0] * row for shape in shapes]
    displs = [sum(counts[:r]) for r in range(comm.size)]
    into = work.new_empty((sum(s[0] for s in shapes), *shapes[0][1:]))

    def start(comm, stream, keep):
        args = (address(work), work.numel(), address(into), counts, displs, dtype)
        if keep is None:
            return comm.allgatherv(*args, stream=stream)
        return comm.allgatherv_async(*args, keep=keep)

    return Handle(_run(what, blocking, start, work, (work, into)), lambda: into)


def allgather(tensor, name=None):
    """Every rank's `tensor` concatenated along the first dimension, in rank order; the first
    dimension may differ between ranks, the others may not."""
    return _allgather(tensor, "allgather", blocking=True)._complete()


def allgather_async(tensor, name=None):
    """allgather started: the shapes are exchanged now, the data asynchronously."""
    return _allgather(tensor, "allgather_async", blocking=False)


def barrier():
    """Returns once every rank has entered it."""
    communicator("barrier").barrier()
