"""One rank of the gccl.torch collectives test (run by launch.py): every result exact.

Inputs are small integers, so every dtype holds every input, sum, product and average
exactly, and each rank can compute what every other rank contributed.

  torch_collectives.py NRANKS [DEVICE]     DEVICE: cpu (default) or cuda (rank r on GPU r %
                                           the GPU count); expected values are computed on
                                           the host
"""
import ctypes
import os
import sys

import torch

import gccl
import gccl.torch as hvd

DTYPES = [torch.int8, torch.uint8, torch.int32, torch.int64, torch.float16, torch.bfloat16,
          torch.float32, torch.float64]
COUNT = 37  # not a multiple of any slice or rank count
DEVICE = torch.device("cpu")


def contribution(rank, n, op, dtype, count=COUNT):
    """Rank `rank`'s input. For the average, the rank term r x n sums to a multiple of n."""
    i = torch.arange(count, dtype=torch.int64)
    if op is hvd.Product:
        values = 1 + (i + rank) % 2
    else:
        values = i % 7 + rank * n
    return values.to(dtype).to(DEVICE)


def expected(n, op, dtype, count=COUNT):
    inputs = torch.stack([contribution(r, n, op, torch.int64, count).cpu() for r in range(n)])
    if op is hvd.Sum:
        result = inputs.sum(0)
    elif op is hvd.Average:
        result = inputs.sum(0) // n  # exact: the sum is a multiple of n
    elif op is hvd.Product:
        result = inputs.prod(0)
    elif op is hvd.Min:
        result = inputs.min(0).values
    else:
        result = inputs.max(0).values
    return result.to(dtype)


def same(what, got, want):
    got, want = got.cpu(), want.cpu()
    if got.dtype != want.dtype or got.shape != want.shape or not torch.equal(got, want):
        raise AssertionError(f"rank {hvd.rank()}: {what}: got {got.tolist()} ({got.dtype}, "
                             f"{list(got.shape)}), want {want.tolist()} ({want.dtype})")


def check_allreduce(r, n):
    for dtype in DTYPES:
        for op in (hvd.Sum, hvd.Average, hvd.Product, hvd.Min, hvd.Max):
            want = expected(n, op, dtype)
            what = f"allreduce {dtype} {op}"
            tensor = contribution(r, n, op, dtype)
            same(f"{what} out of place", hvd.allreduce(tensor, op=op), want)
            same(f"{what}: the input", tensor, contribution(r, n, op, dtype))
            returned = hvd.allreduce_(tensor, op=op)
            same(f"{what} in place", tensor, want)
            assert returned is tensor, what
            handle = hvd.allreduce_async(contribution(r, n, op, dtype), op=op)
            while not hvd.poll(handle):
                pass
            same(f"{what} async", hvd.synchronize(handle), want)
            tensor = contribution(r, n, op, dtype)
            same(f"{what} async in place", hvd.synchronize(hvd.allreduce_async_(tensor, op=op)),
                 want)
            same(f"{what} async in place: the tensor", tensor, want)
    # Horovod's spellings: average=True is the default, average=False a sum.
    tensor = contribution(r, n, hvd.Sum, torch.float32)
    same("allreduce average=False", hvd.allreduce(tensor, average=False),
         expected(n, hvd.Sum, torch.float32))
    same("allreduce default", hvd.allreduce(tensor), expected(n, hvd.Average, torch.float32))


def check_shapes_and_strides(r, n):
    # A 2-D tensor keeps its shape; a strided view is reduced through a contiguous copy and
    # written back, leaving the elements between untouched.
    tensor = contribution(r, n, hvd.Sum, torch.float32, 4 * 37).view(4, 37)
    same("allreduce 2-D", hvd.allreduce(tensor, op=hvd.Sum),
         expected(n, hvd.Sum, torch.float32, 4 * 37).view(4, 37))
    base = contribution(r, n, hvd.Sum, torch.float32, 4 * 37).view(4, 37)
    hvd.allreduce_(base[:, ::2], op=hvd.Sum)
    want = contribution(r, n, hvd.Sum, torch.float32, 4 * 37).view(4, 37)
    want[:, ::2] = expected(n, hvd.Sum, torch.float32, 4 * 37).view(4, 37)[:, ::2]
    same("allreduce_ of a strided view", base, want)
    empty = torch.empty(0, device=DEVICE)
    same("allreduce of an empty tensor", hvd.allreduce(empty), empty)
    # fp16 compression of float32: small integers survive the 16 bits exactly.
    tensor = contribution(r, n, hvd.Sum, torch.float32)
    for compression in (hvd.Compression.fp16, hvd.Compression.bf16):
        same(f"allreduce {compression.__name__}",
             hvd.allreduce(tensor, op=hvd.Sum, compression=compression),
             expected(n, hvd.Sum, torch.float32))
        copy = tensor.clone()
        hvd.allreduce_(copy, op=hvd.Sum, compression=compression)
        same(f"allreduce_ {compression.__name__}", copy, expected(n, hvd.Sum, torch.float32))


def check_broadcast(r, n):
    for root in range(n):
        for dtype in (torch.int8, torch.int64, torch.bfloat16, torch.float32):
            mine = contribution(r, n, hvd.Sum, dtype)
            want = contribution(root, n, hvd.Sum, dtype)
            same(f"broadcast {dtype} from {root}", hvd.broadcast(mine, root), want)
            same(f"broadcast {dtype}: the input", mine, contribution(r, n, hvd.Sum, dtype))
            hvd.broadcast_(mine, root)
            same(f"broadcast_ {dtype} from {root}", mine, want)
            handle = hvd.broadcast_async(contribution(r, n, hvd.Sum, dtype), root)
            same(f"broadcast_async {dtype} from {root}", hvd.synchronize(handle), want)


def check_allgather(r, n):
    # Rank r contributes r + 1 rows of 3: the first dimension differs between ranks.
    def rows(rank):
        return (torch.arange(3 * (rank + 1), dtype=torch.float64).view(rank + 1, 3)
                + 100 * rank).to(DEVICE)

    want = torch.cat([rows(rank) for rank in range(n)])
    same("allgather", hvd.allgather(rows(r)), want)
    same("allgather_async", hvd.synchronize(hvd.allgather_async(rows(r))), want)
    same("allgather int32 1-D", hvd.allgather(torch.tensor([r], dtype=torch.int32, device=DEVICE)),
         torch.arange(n, dtype=torch.int32))
    # Trailing dimensions that differ are refused on every rank alike.
    try:
        hvd.allgather(torch.zeros(2, 3 + (r == n - 1), device=DEVICE))
    except ValueError as error:
        assert "all but the first dimension must match" in str(error), error
    else:
        if n > 1:
            raise AssertionError("allgather of mismatched shapes did not fail")


def check_objects_and_state(r, n):
    obj = hvd.broadcast_object({"rank": r, "tensor": torch.full((3,), float(r))}, root_rank=n - 1)
    assert obj["rank"] == n - 1, obj
    same("broadcast_object's tensor", obj["tensor"], torch.full((3,), float(n - 1)))
    model = torch.nn.Linear(5, 3).to(DEVICE)
    torch.nn.init.constant_(model.weight, float(r))
    torch.nn.init.constant_(model.bias, -float(r))
    hvd.broadcast_parameters(model.state_dict(), root_rank=0)
    same("broadcast_parameters weight", model.weight.data, torch.zeros(3, 5))
    torch.nn.init.constant_(model.weight, float(r))
    hvd.broadcast_parameters(model.named_parameters(), root_rank=n - 1)
    same("broadcast_parameters named", model.weight.data, torch.full((3, 5), float(n - 1)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1 * (r + 1), momentum=0.9)
    model(torch.full((2, 5), float(r + 1), device=DEVICE)).sum().backward()
    optimizer.step()  # momentum buffers of this rank's own gradients
    hvd.broadcast_optimizer_state(optimizer, root_rank=0)
    assert optimizer.param_groups[0]["lr"] == 0.1, optimizer.param_groups[0]["lr"]
    momentum = optimizer.state[model.weight]["momentum_buffer"]
    assert momentum.device == model.weight.device, momentum.device
    everyone = hvd.allgather(momentum.unsqueeze(0))
    assert all(torch.equal(everyone[0], m) for m in everyone), "momentum differs between ranks"
    # bool (masks, flags) travels where the collective only copies.
    mask = torch.arange(COUNT, device=DEVICE) % (r + 2) == 0
    same("broadcast of bool", hvd.broadcast(mask, 0), torch.arange(COUNT) % 2 == 0)
    same("allgather of bool", hvd.allgather(mask),
         torch.cat([torch.arange(COUNT) % (rank + 2) == 0 for rank in range(n)]))
    hvd.barrier()


def check_autograd_rules(r, n):
    """In place is in place for autograd too: a tensor saved for backward and overwritten by a
    collective makes backward fail, as torch's own in-place ops do; a leaf that requires grad
    may be written (under no_grad, as broadcast_parameters does) by every path alike."""
    for compression in (hvd.Compression.none, hvd.Compression.fp16):
        saved = contribution(r, n, hvd.Sum, torch.float32)
        weight = torch.ones(COUNT, device=DEVICE, requires_grad=True)
        loss = (weight * saved).sum()  # mul saves `saved` for backward
        hvd.allreduce_(saved, op=hvd.Sum, compression=compression)
        try:
            loss.backward()
        except RuntimeError as error:
            assert "modified by an inplace operation" in str(error), error
        else:
            raise AssertionError(f"backward read a tensor allreduce_ overwrote ({compression})")
    leaf = torch.nn.Parameter(contribution(r, n, hvd.Sum, torch.float32))
    hvd.allreduce_(leaf, op=hvd.Sum, compression=hvd.Compression.fp16)
    same("allreduce_ of a leaf, fp16", leaf.detach(), expected(n, hvd.Sum, torch.float32))
    with torch.inference_mode():  # metrics are often made so: they have no version counter
        metric = contribution(r, n, hvd.Sum, torch.float32)
    hvd.allreduce_(metric, op=hvd.Sum)
    same("allreduce_ of an inference tensor", metric, expected(n, hvd.Sum, torch.float32))
    grid = torch.nn.Parameter(torch.full((4, 6), float(r), device=DEVICE))
    hvd.broadcast_(grid[:, ::2], 0)
    want = torch.full((4, 6), float(r))
    want[:, ::2] = 0
    same("broadcast_ of a strided view of a leaf", grid.detach(), want)


def check_unique_id(r):
    """The C API's other way in: a unique id made here, a communicator of one rank on it."""
    # The job's store port is GCCL_ROOT_PORT, which a unique id would reserve too: unset, an
    # ephemeral one (os.environ changes the C library's environment as well).
    job_port = os.environ.pop("GCCL_ROOT_PORT", None)
    try:
        uid = gccl.unique_id()
    finally:
        if job_port is not None:
            os.environ["GCCL_ROOT_PORT"] = job_port
    assert isinstance(uid, bytes) and len(uid) == 128 and uid.count(0) < 128, uid
    comm = gccl.Communicator.from_unique_id(1, uid, 0)
    data = (ctypes.c_int32 * 3)(r, 2, 3)
    comm.allreduce(ctypes.addressof(data), ctypes.addressof(data), 3, gccl.INT32, gccl.MAX)
    assert list(data) == [r, 2, 3] and (comm.rank, comm.size) == (0, 1), list(data)
    comm.destroy()
    try:
        gccl.Communicator.from_unique_id(1, uid[:-1], 0)
    except ValueError as error:
        assert "128 bytes" in str(error), error
    else:
        raise AssertionError("a short unique id was taken")


def check_refusals(r, n):
    for call, error in ((lambda: hvd.allreduce(torch.zeros(3, dtype=torch.complex64)), TypeError),
                        (lambda: hvd.allreduce(torch.zeros(3, dtype=torch.bool)), TypeError),
                        (lambda: hvd.allreduce(torch.zeros(3, dtype=torch.complex64),
                                               compression=hvd.Compression.fp16), TypeError),
                        (lambda: hvd.allreduce([1.0, 2.0]), TypeError),
                        (lambda: hvd.broadcast(torch.zeros(3), n), ValueError),
                        (lambda: hvd.allreduce(torch.zeros(3), average=True, op=hvd.Sum),
                         ValueError)):
        try:
            call()
        except error as e:
            assert "gccl.torch." in str(e), e
        else:
            raise AssertionError(f"rank {r}: no {error.__name__}")


def main():
    global DEVICE
    hvd.init()
    hvd.init()  # a second init does nothing
    r, n = hvd.rank(), hvd.size()
    assert n == int(sys.argv[1]), (n, sys.argv)
    if len(sys.argv) > 2 and sys.argv[2] == "cuda":
        DEVICE = torch.device("cuda", r % torch.cuda.device_count())
    assert (hvd.local_rank(), hvd.local_size()) == (r, n), (hvd.local_rank(), hvd.local_size())
    check_allreduce(r, n)
    check_shapes_and_strides(r, n)
    check_broadcast(r, n)
    check_allgather(r, n)
    check_objects_and_state(r, n)
    check_autograd_rules(r, n)
    check_unique_id(r)
    check_refusals(r, n)
    hvd.shutdown()
    assert not hvd.is_initialized()
    try:
        hvd.allreduce(torch.zeros(1))
    except ValueError as error:
        assert "init()" in str(error), error
    assert gccl.version() >= 100
    print(f"rank {r} of {n} ({DEVICE}): ok")


if __name__ == "__main__":
    main()
