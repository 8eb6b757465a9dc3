"""DistributedOptimizer: Horovod's optimizer wrapper, on gccl's gradient sync.

Host gradients live in one pool that gccl owns (view mode): each parameter's .grad is a view
into it, so autograd accumulates straight into the buffers that are reduced, with no copy. A
backward hook marks each gradient ready; a bucket of about bucket_bytes starts as an
asynchronous allreduce as soon as its gradients and every earlier bucket are ready, while
backward goes on. step() waits for the last buckets and then runs the wrapped optimizer.
CUDA gradients stay in their own memory (copy mode): gccl copies them through the pool.
"""
import contextlib
import ctypes

import torch

from ..grad_sync import GradSync
from .collectives import Average, Sum
from .compression import Compression
from .tensors import gccl_dtype
from .world import communicator


class Sparse:
    """Coarse-grained sparse gradients: of each fp32 bucket's chunks of `chunk` elements, the
    ceil(density x chunks) with the largest summed norms go on the wire (fp16), the rest stays
    in a residual that later steps add back (error feedback). The first warmup_steps are
    dense; momentum > 0 adds momentum correction."""

    def __init__(self, density=0.01, chunk=1024, warmup_steps=0, momentum=0.0):
        self.density, self.chunk = density, chunk
        self.warmup_steps, self.momentum = warmup_steps, momentum


class _Pool:
    """Owns the gradient sync; every view into its pool holds it, so that the pool outlives
    the last gradient tensor that points into it."""

    def __init__(self, sync):
        self.sync = sync

    def view(self, address, param):
        nbytes = param.numel() * param.element_size()
        memory = (ctypes.c_byte * nbytes).from_address(address)
        memory.owner = self  # torch.frombuffer keeps `memory` alive, and so this
        return torch.frombuffer(memory, dtype=param.dtype).view_as(param)

    def __del__(self):
        if self.sync is not None:
            self.sync.destroy()


def _gradient_hook(param, hook):
    """Calls hook() once the gradient of `param` has been accumulated. Returns what must stay
    alive for the hook to stay registered."""
    if hasattr(param, "register_post_accumulate_grad_hook"):  # torch >= 2.1
        return param.register_post_accumulate_grad_hook(lambda _: hook())
    # Older torch: the hook of the parameter's AccumulateGrad node, as Horovod does.
    accumulator = param.expand_as(param).grad_fn.next_functions[0][0]
    accumulator.register_hook(lambda *_: hook())
    return accumulator


class _DistributedOptimizer(torch.optim.Optimizer):
    """The methods mixed into the wrapped optimizer's class (see DistributedOptimizer)."""

    def __init__(self, params, named_parameters, compression, backward_passes_per_step, op,
                 bucket_bytes, sparse):
        super(self.__class__, self).__init__(params)
        if op not in (Average, Sum):
            raise ValueError(f"gccl.torch.DistributedOptimizer: op {op!r} is not Average or Sum")
        if backward_passes_per_step < 1:
            raise ValueError("gccl.torch.DistributedOptimizer: backward_passes_per_step must be "
                             "at least 1")
        self._passes_per_step = backward_passes_per_step
        names = {}
        for name, param in named_parameters or ():
            names.setdefault(param, name)
        # Backward produces gradients roughly in reverse order of the parameters: registered
        # in that order, the first buckets fill first.
        seen, managed = set(), []
        for group in self.param_groups:
            for param in group["params"]:
                if param.requires_grad and param.numel() and id(param) not in seen:
                    seen.add(id(param))
                    managed.append(param)
        managed.reverse()
        self._params = managed
        self._names = [names.get(p, f"param.{i}") for i, p in enumerate(managed)]
        self._copy_mode = any(p.device.type != "cpu" for p in managed)
        comm = communicator("DistributedOptimizer")
        sync = GradSync(
            comm, bucket_bytes=bucket_bytes, wire=compression.wire, average=op is Average,
            copy_mode=self._copy_mode,
            sparse_density=sparse.density if sparse else None,
            sparse_chunk=sparse.chunk if sparse else 1024,
            sparse_warmup_steps=sparse.warmup_steps if sparse else 0,
            sparse_momentum=sparse.momentum if sparse else 0.0)
        self._pool = _Pool(sync)
        for name, param in zip(self._names, managed):
            sync.register(name, param.numel(), gccl_dtype(param.dtype, "DistributedOptimizer"))
        sync.finalize()
        self._views = []
        if not self._copy_mode:
            for index, param in enumerate(managed):
                view = self._pool.view(sync.address(index), param)
                if param.grad is not None:
                    view.copy_(param.grad)
                param.grad = view
                self._views.append(view)
        self._passes = [0] * len(managed)
        self._ready = [False] * len(managed)
        self._synchronized = False
        self.non_finite = False  # whether the last step's reduced gradients had an inf or NaN
        self._hooks = [_gradient_hook(p, self._hook(i)) for i, p in enumerate(managed)]

    def _hook(self, index):
        return lambda: self._gradient_done(index)

    def _gradient_done(self, index):
        if self._ready[index]:
            raise RuntimeError(
                f"gccl.torch.DistributedOptimizer: gradient {self._names[index]} was computed "
                f"more than backward_passes_per_step={self._passes_per_step} times before "
                "step(); call step() or synchronize() in between")
        self._synchronized = False  # a new backward: step() must wait for it
        self._passes[index] += 1
        if self._passes[index] == self._passes_per_step:
            self._mark_ready(index)

    def _gradient_buffer(self, index):
        """The gradient's memory for this step, where the sync reads (and writes) it."""
        param = self._params[index]
        if not self._copy_mode:
            view = self._views[index]
            if param.grad is None:
                view.zero_()
                param.grad = view
            elif param.grad.data_ptr() != view.data_ptr():  # zero_grad(set_to_none) before
                view.copy_(param.grad)
                param.grad = view
            return None
        if param.grad is None:
            param.grad = torch.zeros_like(param)
        if not param.grad.is_contiguous():
            param.grad = param.grad.contiguous()
        return param.grad.data_ptr()

    def _mark_ready(self, index):
        self._pool.sync.mark_ready(index, self._gradient_buffer(index))
        self._ready[index] = True

    def synchronize(self):
        """Waits until every gradient is reduced (those no backward produced this step
        included, as zeros or as they stand); step() calls it unless it was called since."""
        for index in range(len(self._params)):
            if not self._ready[index]:
                self._mark_ready(index)
        try:
            stats = self._pool.sync.wait()
        finally:
            self._passes = [0] * len(self._params)
            self._ready = [False] * len(self._params)
        self.non_finite = stats.non_finite
        self._synchronized = True
        return stats

    @contextlib.contextmanager
    def skip_synchronize(self):
        """Horovod's: step() inside it does not synchronize (synchronize() was called)."""
        self._synchronized = True
        yield

    def step(self, closure=None):
        if not self._synchronized:
            self.synchronize()
        self._synchronized = False
        return super(self.__class__, self).step(closure)

    def zero_grad(self, set_to_none=None):
        """Zeroes the gradients. Host gradients stay views into gccl's pool (set_to_none is
        ignored for them: a new tensor would have to be copied in at the next backward)."""
        self._synchronized = False
        if any(self._ready):  # a step's buckets are in flight: every rank abandons it alike
            self._pool.sync.reset()
            self._passes = [0] * len(self._params)
            self._ready = [False] * len(self._params)
        if self._copy_mode:
            return super(self.__class__, self).zero_grad(
                *(() if set_to_none is None else (set_to_none,)))
        for param, view in zip(self._params, self._views):
            view.zero_()
            param.grad = view
        return None


def DistributedOptimizer(optimizer, named_parameters=None, compression=Compression.none,
                         backward_passes_per_step=1, op=Average, bucket_bytes=25 << 20,
                         sparse=None):
    """Wraps `optimizer` so that step() applies gradients averaged (op=Sum: summed) over every
    rank, reduced in buckets of about bucket_bytes during backward. Collective: every rank
    wraps the same parameters in the same order. compression=Compression.fp16 (or bf16) sends
    fp32 gradients as 16 bits and accumulates them in fp32; sparse=Sparse(...) sends only the
    largest chunks of each fp32 bucket. The result is an instance of a subclass of the
    optimizer's class, sharing its state."""
    cls = type(optimizer.__class__.__name__, (optimizer.__class__,),
               dict(_DistributedOptimizer.__dict__))
    wrapped = cls(optimizer.param_groups, named_parameters, compression,
                  backward_passes_per_step, op, bucket_bytes, sparse)
    wrapped.state = optimizer.state
    return wrapped
