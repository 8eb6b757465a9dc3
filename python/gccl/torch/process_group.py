"""gccl as a torch.distributed backend: `dist.init_process_group("gccl")`, after which DDP and
torch.distributed's collectives run on gccl with no other change.

    import gccl.torch                      # registers the backend
    dist.init_process_group("gccl")        # torch's own rendezvous: env://, tcp://, file://
    model = torch.nn.parallel.DistributedDataParallel(model)

The process group is torch's Python extension point (a ProcessGroup subclass; the backend's
creator gets torch's store, which carries gccl's unique id from rank 0 to the others). Each
collective is started at once, on gccl's request-based calls for host tensors and its
stream-ordered calls on the current stream for CUDA tensors, and returns a Work around a
torch future. One thread per group waits for the started collectives in the order they were
issued (the order gccl completes them in) and hands their results to their futures
(completions.py), so that DDP's buckets overlap backward as on gloo or NCCL.

gccl has collectives only: point-to-point (send, recv) is refused with an error that says so.
gather and scatter are composed of allgather and broadcast; all-to-all with blocks that differ
in size of an allgather of every rank's sizes and an all-to-all of blocks padded alike.
"""
import datetime
import inspect
import os
import sys
import threading
import weakref

import torch
import torch.distributed as dist
from torch._C._distributed_c10d import Work, _create_work_from_future
from torch.distributed.constants import default_pg_timeout

from .. import _capi
from ..communicator import Communicator, unique_id
from .collectives import _StreamRequest
from .completions import Completions
from .tensors import address, check_device, gccl_dtype, stream_of

BACKEND = "gccl"

_OPS = [(dist.ReduceOp.SUM, _capi.SUM), (dist.ReduceOp.PRODUCT, _capi.PROD),
        (dist.ReduceOp.MIN, _capi.MIN), (dist.ReduceOp.MAX, _capi.MAX),
        (dist.ReduceOp.AVG, _capi.AVG)]


def _op_code(op, what):
    for torch_op, code in _OPS:
        if op == torch_op:
            return code
    names = [name for name in dir(dist.ReduceOp) if name.isupper()]
    name = next((name for name in names if op == getattr(dist.ReduceOp, name)), op)
    raise ValueError(f"{what}: gccl reduces with SUM, PRODUCT, MIN, MAX and AVG, not {name}")


class ProcessGroupGccl(dist.ProcessGroup):
    """A torch.distributed process group whose collectives are gccl's (see the module)."""

    def __init__(self, comm):
        super().__init__(comm.rank, comm.size)
        self._comm = comm
        self._failures = []  # the first one ends the group: later calls raise it
        self._completions = Completions(f"gccl-pg-{comm.rank}",
                                        lambda error: _record(self._failures, error))
        # Left running at exit, the group is shut down then (its thread completes what is
        # outstanding, gccl waits for it and frees the communicator).
        self._finalizer = weakref.finalize(self, _shut_down, comm, self._completions)

    def getBackendName(self):
        return BACKEND

    def shutdown(self):
        """Completes what is outstanding and frees the communicator."""
        self._finalizer()

    # -- collectives, as torch.distributed calls them --------------------------------------

    def allreduce(self, tensors, opts=None):
        what = "ProcessGroupGccl.allreduce"
        tensor = _one(tensors, what)
        op = _op_code(opts.reduceOp if opts else dist.ReduceOp.SUM, what)
        work = _dense(tensor, what)
        start = _starter(self._comm.allreduce, self._comm.allreduce_async, address(work),
                         address(work), work.numel(), gccl_dtype(work.dtype, what), op)
        return self._launch(what, tensor, start, (work,), _copy_back(work, tensor), tensors)

    def allreduce_coalesced(self, tensors, opts=None):
        """One allreduce over the tensors laid end to end (they must share a type)."""
        what = "ProcessGroupGccl.allreduce_coalesced"
        if not tensors:
            raise ValueError(f"{what}: no tensors")
        for tensor in tensors:
            check_device(tensor, what)
            if tensor.dtype != tensors[0].dtype or tensor.device != tensors[0].device:
                raise ValueError(f"{what}: the tensors differ in type or device")
        op = _op_code(opts.reduceOp if opts else dist.ReduceOp.SUM, what)
        flat = torch.cat([t.reshape(-1) for t in tensors])
        start = _starter(self._comm.allreduce, self._comm.allreduce_async, address(flat),
                         address(flat), flat.numel(), gccl_dtype(flat.dtype, what), op)

        return self._launch(what, tensors[0], start, (flat,), lambda: _scatter_rows(flat, tensors),
                            tensors)

    def broadcast(self, tensors, opts=None):
        what = "ProcessGroupGccl.broadcast"
        tensor = _one(tensors, what)
        return self._broadcast(tensor, self._root(opts, what), what, tensors)

    def _broadcast(self, tensor, root, what, result, waited=None):
        work = _dense(tensor, what)
        start = _starter(self._comm.broadcast, self._comm.broadcast_async, address(work),
                         address(work), work.numel(),
                         gccl_dtype(work.dtype, what, copies_only=True), root)
        return self._launch(what, tensor, start, (work,), _copy_back(work, tensor), result,
                            waited)

    def reduce(self, tensors, opts=None):
        """The reduction lands in the root's tensor; the others' are left as they were."""
        what = "ProcessGroupGccl.reduce"
        tensor = _one(tensors, what)
        root = self._root(opts, what)
        op = _op_code(opts.reduceOp if opts else dist.ReduceOp.SUM, what)
        work = _dense(tensor, what)
        into = address(work) if self.rank() == root else None
        start = _starter(self._comm.reduce, self._comm.reduce_async, address(work), into,
                         work.numel(), gccl_dtype(work.dtype, what), op, root)

        finish = _copy_back(work, tensor) if self.rank() == root else lambda: None
        return self._launch(what, tensor, start, (work,), finish, tensors)

    def allgather(self, output_tensors, input_tensors, opts=None):
        """Rank r's input lands in every rank's output_tensors[0][r]; their sizes may differ
        from rank to rank, as long as every rank lists the same ones."""
        what = "ProcessGroupGccl.allgather"
        source = _one(input_tensors, what)
        outputs = _one(output_tensors, what, kind="list of output lists")
        self._check_list(outputs, source, what, "output")
        if outputs[self.rank()].numel() != source.numel():
            raise ValueError(f"{what}: rank {self.rank()}'s input has {source.numel()} elements "
                             f"and its place in the output {outputs[self.rank()].numel()}")
        work = _dense(source, what)
        counts = [t.numel() for t in outputs]
        displs = [sum(counts[:r]) for r in range(len(counts))]
        flat = work.new_empty(sum(counts))
        start = _starter(self._comm.allgatherv, self._comm.allgatherv_async, address(work),
                         work.numel(), address(flat), counts, displs,
                         gccl_dtype(work.dtype, what, copies_only=True))

        def finish():
            _scatter_rows(flat, outputs)
            return output_tensors

        return self._launch(what, source, start, (work, flat), finish, output_tensors)

    def _allgather_base(self, output, source, opts=None):
        """all_gather_into_tensor: every rank's input, in rank order, in one tensor."""
        return self._gather_into(output, source, "ProcessGroupGccl.all_gather_into_tensor")

    def _gather_into(self, output, source, what, waited=None):
        self._check_pair(output, source, self.size(), what, "output", "input")
        work, into = _dense(source, what), _dense(output, what)
        count = work.numel()
        start = _starter(self._comm.allgatherv, self._comm.allgatherv_async, address(work), count,
                         address(into), [count] * self.size(),
                         [r * count for r in range(self.size())],
                         gccl_dtype(work.dtype, what, copies_only=True))
        return self._launch(what, source, start, (work, into), _copy_back(into, output), output,
                            waited)

    def reduce_scatter(self, output_tensors, input_tensors, opts=None):
        """Rank r's output holds the reduction of every rank's input_tensors[0][r]."""
        what = "ProcessGroupGccl.reduce_scatter"
        output = _one(output_tensors, what)
        inputs = _one(input_tensors, what, kind="list of input lists")
        self._check_list(inputs, output, what, "input")
        if any(t.numel() != output.numel() for t in inputs):
            raise ValueError(f"{what}: every input must have the output's {output.numel()} "
                             "elements")
        flat = torch.cat([t.reshape(-1) for t in inputs])
        return self._reduce_scatter(what, output, flat, opts, output_tensors)

    def _reduce_scatter_base(self, output, source, opts=None):
        """reduce_scatter_tensor: block r of the reduced input lands in rank r's output."""
        what = "ProcessGroupGccl.reduce_scatter_tensor"
        self._check_pair(source, output, self.size(), what, "input", "output")
        return self._reduce_scatter(what, output, _dense(source, what), opts, output)

    def _reduce_scatter(self, what, output, flat, opts, result):
        op = _op_code(opts.reduceOp if opts else dist.ReduceOp.SUM, what)
        into = _dense(output, what)
        start = _starter(self._comm.reduce_scatter, self._comm.reduce_scatter_async, address(flat),
                         address(into), into.numel(), gccl_dtype(flat.dtype, what), op)
        return self._launch(what, output, start, (flat, into), _copy_back(into, output), result)

    def gather(self, output_tensors, input_tensors, opts=None):
        """Composed of an allgather (every rank receives what the root keeps: size x the
        input); the root's output_tensors[0] gets rank r's input at r. The root checks its
        outputs after the allgather, so that a refusal there leaves no rank waiting."""
        what = "ProcessGroupGccl.gather"
        source = _one(input_tensors, what)
        root = self._root(opts, what)
        gathered = source.new_empty((self.size(), *source.shape))
        self._gather_into(gathered, source, what, waited=NOW)
        if self.rank() == root:
            outputs = _one(output_tensors, what, kind="list of output lists")
            self._check_list(outputs, source, what, "output", count=source.numel())
            _scatter_rows(gathered.view(-1), outputs)
        return _done(output_tensors)

    def scatter(self, output_tensors, input_tensors, opts=None):
        """Composed of a broadcast of the root's inputs laid end to end (every rank receives
        size x its output); rank r's output_tensors[0] gets the root's input r. Inputs the
        root refuses leave the others waiting in the broadcast until gccl's timeout."""
        what = "ProcessGroupGccl.scatter"
        output = _one(output_tensors, what)
        root = self._root(opts, what)
        everything = output.new_empty((self.size(), *output.shape))
        if self.rank() == root:
            inputs = _one(input_tensors, what, kind="list of input lists")
            self._check_list(inputs, output, what, "input", count=output.numel())
            with torch.no_grad():
                for r, t in enumerate(inputs):
                    everything[r].copy_(t.view(output.shape))
        self._broadcast(everything, root, what, None, waited=NOW)
        with torch.no_grad():
            output.copy_(everything[self.rank()])
        return _done(output_tensors)

    def barrier(self, opts=None):
        what = "ProcessGroupGccl.barrier"
        start = _starter(lambda stream: self._comm.barrier(),
                         lambda keep: self._comm.barrier_async())
        return self._launch(what, None, start, (), lambda: None, [])

    def alltoall_base(self, output, source, output_split_sizes, input_split_sizes, opts=None):
        """all_to_all_single: rank r's rows input_split_sizes[p] go to rank p, and rank p's
        for r land in r's output in rank order (equal blocks when no sizes are given; every
        rank must then give none)."""
        what = "ProcessGroupGccl.all_to_all_single"
        for tensor in (output, source):
            check_device(tensor, what)
        if output.dtype != source.dtype or output.device != source.device:
            raise ValueError(f"{what}: the output and the input differ in type or device")
        if not output_split_sizes and not input_split_sizes:
            self._check_pair(source, output, 1, what, "input", "output")
            if source.numel() % self.size():
                raise ValueError(f"{what}: the input's {source.numel()} elements do not split "
                                 f"into {self.size()} equal blocks")
            work, into = _dense(source, what), _dense(output, what)
            start = _starter(self._comm.alltoall, self._comm.alltoall_async, address(work),
                             address(into), work.numel() // self.size(),
                             gccl_dtype(work.dtype, what, copies_only=True))
            return self._launch(what, output, start, (work, into), _copy_back(into, output),
                                output)

        def sizes():
            gccl_dtype(source.dtype, what, copies_only=True)
            return (_row_split(source, input_split_sizes, self.size(), what, "input"),
                    _row_split(output, output_split_sizes, self.size(), what, "output"))

        return self._alltoall_uneven(what, sizes, lambda: _dense(source, what).view(-1),
                                     [output], output)

    def alltoall(self, output_tensors, input_tensors, opts=None):
        """all_to_all: input_tensors[p] goes to rank p, and rank p's tensor for this rank
        lands in output_tensors[p]; sizes may differ, as long as each pair of ranks agrees."""
        what = "ProcessGroupGccl.all_to_all"

        def sizes():
            if not input_tensors:
                raise ValueError(f"{what}: no input tensors")
            self._check_list(input_tensors, input_tensors[0], what, "input")
            self._check_list(output_tensors, input_tensors[0], what, "output")
            gccl_dtype(input_tensors[0].dtype, what, copies_only=True)
            return [t.numel() for t in input_tensors], [t.numel() for t in output_tensors]

        return self._alltoall_uneven(what, sizes,
                                     lambda: torch.cat([t.reshape(-1) for t in input_tensors]),
                                     output_tensors, output_tensors)

    def _alltoall_uneven(self, what, sizes, flatten, outputs, result):
        """Sends consecutive pieces of flatten()'s tensor, sends[p] elements to rank p, and
        fills `outputs`, laid end to end, with receives[s] elements from each rank s, where
        (sends, receives) = sizes(). Every rank first learns every rank's sizes, or that it
        refused its arguments (sizes() raised a ValueError or TypeError), through an
        allgather: so all ranks refuse a call that any rank refuses or whose pairs disagree,
        and none is left waiting. The tensors then go through one alltoallv, block by block
        as they lie (device tensors staged through host memory, on the current stream); above
        gcclAllToAllV's 1024 ranks through one all-to-all of blocks padded to the largest,
        which holds n x the largest block twice on each rank (docs/pytorch.md). Every rank's
        tensors must be on the host, or every rank's on a device: ranks that stage and ranks
        that do not would issue different collectives, so the same allgather tells every rank
        to refuse a mix."""
        n = self.size()
        try:
            sends, receives = sizes()
            refusal = None
        except (ValueError, TypeError) as error:
            sends, receives, refusal = [0] * n, [0] * n, error
        on_device = refusal is None and any(t.device.type != "cpu" for t in outputs)
        mine = torch.tensor([int(refusal is not None), int(on_device)] + sends + receives,
                            dtype=torch.int64)
        row = mine.numel()
        everyone = torch.empty(n * row, dtype=torch.int64)
        try:
            self._raise_earlier_failure(what)
            self._comm.allgatherv(address(mine), row, address(everyone), [row] * n,
                                  [r * row for r in range(n)], _capi.INT64)
        except _capi.GcclError as error:
            _record(self._failures, error)
            raise
        # [refused, on a device, sends to p..., receives from p...]
        table = everyone.view(n, row).tolist()
        if refusal is not None:
            raise refusal
        refused = [r for r in range(n) if table[r][0]]
        if refused:
            raise ValueError(f"{what}: rank(s) {refused} refused their arguments")
        for s in range(n):
            for r in range(n):
                sent, expected = table[s][2 + r], table[r][2 + n + s]
                if sent != expected:
                    raise ValueError(f"{what}: rank {s} sends {sent} elements to rank {r}, "
                                     f"which expects {expected}")
        on_devices = [r for r in range(n) if table[r][1]]
        if on_devices and len(on_devices) < n:
            raise ValueError(f"{what}: rank(s) {on_devices} pass device tensors and the others "
                             "host tensors; every rank's must be on the same kind of device")
        flat = flatten()
        dtype = gccl_dtype(flat.dtype, what, copies_only=True)
        if n <= _MOST_ALLTOALLV_RANKS:
            return self._alltoallv(what, flat, sends, receives, dtype, outputs, result)
        block = max(max(entries[2:2 + n]) for entries in table)
        padded = flat.new_zeros(n * block)
        received = flat.new_empty(n * block)
        offset = 0
        with torch.no_grad():
            for p, count in enumerate(sends):
                padded[p * block:p * block + count].copy_(flat[offset:offset + count])
                offset += count
        start = _starter(self._comm.alltoall, self._comm.alltoall_async, address(padded),
                         address(received), block, dtype)

        def finish():
            pieces = [received[s * block:s * block + count] for s, count in enumerate(receives)]
            _scatter_rows(torch.cat(pieces), outputs)

        return self._launch(what, flat, start, (padded, received), finish, result)

    def _alltoallv(self, what, flat, sends, receives, dtype, outputs, result):
        """The unpadded half of _alltoall_uneven: flat's blocks as they lie, into one tensor
        that holds the received blocks end to end, then into `outputs`."""
        received = flat.new_empty(sum(receives))
        start = _starter(self._comm.alltoallv, self._comm.alltoallv_async, address(flat), sends,
                         _offsets(sends), address(received), receives, _offsets(receives), dtype)
        return self._launch(what, flat, start, (flat, received),
                            lambda: _scatter_rows(received, outputs), result)

    def _refuse(self, what):
        raise RuntimeError(f"ProcessGroupGccl.{what}: gccl has collectives only, no "
                           "point-to-point; use a gloo group for it "
                           "(dist.new_group(backend='gloo'))")

    def send(self, *args, **kwargs):
        self._refuse("send")

    def recv(self, *args, **kwargs):
        self._refuse("recv")

    def recv_anysource(self, *args, **kwargs):
        self._refuse("recv_anysource")

    # -- helpers -----------------------------------------------------------------------------

    def _launch(self, what, tensor, start, keep, finish, result, waited=None):
        """Starts a collective and returns its Work, done once finish() has put the result in
        place. `start(stream, keep)` makes gccl's call: blocking when `keep` is None (on
        `stream`, a CUDA stream's handle, or on the host when that is None), else a request
        that holds `keep` until it completes. `waited`: how the caller waits for the Work
        (None: judged from the caller).

        - NOW, on the host: gccl's blocking call, which raises its error here.
        - A device tensor: the collective and finish() are ordered on the current stream, as
          NCCL's are; NOW returns then, any other waits for the stream to pass them.
        - USER and FUTURE, on the host: a request, completed by the group's thread. A Work made
          from a future does not raise from wait() (torch's FutureWrappingWork): FUTURE's
          callers (DDP's reducer) read the error from its future, which re-raises it; USER gets
          a Work whose wait() raises it.

        A failure ends the group: later calls raise it."""
        self._raise_earlier_failure(what)
        stream = stream_of(tensor) if tensor is not None else None
        waited = waited or _how_waited()
        try:
            if stream is None and waited is NOW:
                start(None, None)
                finish()
                return _done(result)
            future = torch.futures.Future()
            if stream is not None:
                start(stream.cuda_stream, None)
                with torch.cuda.stream(stream):
                    finish()
                self._completions.add(_StreamRequest(self._comm, stream, what, keep),
                                      lambda: result, future)
                if waited is NOW:
                    return _done(result)
            else:
                request = start(None, keep)
                self._completions.add(request, lambda: (finish(), result)[1], future)
        except _capi.GcclError as error:
            _record(self._failures, error)
            raise
        chained = future.then(_value)
        if waited is USER:
            return _Work(what, future, chained)
        return _create_work_from_future(chained)

    def _raise_earlier_failure(self, what):
        if self._failures:
            result, message = self._failures[0]
            raise _capi.GcclError(result, f"{what}: an earlier collective of this group "
                                          f"failed: {message}")

    def _root(self, opts, what):
        root = opts.rootRank if opts else 0
        if not 0 <= root < self.size():
            raise ValueError(f"{what}: root {root} is out of range for {self.size()} ranks")
        return root

    def _check_list(self, tensors, like, what, kind, count=None):
        """One tensor per rank, of `like`'s type and device (and of `count` elements)."""
        if len(tensors) != self.size():
            raise ValueError(f"{what}: {len(tensors)} {kind} tensors for {self.size()} ranks")
        for tensor in tensors:
            check_device(tensor, what)
            if tensor.dtype != like.dtype or tensor.device != like.device:
                raise ValueError(f"{what}: the {kind} tensors differ from {like.dtype} on "
                                 f"{like.device}")
            if count is not None and tensor.numel() != count:
                raise ValueError(f"{what}: an {kind} tensor has {tensor.numel()} elements, "
                                 f"not {count}")

    @staticmethod
    def _check_pair(whole, part, size, what, whole_name, part_name):
        for tensor in (whole, part):
            check_device(tensor, what)
        if whole.dtype != part.dtype or whole.device != part.device:
            raise ValueError(f"{what}: the {whole_name} and the {part_name} differ in type or "
                             "device")
        if whole.numel() != size * part.numel():
            raise ValueError(f"{what}: the {whole_name} has {whole.numel()} elements, not "
                             f"{size} x the {part_name}'s {part.numel()}")


_C10D = dist.distributed_c10d.__name__


# How the caller will wait for a collective's Work (see ProcessGroupGccl._launch).
NOW, USER, FUTURE = "waited for at once", "held by the user", "read through its future"
# DDP's helpers that wait for a Work at once from C++ (the parameter check, the broadcasts of
# parameters and buffers, the bucket rebuild), by the module of the Python code calling them.
_WAITING_HELPERS = {"torch.nn.parallel.distributed", "torch.distributed.utils"}
# DDP's communication hooks: their collectives are waited for at once, so that the collectives
# their callbacks issue (PowerSGD's) are issued by backward's thread, in the same order on
# every rank, as under NCCL, where a hook's future is complete when it is made.
_HOOKS = "torch.distributed.algorithms.ddp_comm_hooks"


def _how_waited():
    """Judged by the first frame outside this module: torch.distributed's API says with
    async_op (or async_ops): False is NOW; True is USER when user code called it, and FUTURE
    when torch's own code did (it may hand the Work to C++, DDP's Join does), NOW within a
    communication hook. DDP's waiting helpers are NOW. Anyone else (DDP's reducer, a direct
    call) is FUTURE."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    module = frame.f_globals.get("__name__", "") if frame is not None else ""
    if module == _C10D:
        local = frame.f_locals
        async_op = local.get("async_op", local.get("async_ops"))
        caller = frame.f_back.f_globals.get("__name__", "") if frame.f_back else ""
        if async_op is False or caller.startswith(_HOOKS):
            return NOW
        if async_op:
            return FUTURE if caller.startswith("torch.") else USER
    return NOW if module in _WAITING_HELPERS else FUTURE


class _Work(Work):
    """What torch.distributed's API returns for async_op=True: its wait() raises the
    collective's error, as gloo's does (a Work made from a future returns regardless), and
    honours a timeout."""

    def __init__(self, what, future, chained):
        super().__init__()
        self._what = what
        self._future = future  # raises the error itself, as it was raised
        self._chained = chained  # carries it as a torch error, for C++ waiters
        done = threading.Event()  # not self's: no cycle through the future
        future.add_done_callback(lambda _: done.set())
        self._done = done

    def wait(self, timeout=None):
        seconds = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else None
        if seconds and not self._done.wait(seconds):  # torch's no-timeout is zero
            raise RuntimeError(f"{self._what}: not complete after {timeout} (still running)")
        self._future.wait()
        return True

    def is_completed(self):
        return self._future.done()

    def is_success(self):
        if not self._future.done():
            return False
        try:
            self._future.wait()
        except Exception:
            return False
        return True

    def get_future(self):
        return self._chained

    def result(self):
        return self._future.wait()


def _starter(call, call_async, *args):
    """The `start(stream, keep)` that ProcessGroupGccl._launch takes: gccl's blocking `call`
    (on `stream`) when `keep` is None, else `call_async`'s request, which holds `keep`."""
    def start(stream, keep):
        if keep is None:
            return call(*args, stream=stream)
        return call_async(*args, keep=keep)
    return start


# gcclAllToAllV's limit (include/gccl/gccl.h): above it, the padded all-to-all.
_MOST_ALLTOALLV_RANKS = 1024


def _offsets(counts):
    """Where each of `counts` blocks starts when they lie end to end."""
    starts, at = [], 0
    for count in counts:
        starts.append(at)
        at += count
    return starts


def _one(tensors, what, kind="list of tensors"):
    if len(tensors) != 1:
        raise ValueError(f"{what}: one {kind} per call, not {len(tensors)} (one device per "
                         "process)")
    if isinstance(tensors[0], torch.Tensor):
        check_device(tensors[0], what)
    return tensors[0]


def _dense(tensor, what):
    """The tensor itself when gccl can work in it, else a contiguous copy."""
    check_device(tensor, what)
    return tensor if tensor.is_contiguous() else tensor.contiguous()


def _copy_back(work, tensor):
    """What puts a collective's result into `tensor` when gccl worked in a copy."""
    def finish():
        if work.data_ptr() != tensor.data_ptr():
            with torch.no_grad():
                tensor.copy_(work.view(tensor.shape))
    return finish


def _scatter_rows(flat, outputs):
    """Copies consecutive pieces of `flat` into `outputs`, one each."""
    offset = 0
    with torch.no_grad():
        for tensor in outputs:
            tensor.copy_(flat[offset:offset + tensor.numel()].view(tensor.shape))
            offset += tensor.numel()


def _row_split(tensor, sizes, ranks, what, name):
    """Elements per rank of `tensor`, cut along its first dimension by `sizes` (equal parts
    when none are given)."""
    rows = tensor.shape[0] if tensor.dim() > 0 else 1
    per_row = tensor.numel() // rows if rows else 0
    if not sizes:
        if rows % ranks:
            raise ValueError(f"{what}: the {name}'s {rows} rows do not split into {ranks} "
                             "equal blocks")
        sizes = [rows // ranks] * ranks
    if len(sizes) != ranks or sum(sizes) != rows or min(sizes) < 0:
        raise ValueError(f"{what}: {name} split sizes {list(sizes)} do not cut {rows} rows "
                         f"among {ranks} ranks")
    return [size * per_row for size in sizes]


def _record(failures, error):
    """Keeps the first failure's result and message (not the error: its traceback would keep
    the frames, and their tensors, alive with the group)."""
    if not failures:
        failures.append((getattr(error, "result", _capi.INTERNAL_ERROR), str(error)))


def _value(future):
    return future.value()  # raises the collective's error, if it failed


def _done(result):
    future = torch.futures.Future()
    future.set_result(result)
    return _create_work_from_future(future)


def _shut_down(comm, completions):
    completions.stop(then=comm.destroy)


def _timeout_ms(timeout):
    """The group's timeout for gccl (0: GCCL_TIMEOUT_MS, else gccl's default): the one given to
    torch, unless GCCL_TIMEOUT_MS is set. torch's default (30 minutes, which torch cannot tell
    from the same value given) is left to gccl's, so that a silent peer is named as soon as
    gccl's own timeout says."""
    if (os.environ.get("GCCL_TIMEOUT_MS") or not isinstance(timeout, datetime.timedelta)
            or timeout == default_pg_timeout):
        return 0
    return max(1, min(int(timeout.total_seconds() * 1000), 2**31 - 1))


def _create(store, rank, size, timeout):
    """The backend's creator: rank 0's unique id travels through torch's store (a prefix
    store of this group's own), then every rank joins gccl's communicator."""
    key = "gccl_unique_id"
    if rank == 0:
        store.set(key, unique_id())
    comm = Communicator.from_unique_id(size, store.get(key), rank, _timeout_ms(timeout))
    return ProcessGroupGccl(comm)


def register():
    """Makes "gccl" a torch.distributed backend; importing gccl.torch does it."""
    if BACKEND.upper() in dist.Backend._plugins:
        return
    options = {}
    if "devices" in inspect.signature(dist.Backend.register_backend).parameters:
        options["devices"] = ["cpu", "cuda"]  # torch >= 2.1 asks (and warns without)
    dist.Backend.register_backend(BACKEND, _create, **options)
