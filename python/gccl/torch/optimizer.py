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
import weakref

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


# id(parameter) -> weak references to the parameter and to the DistributedOptimizer whose hooks
# reduce it. Not a WeakKeyDictionary: its lookups compare keys with ==, which tensors answer
# elementwise; and not an attribute of the parameter, which torch.save would try to pickle.
_OWNERS = {}


def _take_over(params, optimizer):
    """Makes `optimizer` the one that reduces `params`, closing any earlier owner's hooks."""
    for key in [key for key, (param, _) in _OWNERS.items() if param() is None]:
        del _OWNERS[key]
    for param in params:
        earlier_param, earlier = _OWNERS.get(id(param), (lambda: None, lambda: None))
        if earlier_param() is param and earlier() is not None:
            earlier().close()
        _OWNERS[id(param)] = (weakref.ref(param), weakref.ref(optimizer))


class _GradientHook:
    """Calls guard() when a gradient of `param` arrives, before it is accumulated (it may
    raise: nothing is written then), and done() once it has been accumulated; until removed.
    Neither holds the optimizer (see _calls)."""

    def __init__(self, param, guard, done):
        self._guard = param.register_hook(lambda grad: guard())
        if hasattr(param, "register_post_accumulate_grad_hook"):  # torch >= 2.1
            self._accumulator = None
            self._done = param.register_post_accumulate_grad_hook(lambda _: done())
            return
        # Older torch: the hook of the parameter's AccumulateGrad node, as Horovod does. The
        # parameter holds its node only weakly: without this reference the node, and the hook
        # with it, would be gone once the first backward's graph is freed. The node exists
        # only where autograd records, also when the optimizer is built under no_grad.
        with torch.enable_grad():
            self._accumulator = param.expand_as(param).grad_fn.next_functions[0][0]
        self._done = self._accumulator.register_hook(lambda *_: done())

    def remove(self):
        self._guard.remove()
        self._done.remove()
        self._accumulator = None


def _remove_hooks(hooks):
    for hook in hooks:
        hook.remove()
    hooks.clear()


def _calls(optimizer, method, *args):
    """A hook that calls optimizer.method(*args) while the optimizer lives: hooks hold the
    optimizer weakly, so that dropping it frees it and its pool."""
    ref = weakref.ref(optimizer)

    def hook():
        target = ref()
        if target is not None:
            getattr(target, method)(*args)
    return hook


def _wire_format(compression):
    if compression not in (Compression.none, Compression.fp16, Compression.bf16):
        raise TypeError(f"gccl.torch.DistributedOptimizer: compression {compression!r} is none "
                        "of Compression.none, fp16, bf16 (the gradient sync encodes on the "
                        "wire itself)")
    return compression.wire


class _DistributedOptimizer(torch.optim.Optimizer):
    """The methods mixed into the wrapped optimizer's class (see DistributedOptimizer)."""

    def __init__(self, params, named_parameters, compression, backward_passes_per_step, op,
                 bucket_bytes, sparse, copy_mode):
        self._gccl_base.__init__(self, params)
        if op not in (Average, Sum):
            raise ValueError(f"gccl.torch.DistributedOptimizer: op {op!r} is not Average or Sum")
        if backward_passes_per_step < 1:
            raise ValueError("gccl.torch.DistributedOptimizer: backward_passes_per_step must be "
                             "at least 1")
        wire = _wire_format(compression)
        self._passes_per_step = backward_passes_per_step
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
        self._names = self._name_parameters(named_parameters, managed)
        self._copy_mode = bool(copy_mode) or any(p.device.type != "cpu" for p in managed)
        sync = GradSync(
            communicator("DistributedOptimizer"), bucket_bytes=bucket_bytes, wire=wire,
            average=op is Average, copy_mode=self._copy_mode,
            sparse_density=sparse.density if sparse else None,
            sparse_chunk=sparse.chunk if sparse else 1024,
            sparse_warmup_steps=sparse.warmup_steps if sparse else 0,
            sparse_momentum=sparse.momentum if sparse else 0.0)
        self._pool = _Pool(sync)
        for name, param in zip(self._names, managed):
            sync.register(name, param.numel(), gccl_dtype(param.dtype, "DistributedOptimizer"))
        sync.finalize()
        _take_over(managed, self)
        self._views = []
        if not self._copy_mode:
            for index, param in enumerate(managed):
                view = self._pool.view(sync.address(index), param)
                if param.grad is not None:
                    view.copy_(param.grad)
                param.grad = view
                self._views.append(view)
        self._start_step()
        self._synchronized = False
        self._skip_synchronize = False
        self.non_finite = False  # whether the last step's reduced gradients had an inf or NaN
        self._closed = False
        self._hooks = [_GradientHook(p, _calls(self, "_gradient_arrives", i),
                                     _calls(self, "_gradient_done", i))
                       for i, p in enumerate(managed)]
        # Hooks outlive a dropped optimizer on torch >= 2.1 (they are the parameter's): gone
        # with it. The list holds no reference to self.
        weakref.finalize(self, _remove_hooks, self._hooks)

    @staticmethod
    def _name_parameters(named_parameters, managed):
        if named_parameters is None:
            return [f"param.{i}" for i in range(len(managed))]
        names = {}
        for name, param in named_parameters:
            names.setdefault(param, name)
        missing = [i for i, p in enumerate(managed) if p not in names]
        if missing:
            raise ValueError(f"gccl.torch.DistributedOptimizer: named_parameters lacks "
                             f"{len(missing)} of the optimizer's parameters")
        return [names[p] for p in managed]

    def _start_step(self):
        self._passes = [0] * len(self._params)
        self._ready = [False] * len(self._params)
        self._in_flight = {}  # copy mode: the tensors the sync reads and writes back

    def _gradient_arrives(self, index):
        """Before accumulation: a gradient already handed to the sync must not change."""
        self._refuse_if_ready(index)

    def _refuse_if_ready(self, index):
        if self._ready[index]:
            raise RuntimeError(
                f"gccl.torch.DistributedOptimizer: gradient {self._names[index]} was computed "
                f"more than backward_passes_per_step={self._passes_per_step} times before "
                "step(); call step() or synchronize() in between (it was not accumulated)")

    def _gradient_done(self, index):
        self._refuse_if_ready(index)  # (the guard above raised already, unless bypassed)
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
        buffer = param.grad if param.grad.is_contiguous() else param.grad.contiguous()
        if buffer.device.type == "cuda":
            # gccl copies after the work queued on the legacy default stream; the gradient
            # may have been written on another.
            torch.cuda.default_stream(buffer.device).wait_stream(
                torch.cuda.current_stream(buffer.device))
        self._in_flight[index] = buffer  # held until wait() has written the result back
        return buffer.data_ptr()

    def _mark_ready(self, index):
        self._pool.sync.mark_ready(index, self._gradient_buffer(index))
        self._ready[index] = True

    def _check_open(self, what):
        if self._closed:
            raise RuntimeError(f"gccl.torch.DistributedOptimizer.{what}: this optimizer was "
                               "closed (or another DistributedOptimizer took its parameters "
                               "over): use that one")

    def synchronize(self):
        """Waits until every gradient is reduced (those no backward produced this step
        included, as zeros or as they stand); step() calls it unless it was called since.
        Between backward and synchronize the gradients belong to gccl: read or change them
        after it (clipping, GradScaler.unscale_)."""
        self._check_open("synchronize")
        for index in range(len(self._params)):
            if not self._ready[index]:
                self._mark_ready(index)
        try:
            stats = self._pool.sync.wait()
            for index, buffer in self._in_flight.items():
                if buffer is not self._params[index].grad:  # reduced through a copy
                    self._params[index].grad.copy_(buffer)
        finally:
            self._start_step()
        for param, view, name in zip(self._params, self._views, self._names):
            if param.grad is None or param.grad.data_ptr() != view.data_ptr():
                raise RuntimeError(
                    f"gccl.torch.DistributedOptimizer: gradient {name} was replaced after "
                    "backward had handed it to gccl; its reduced value is in the tensor that "
                    "was replaced")
        self.non_finite = stats.non_finite
        self._synchronized = True
        return stats

    @contextlib.contextmanager
    def skip_synchronize(self):
        """Horovod's: step() inside it does not synchronize (synchronize() was called)."""
        self._skip_synchronize = True
        try:
            yield
        finally:
            self._skip_synchronize = False

    def step(self, closure=None):
        """Synchronizes (unless synchronize() came first or skip_synchronize() is on) and
        steps. A closure (LBFGS) runs first, once, for its loss and gradients; the wrapped
        optimizer then steps on the reduced gradients without calling it again."""
        self._check_open("step")
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if not (self._synchronized or self._skip_synchronize):
            self.synchronize()
        self._synchronized = False
        result = self._gccl_base.step(self)
        return loss if closure is not None else result

    def zero_grad(self, set_to_none=None):
        """Zeroes the gradients. Host gradients stay views into gccl's pool (set_to_none is
        ignored for them: a new tensor would have to be copied in at the next backward)."""
        self._check_open("zero_grad")
        self._synchronized = False
        if any(self._ready):
            # A step's buckets are in flight: abandoned. Every rank must do so at the same
            # point, having started the same buckets (gcclGradSyncReset).
            self._pool.sync.reset()
        self._start_step()  # an accumulation begun since the last step starts over too
        if self._copy_mode:
            return self._gccl_base.zero_grad(self, *(() if set_to_none is None
                                                     else (set_to_none,)))
        for param, view in zip(self._params, self._views):
            view.zero_()
            param.grad = view
        return None

    def close(self):
        """Stops reducing: removes the backward hooks; step(), synchronize() and zero_grad()
        refuse from then on. The pool lives on while a gradient view points into it. Done when
        another DistributedOptimizer takes the parameters over."""
        _remove_hooks(self._hooks)
        self._closed = True


def DistributedOptimizer(optimizer, named_parameters=None, compression=Compression.none,
                         backward_passes_per_step=1, op=Average, *, bucket_bytes=25 << 20,
                         sparse=None, copy_mode=False):
    """Wraps `optimizer` so that step() applies gradients averaged (op=Sum: summed) over every
    rank, reduced in buckets of about bucket_bytes during backward. Collective: every rank
    wraps the same parameters in the same order. compression=Compression.fp16 (or bf16) sends
    fp32 gradients as 16 bits and accumulates them in fp32; sparse=Sparse(...) sends only the
    largest chunks of each fp32 bucket. copy_mode=True leaves host gradients in PyTorch's own
    tensors and copies them through gccl's pool, as CUDA gradients always are. The result is
    an instance of a subclass of the optimizer's class, sharing its state and param_groups;
    build LR schedulers on it. Like Horovod's, it runs the optimizer class's constructor again
    on param_groups: settings kept only as attributes by that constructor are not carried over.
    A DistributedOptimizer given here is wrapped afresh (its class's base), taking over."""
    base = getattr(type(optimizer), "_gccl_base", type(optimizer))
    cls = type(base.__name__, (base,), dict(_DistributedOptimizer.__dict__))
    cls._gccl_base = base  # called by name: super(self.__class__, ...) breaks in a subclass
    # torch wraps a class's step() once for its step hooks and profiler; the base class's
    # step(), which ours calls, is wrapped already: marked, ours is not wrapped a second time.
    cls.step.hooked = True
    wrapped = cls(optimizer.param_groups, named_parameters, compression,
                  backward_passes_per_step, op, bucket_bytes, sparse, copy_mode)
    wrapped.state = optimizer.state
    return wrapped
