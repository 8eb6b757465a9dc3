"""One rank of the torch.distributed backend test (run by launch.py --torchrun): the process
group "gccl" under torch's own API and under DistributedDataParallel.

  torch_process_group.py collectives NRANKS [DEVICE]   every call, every result exact
  torch_process_group.py ddp NRANKS [DEVICE]           DDP variants against one process
  torch_process_group.py FAULT NRANKS                  mismatch, async_mismatch, dead,
                                                       dead_before_ddp, dead_in_ddp, silent:
                                                       an error on every rank

Inputs are small integers, as in torch_collectives.py (whose contribution() and expected()
are used here), so every dtype holds every input and result exactly.
"""
import datetime
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.distributed.algorithms.ddp_comm_hooks.default_hooks  # noqa: F401
import torch.distributed.algorithms.ddp_comm_hooks.powerSGD_hook  # noqa: F401
from torch.distributed.algorithms.join import Join

import gccl
import gccl.torch as hvd  # registers the "gccl" backend
import torch_collectives as values
from torch_optimizer import Model, count_calls  # the optimizer test's model and spy

ReduceOp = dist.ReduceOp
OPS = {ReduceOp.SUM: hvd.Sum, ReduceOp.AVG: hvd.Average, ReduceOp.PRODUCT: hvd.Product,
       ReduceOp.MIN: hvd.Min, ReduceOp.MAX: hvd.Max}
DEVICE = torch.device("cpu")


def contribution(rank, n, op=ReduceOp.SUM, dtype=torch.float32, count=values.COUNT):
    return values.contribution(rank, n, OPS[op], dtype, count).to(DEVICE)


def expected(n, op=ReduceOp.SUM, dtype=torch.float32, count=values.COUNT):
    return values.expected(n, OPS[op], dtype, count)


def same(what, got, want):
    got, want = got.cpu(), want.cpu()
    if got.dtype != want.dtype or got.shape != want.shape or not torch.equal(got, want):
        raise AssertionError(f"rank {dist.get_rank()}: {what}: got {got.tolist()} "
                             f"({got.dtype}, {list(got.shape)}), want {want.tolist()} "
                             f"({want.dtype}, {list(want.shape)})")


def check_all_reduce(r, n):
    for dtype in values.DTYPES:
        for op in OPS:
            what = f"all_reduce {dtype} {OPS[op]}"
            tensor = contribution(r, n, op, dtype)
            dist.all_reduce(tensor, op=op)
            same(what, tensor, expected(n, op, dtype))
            tensor = contribution(r, n, op, dtype)
            work = dist.all_reduce(tensor, op=op, async_op=True)
            work.wait()
            same(f"{what} async", tensor, expected(n, op, dtype))
            assert work.is_completed(), what
            result = work.get_future().wait()
            assert result[0] is tensor, (what, result)
    # A strided view is reduced through a contiguous copy; the elements between stay.
    base = contribution(r, n, count=4 * 37).view(4, 37)
    dist.all_reduce(base[:, ::2])
    want = contribution(r, n, count=4 * 37).view(4, 37)
    want[:, ::2] = expected(n, count=4 * 37).view(4, 37)[:, ::2]
    same("all_reduce of a strided view", base, want)
    base = contribution(r, n, count=4 * 37).view(4, 37)
    dist.all_reduce(base[:, ::2], async_op=True).wait()  # written back by the group's thread
    same("all_reduce async of a strided view", base, want)
    # Complex numbers: torch hands their real view to the group.
    tensor = torch.complex(contribution(r, n), contribution(r, n) * 2)
    dist.all_reduce(tensor)
    same("all_reduce complex64", tensor, torch.complex(expected(n), expected(n) * 2))
    empty = torch.empty(0, device=DEVICE)
    dist.all_reduce(empty)
    tensors = [contribution(r, n, dtype=torch.int32), contribution(r, n, dtype=torch.int32,
                                                                   count=5).view(5, 1)]
    dist.all_reduce_coalesced(tensors)
    same("all_reduce_coalesced 0", tensors[0], expected(n, dtype=torch.int32))
    same("all_reduce_coalesced 1", tensors[1], expected(n, dtype=torch.int32, count=5).view(5, 1))


def check_broadcast_and_reduce(r, n):
    for root in range(n):
        for dtype in (torch.int8, torch.int64, torch.bfloat16, torch.float32, torch.bool):
            tensor = contribution(r, n, dtype=dtype)
            dist.broadcast(tensor, root)
            same(f"broadcast {dtype} from {root}", tensor, contribution(root, n, dtype=dtype))
            tensor = contribution(r, n, dtype=dtype)
            dist.broadcast(tensor, root, async_op=True).wait()
            same(f"broadcast async {dtype} from {root}", tensor,
                 contribution(root, n, dtype=dtype))
        for op in (ReduceOp.SUM, ReduceOp.MAX):
            tensor = contribution(r, n, op, torch.int32)
            dist.reduce(tensor, root, op=op)
            want = expected(n, op, torch.int32) if r == root else contribution(r, n, op,
                                                                              torch.int32)
            same(f"reduce {OPS[op]} to {root} (on rank {r})", tensor, want)


def check_gathers(r, n):
    for dtype in (torch.int8, torch.float64):
        outputs = [torch.zeros(values.COUNT, dtype=dtype, device=DEVICE) for _ in range(n)]
        dist.all_gather(outputs, contribution(r, n, dtype=dtype))
        for q in range(n):
            same(f"all_gather {dtype} [{q}]", outputs[q], contribution(q, n, dtype=dtype))
        outputs = [torch.zeros(values.COUNT, dtype=dtype, device=DEVICE) for _ in range(n)]
        dist.all_gather(outputs, contribution(r, n, dtype=dtype), async_op=True).wait()
        for q in range(n):
            same(f"all_gather async {dtype} [{q}]", outputs[q], contribution(q, n, dtype=dtype))
        flat = torch.zeros(n * values.COUNT, dtype=dtype, device=DEVICE)
        dist.all_gather_into_tensor(flat, contribution(r, n, dtype=dtype), async_op=True).wait()
        same(f"all_gather_into_tensor {dtype}", flat,
             torch.cat([contribution(q, n, dtype=dtype) for q in range(n)]))
    # Sizes that differ by rank (torch's API passes them through; gccl's allgatherv takes them).
    outputs = [torch.zeros(q + 1, 2, device=DEVICE) for q in range(n)]
    dist.all_gather(outputs, torch.full((r + 1, 2), float(r), device=DEVICE))
    for q in range(n):
        same(f"all_gather uneven [{q}]", outputs[q], torch.full((q + 1, 2), float(q)))
    for root in range(n):
        gathered = [torch.zeros(values.COUNT, device=DEVICE) for _ in range(n)]
        dist.gather(contribution(r, n), gathered if r == root else None, dst=root)
        if r == root:
            for q in range(n):
                same(f"gather to {root} [{q}]", gathered[q], contribution(q, n))
        received = torch.zeros(values.COUNT, device=DEVICE)
        pieces = [contribution(q, n) * (root + 1) for q in range(n)] if r == root else None
        dist.scatter(received, pieces, src=root)
        same(f"scatter from {root}", received, contribution(r, n) * (root + 1))
    objects = [None] * n
    dist.all_gather_object(objects, {"rank": r, "name": f"r{r}"})
    assert objects == [{"rank": q, "name": f"r{q}"} for q in range(n)], objects
    sent = [f"from {r}", r * 1.5] if r == n - 1 else [None, None]
    dist.broadcast_object_list(sent, src=n - 1)
    assert sent == [f"from {n - 1}", (n - 1) * 1.5], sent
    root = n - 1
    gathered = [None] * n if r == root else None
    dist.gather_object(("rank", r), gathered, dst=root)
    if r == root:
        assert gathered == [("rank", q) for q in range(n)], gathered
    received = [None]
    dist.scatter_object_list(received, [{"for": q} for q in range(n)] if r == 0 else None, src=0)
    assert received == [{"for": r}], received


def check_reduce_scatter(r, n):
    def block(rank, q, op):  # rank's input destined for rank q
        return contribution(rank, n, op, torch.int64) + (q if op != ReduceOp.PRODUCT else 0)

    for dtype in (torch.int32, torch.float32, torch.bfloat16):
        for op in (ReduceOp.SUM, ReduceOp.MAX, ReduceOp.PRODUCT):
            inputs = [block(r, q, op).to(dtype) for q in range(n)]
            output = torch.zeros(values.COUNT, dtype=dtype, device=DEVICE)
            dist.reduce_scatter(output, inputs, op=op)
            stacked = torch.stack([block(q, r, op) for q in range(n)])
            want = {ReduceOp.SUM: stacked.sum(0), ReduceOp.MAX: stacked.max(0).values,
                    ReduceOp.PRODUCT: stacked.prod(0)}[op].to(dtype)
            same(f"reduce_scatter {dtype} {OPS[op]}", output, want)
            output = torch.zeros(values.COUNT, dtype=dtype, device=DEVICE)
            dist.reduce_scatter_tensor(output, torch.cat(inputs), op=op)
            same(f"reduce_scatter_tensor {dtype} {OPS[op]}", output, want)


def check_all_to_all(r, n):
    """Rank r sends rank q the rows (or the tensor) tagged 100 x r + q: equal blocks through
    gcclAllToAll alone, blocks of any size (q + 1 rows from r to q; 0 for q = r in the list
    form) through the sizes' allgather and then gcclAllToAllV (on device tensors staged, on
    the current stream), synchronously and async."""
    def tagged(sender, receiver, rows, dtype):
        return torch.full((rows, 3), 100 * sender + receiver, dtype=dtype, device=DEVICE)

    for dtype in (torch.int64, torch.float16):
        source = torch.cat([tagged(r, q, 2, dtype) for q in range(n)])
        output = torch.full_like(source, -1)
        dist.all_to_all_single(output, source)
        same(f"all_to_all_single {dtype}", output,
             torch.cat([tagged(q, r, 2, dtype) for q in range(n)]))
        source = torch.cat([tagged(r, q, q + 1, dtype) for q in range(n)])
        output = torch.full((n * (r + 1), 3), -1, dtype=dtype, device=DEVICE)
        dist.all_to_all_single(output, source, [r + 1] * n, [q + 1 for q in range(n)],
                               async_op=True).wait()
        same(f"all_to_all_single {dtype}, split sizes", output,
             torch.cat([tagged(q, r, r + 1, dtype) for q in range(n)]))
        rows = [0 if q == r else q + 1 for q in range(n)]
        outputs = [torch.full((0 if q == r else r + 1, 3), -1, dtype=dtype, device=DEVICE)
                   for q in range(n)]
        dist.all_to_all(outputs, [tagged(r, q, rows[q], dtype) for q in range(n)])
        for q in range(n):
            same(f"all_to_all {dtype} from rank {q}", outputs[q],
                 tagged(q, r, 0 if q == r else r + 1, dtype))
    # Ranks that disagree on a pair's size, or a rank whose sizes do not cut its tensor: every
    # rank refuses, none is left waiting.
    expects = [2 if r == 1 and q == 0 else 1 for q in range(n)]
    cuts = [1] * (n - 1) + [2 if r == n - 1 else 1]  # the last rank's sum is off by one
    cases = [(expects, [1] * n, "rank 0 sends 1 elements to rank 1, which expects 2", n > 1),
             ([1] * n, cuts, "input split sizes" if r == n - 1 else f"rank(s) [{n - 1}] refused",
              True)]
    for output_sizes, input_sizes, text, refused in cases:
        try:
            dist.all_to_all_single(torch.zeros(sum(output_sizes), device=DEVICE),
                                   torch.zeros(n, device=DEVICE), output_sizes, input_sizes)
        except ValueError as e:
            assert refused and text in str(e), e
        else:
            assert not refused, f"rank {r}: not refused: {text}"
    dist.barrier()  # every rank went on


def check_groups(r, n):
    """A group of the even ranks, used while the world's group has a collective in flight;
    every rank must call new_group, members or not."""
    evens = list(range(0, n, 2))
    group = dist.new_group(evens, backend="gccl")
    world = contribution(r, n)
    in_flight = dist.all_reduce(world, async_op=True)
    if r in evens:
        assert dist.get_backend(group) == "gccl"
        mine = torch.full((3,), float(r + 1), device=DEVICE)
        dist.all_reduce(mine, group=group)
        same("all_reduce on the even ranks' group", mine,
             torch.full((3,), float(sum(q + 1 for q in evens))))
    in_flight.wait()
    same("all_reduce on the world, beside the group", world, expected(n))
    dist.barrier()
    dist.barrier(async_op=True).wait()


def check_requests(r, n):
    """A collective started asynchronously returns before the last rank has joined it: through
    the API (async_op=True) and through the group's method (as DDP's reducer calls it)."""
    group = dist.distributed_c10d._get_default_group()
    for how, start in (("async_op=True", lambda t: dist.all_reduce(t, async_op=True)),
                       ("the group's method", lambda t: group.allreduce([t]))):
        tensor = contribution(r, n)
        if r == n - 1:
            time.sleep(1.0)
        started = time.monotonic()
        work = start(tensor)
        returned, completed = time.monotonic() - started, work.is_completed()
        if r == 0 and n > 1:
            assert returned < 0.5 and not completed, (how, returned, completed)
        work.wait()
        same(f"all_reduce through {how}", tensor, expected(n))


def check_refusals(r, n):
    calls = [
        (lambda: dist.send(torch.zeros(1), (r + 1) % n), RuntimeError, "point-to-point"),
        (lambda: dist.all_reduce(torch.zeros(3), op=ReduceOp.BAND), ValueError, "not BAND"),
        (lambda: dist.all_reduce(torch.zeros(3, dtype=torch.bool)), TypeError, "bool"),
        (lambda: dist.all_gather([torch.zeros(2)] * (n + 1), torch.zeros(2)), ValueError,
         f"{n + 1} output tensors for {n} ranks"),
        (lambda: dist.all_gather_into_tensor(torch.zeros(2 * n + 1), torch.zeros(2)),
         ValueError, f"not {n} x"),
        (lambda: dist.reduce_scatter(torch.zeros(2), [torch.zeros(3)] * n), ValueError,
         "every input must have the output's 2 elements"),
    ]
    for call, error, text in calls:
        try:
            call()
        except error as e:
            assert "ProcessGroupGccl." in str(e) and text in str(e), e
        else:
            raise AssertionError(f"rank {r}: no {error.__name__} ({text})")
    # The root's wrong-sized gather list is refused after the allgather: nobody is left waiting.
    try:
        dist.gather(torch.zeros(3), [torch.zeros(2) for _ in range(n)] if r == 0 else None)
    except ValueError as e:
        assert r == 0 and "has 2 elements, not 3" in str(e), e
    else:
        assert r != 0, "a gather list of the wrong size was not refused"
    dist.barrier()  # every rank went on


STEPS, SHARD = 5, 8
HOOKS = torch.distributed.algorithms.ddp_comm_hooks
# case: (DDP's options, communication hook and its state, tolerance against one process:
# None for PowerSGD, which approximates the gradients)
DDP_CASES = {
    "one bucket": ({}, None, 1e-5),
    "small buckets": (dict(bucket_cap_mb=300 / 2**20), None, 1e-5),  # a tensor or two each
    "bucket views": (dict(bucket_cap_mb=300 / 2**20, gradient_as_bucket_view=True), None, 1e-5),
    "unused": (dict(find_unused_parameters=True), None, 1e-5),
    "no_sync": ({}, None, 1e-5),
    "allreduce hook": ({}, (None, HOOKS.default_hooks.allreduce_hook), 1e-5),
    "fp16 hook": ({}, (None, HOOKS.default_hooks.fp16_compress_hook), 2e-3),
    # Its callbacks issue collectives and wait for them (check_powersgd_buckets: in order).
    "PowerSGD": ({}, ("powerSGD", HOOKS.powerSGD_hook.powerSGD_hook), None),
}


def train(model, optimizer, x, y, rows, ddp=None, no_sync=False):
    for step in range(STEPS):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss
        if no_sync:  # two half shards; the first one's gradient is only accumulated
            half = (rows.stop - rows.start) // 2
            first, second = slice(rows.start, rows.start + half), slice(rows.start + half,
                                                                        rows.stop)
            with ddp.no_sync():
                (loss(model(x[step][first]), y[step][first]) * 0.5).backward()
            (loss(model(x[step][second]), y[step][second]) * 0.5).backward()
        else:
            loss(model(x[step][rows]), y[step][rows]).backward()
        optimizer.step()


def check_ddp(r, n):
    """Each rank trains on its shard of every batch; DDP averages the gradients, so the
    weights must match one process training on whole batches and be the same bits
    everywhere."""
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(STEPS, n * SHARD, 10, generator=generator).to(DEVICE)
    y = torch.randn(STEPS, n * SHARD, 3, generator=generator).to(DEVICE)
    group = dist.distributed_c10d._get_default_group()
    requests = count_calls(group._completions, "add")
    for case, (options, hook, tolerance) in DDP_CASES.items():
        torch.manual_seed(1000)
        alone = Model(unused=case == "unused").to(DEVICE)
        optimizer = torch.optim.SGD(alone.parameters(), lr=0.1, momentum=0.9)
        train(alone, optimizer, x, y, slice(0, n * SHARD))

        torch.manual_seed(1000 + r)  # rank 0 starts as `alone` did; DDP broadcasts it
        model = Model(unused=case == "unused").to(DEVICE)
        ddp = torch.nn.parallel.DistributedDataParallel(model, **options)
        if hook is not None:
            state = HOOKS.powerSGD_hook.PowerSGDState(
                process_group=None, matrix_approximation_rank=1,
                start_powerSGD_iter=2) if hook[0] == "powerSGD" else hook[0]
            ddp.register_comm_hook(state, hook[1])
        optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
        before = requests[0]
        train(ddp, optimizer, x, y, slice(r * SHARD, (r + 1) * SHARD), ddp,
              no_sync=case == "no_sync")
        if hook is None:  # backward's reductions are requests that overlap it
            assert requests[0] - before >= STEPS, (case, requests[0] - before)
        for (name, got), want in zip(model.named_parameters(), alone.parameters()):
            assert torch.isfinite(got).all(), (case, name)
            if tolerance is not None and not torch.allclose(got, want, rtol=0, atol=tolerance):
                raise AssertionError(f"rank {r}: DDP {case}: {name} differs from one process "
                                     f"by {(got - want).abs().max().item()}")
        same_everywhere(f"DDP {case}", model, n)
        del ddp


def same_everywhere(what, model, n):
    """The model's parameters are the same bits on every rank."""
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    everyone = torch.zeros(n * flat.numel(), device=DEVICE)
    dist.all_gather_into_tensor(everyone, flat)
    for q in range(n):
        same(f"{what}: rank {q}'s weights", everyone.view(n, -1)[q], flat)


class SlowOnOneRank(torch.autograd.Function):
    """Identity whose backward lingers on rank 1, so that the ranks' buckets complete at
    different moments relative to their backward passes."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        if dist.get_rank() == 1:
            time.sleep(0.2)
        return grad


def check_powersgd_buckets(r, n):
    """PowerSGD with two buckets (DDP caps its first at 1 MiB once it has rebuilt them): the
    collectives its callbacks issue must pair up alike on every rank, whatever completes
    first, or the ranks' weights drift apart without an error."""
    class Wide(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second = torch.nn.Linear(600, 600), torch.nn.Linear(600, 600)

        def forward(self, x):
            return self.second(SlowOnOneRank.apply(self.first(x)))

    torch.manual_seed(5)
    model = Wide().to(DEVICE)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    ddp.register_comm_hook(HOOKS.powerSGD_hook.PowerSGDState(
        process_group=None, matrix_approximation_rank=1, start_powerSGD_iter=2),
        HOOKS.powerSGD_hook.powerSGD_hook)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.01)
    for step in range(4):
        generator = torch.Generator().manual_seed(100 * r + step)
        optimizer.zero_grad()
        ddp(torch.randn(8, 600, generator=generator).to(DEVICE)).sum().backward()
        optimizer.step()
    same_everywhere("PowerSGD, two buckets", model, n)


def check_join(r, n):
    """Uneven inputs under Join (rank r takes r more steps): the joined ranks shadow the
    others' collectives, including the allreduce that Join starts in forward and DDP waits
    for from C++ in backward (divide_by_initial_world_size=False)."""
    for divide in (True, False):
        torch.manual_seed(9)
        model = Model().to(DEVICE)
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1)
        with Join([ddp], divide_by_initial_world_size=divide):
            for step in range(2 + r):
                optimizer.zero_grad()
                ddp(torch.ones(4, 10, device=DEVICE) * (step + 1)).sum().backward()
                optimizer.step()
        same_everywhere(f"Join, divide_by_initial_world_size={divide}", model, n)


def expect_failure(r, n, case, call):
    try:
        call()
    except RuntimeError as error:  # gccl.GcclError, or torch's error around it (DDP)
        text = str(error)
        print(f"rank {r}: {type(error).__name__}: {text}")
        if "mismatch" in case:
            assert "mismatched collective" in text, text
        elif case == "silent":  # init_process_group's timeout, 4 s, is gccl's
            assert f"rank {n - 1}" in text and "4000 ms" in text, text
        else:
            assert f"rank {n - 1}" in text and ("closed" in text or "timed out" in text), text
        return error
    raise AssertionError(f"rank {r}: the {case} call did not fail")


def check_fault(case, r, n):
    dist.all_reduce(torch.ones(4))  # every rank is up and connected
    if case.startswith("dead") and r == n - 1:
        if case == "dead_in_ddp":
            check_ddp_until(r, n, steps=1)
        os._exit(0)  # no goodbye: its sockets close under the others
    if case == "silent" and r == n - 1:
        time.sleep(12)  # alive and connected, but never joins the next collective
        os._exit(0)
    count = 10 if ("mismatch" in case and r == 0) else 12
    if case == "mismatch":
        error = expect_failure(r, n, case, lambda: dist.all_reduce(torch.ones(count)))
        assert isinstance(error, gccl.GcclError), type(error)
    elif case == "async_mismatch":  # the Work's wait() raises, as gloo's does
        work = dist.all_reduce(torch.ones(count), async_op=True)
        error = expect_failure(r, n, case, work.wait)
        assert isinstance(error, gccl.GcclError), type(error)
        expect_failure(r, n, case, lambda: work.get_future().wait())
    elif case == "alltoall_mismatch":  # rank 0 passes split sizes, the others none
        sizes = [1] * n if r == 0 else None
        error = expect_failure(r, n, case, lambda: dist.all_to_all_single(
            torch.zeros(n), torch.zeros(n), sizes, sizes))
        assert isinstance(error, gccl.GcclError), type(error)
    elif case == "dead_before_ddp":  # DDP's constructor waits from C++: the error still shows
        error = expect_failure(r, n, case, lambda: check_ddp_until(r, n, steps=1))
        assert isinstance(error, gccl.GcclError), type(error)
    elif case in ("dead", "silent"):
        expect_failure(r, n, case, lambda: dist.all_reduce(torch.ones(count)))
    else:
        expect_failure(r, n, case, lambda: check_ddp_until(r, n, steps=3))
    # The group is unusable after a failure, and says why.
    later = expect_failure(r, n, case, lambda: dist.broadcast(torch.ones(3), 0))
    assert "an earlier collective of this group failed" in str(later), later
    print(f"rank {r}: {case}: ok")
    os._exit(0)  # the communicator is broken: leave without the goodbye that would fail too


def check_ddp_until(r, n, steps):
    model = Model()
    ddp = torch.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=300 / 2**20)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1)
    for _ in range(steps):
        optimizer.zero_grad()
        ddp(torch.ones(4, 10)).sum().backward()
        optimizer.step()


def main():
    global DEVICE
    case, n = sys.argv[1], int(sys.argv[2])
    if len(sys.argv) > 3 and sys.argv[3] == "cuda":
        DEVICE = torch.device("cuda", int(os.environ["LOCAL_RANK"]) % torch.cuda.device_count())
        values.DEVICE = DEVICE
    timeout = datetime.timedelta(seconds=4 if case == "silent" else 60)
    dist.init_process_group("gccl", timeout=timeout)
    r = dist.get_rank()
    assert dist.get_world_size() == n and dist.get_backend() == "gccl"
    if case == "collectives":
        check_all_reduce(r, n)
        check_broadcast_and_reduce(r, n)
        check_gathers(r, n)
        check_reduce_scatter(r, n)
        check_all_to_all(r, n)
        check_groups(r, n)
        check_requests(r, n)
        check_refusals(r, n)
    elif case == "ddp":
        check_ddp(r, n)
        check_powersgd_buckets(r, n)
        check_join(r, n)
    else:
        check_fault(case, r, n)
    dist.destroy_process_group()
    print(f"rank {r} of {n} ({DEVICE}): {case}: ok")


if __name__ == "__main__":
    main()
