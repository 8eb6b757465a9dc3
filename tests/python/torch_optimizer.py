"""One rank of the DistributedOptimizer test (run by launch.py).

Every rank trains the same model on its shard of each global batch; the averaged gradient of
equal shards is the gradient of the whole batch, so after every step the parameters must
equal those of one process that trains alone on whole batches (up to float rounding:
the sums run in another order), and be the same bits on every rank.

  torch_optimizer.py CASE [DEVICE]

CASE: dense, buckets, overlap, unused, accumulate, set_to_none, copy, clip, closure,
scheduler, rewrap, fp16, sparse, sum, adam, non_finite. DEVICE: cpu (default) or cuda (the gradient
sync's copy mode); the reference is computed on the same device.
"""
import sys
import time

import torch

import gccl.torch as hvd

STEPS, SHARD = 6, 8
DEVICE = torch.device("cpu")
CLIP = 0.05  # below the gradients' norm here, so clipping changes every step


class Model(torch.nn.Module):
    def __init__(self, unused=False):
        super().__init__()
        self.hidden = torch.nn.Linear(10, 24)
        self.out = torch.nn.Linear(24, 3)
        # A layer forward never uses: no gradient ever, reduced as zeros at step().
        self.unused = torch.nn.Linear(3, 3) if unused else None

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x)))


def batches(n):
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(STEPS, n * SHARD, 10, generator=generator)
    y = torch.randn(STEPS, n * SHARD, 3, generator=generator)
    return x.to(DEVICE), y.to(DEVICE)


def make_optimizer(case, params, lr):
    if case == "adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


def make_scheduler(case, optimizer):
    if case == "scheduler":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    return None


def reference(case, n, lr):
    """One process on whole batches, from rank 0's initial weights."""
    torch.manual_seed(1000)
    model = Model(unused=case == "unused").to(DEVICE)
    optimizer = make_optimizer(case, model.parameters(), lr)
    scheduler = make_scheduler(case, optimizer)
    x, y = batches(n)
    for step in range(STEPS):
        def closure():
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x[step]), y[step])
            loss.backward()
            return loss

        closure()
        if case == "clip":
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step(closure if case == "closure" else None)
        if scheduler:
            scheduler.step()
    return model


def wrap(case, model, plain, n):
    options = {
        "buckets": dict(bucket_bytes=256),  # a bucket every few tensors
        "accumulate": dict(backward_passes_per_step=2),
        "copy": dict(copy_mode=True),
        "fp16": dict(compression=hvd.Compression.fp16),
        "sparse": dict(sparse=hvd.Sparse(density=1.0, chunk=16)),  # every chunk sent, as fp16
        "sum": dict(op=hvd.Sum),
    }.get(case, {})
    if case == "rewrap":  # the wrapper wrapped again takes the parameters over, still alive
        model.first_wrapper = hvd.DistributedOptimizer(plain, model.named_parameters())
        return hvd.DistributedOptimizer(model.first_wrapper, model.named_parameters())
    return hvd.DistributedOptimizer(plain, model.named_parameters(), **options)


def train(case, r, n, lr):
    torch.manual_seed(1000 + r)  # different weights on every rank until the broadcast
    model = Model(unused=case == "unused").to(DEVICE)
    hvd.broadcast_parameters(model.state_dict(), root_rank=0)
    # A sum of n equal-shard gradients is n times their average: lr / n takes the same step.
    plain = make_optimizer(case, model.parameters(), lr / n if case == "sum" else lr)
    optimizer = wrap(case, model, plain, n)
    assert isinstance(optimizer, type(plain)) and optimizer.state is plain.state
    scheduler = make_scheduler(case, optimizer)
    waits = count_calls(optimizer._pool.sync, "wait")
    steps = count_step_hooks(optimizer)
    x, y = batches(n)
    mine = slice(r * SHARD, (r + 1) * SHARD)

    def loss_of(rows, scale=1.0):
        return torch.nn.functional.mse_loss(model(x[step][rows]), y[step][rows]) * scale

    for step in range(STEPS):
        if case == "set_to_none":
            model.zero_grad(set_to_none=True)  # fresh tensors: copied into the pool
        else:
            optimizer.zero_grad()
        if case == "accumulate":
            if step == 0:  # a pass abandoned by zero_grad does not count towards the next
                loss_of(mine).backward()
                optimizer.zero_grad()
            for half in (slice(mine.start, mine.start + SHARD // 2),
                         slice(mine.start + SHARD // 2, mine.stop)):
                loss_of(half, 0.5).backward()  # two half shards, each half of the loss
        else:
            loss_of(mine).backward()
        if case == "clip":  # Horovod's recipe: reduce, clip the reduced gradients, step
            optimizer.synchronize()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            with optimizer.skip_synchronize():
                optimizer.step()
        elif case == "closure":  # as LBFGS calls it: a closure that computes loss and grads
            def closure():
                optimizer.zero_grad()
                loss = loss_of(mine)
                loss.backward()
                return loss

            closure()  # the reference's first call; step() calls it once more
            loss = optimizer.step(closure)
            assert torch.is_tensor(loss), loss
        else:
            grads = [p.grad for p in model.parameters()]
            optimizer.step()
            if case == "copy":  # PyTorch's own tensors, reduced through gccl's pool
                assert optimizer._views == [] and all(
                    g is p.grad for g, p in zip(grads, model.parameters()))
        if scheduler:
            scheduler.step()
        assert not optimizer.non_finite
    assert waits[0] == STEPS, f"{case}: {waits[0]} reductions for {STEPS} steps"
    assert steps[0] in (None, STEPS), f"{case}: step hooks ran {steps[0]} times"
    if case == "scheduler":
        assert optimizer.param_groups[0]["lr"] == lr * 0.5 ** (STEPS // 2)
    if case == "rewrap":
        try:
            model.first_wrapper.step()
        except RuntimeError as error:
            assert "took its parameters over" in str(error), error
        else:
            raise AssertionError("the wrapper taken over still stepped")
    return model, optimizer


def count_calls(obj, method):
    """Counts calls of obj.method from now on: [count], updated in place."""
    count, original = [0], getattr(obj, method)

    def counted(*args, **kwargs):
        count[0] += 1
        return original(*args, **kwargs)

    setattr(obj, method, counted)
    return count


def count_step_hooks(optimizer):
    """[times the optimizer's step pre-hooks ran] on torch >= 2 ([None] before: no hooks)."""
    if not hasattr(optimizer, "register_step_pre_hook"):
        return [None]
    count = [0]
    optimizer.register_step_pre_hook(lambda *_: count.__setitem__(0, count[0] + 1))
    return count


def check_overlap(r, n):
    """Buckets are reduced while backward runs: the output layer's gradient (first in the
    plan, its own bucket) holds the average before the hidden layer's gradient is computed."""
    model = Model().to(DEVICE)
    hvd.broadcast_parameters(model.state_dict(), root_rank=0)
    optimizer = hvd.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1),
                                         model.named_parameters(), bucket_bytes=256)
    local = {}
    model.out.weight.register_hook(lambda grad: local.setdefault("out", grad.clone()))

    def wait_for_reduction(grad):
        deadline = time.monotonic() + 20
        while torch.equal(model.out.weight.grad, local["out"]) and time.monotonic() < deadline:
            time.sleep(0.001)  # the progress thread reduces meanwhile
        local["reduced in backward"] = not torch.equal(model.out.weight.grad, local["out"])
        return grad

    model.hidden.weight.register_hook(wait_for_reduction)
    x = torch.randn(4, 10, generator=torch.Generator().manual_seed(r)).to(DEVICE)
    model(x).pow(2).sum().backward()
    assert local["reduced in backward"], f"rank {r}: no bucket was reduced during backward"
    optimizer.step()


def check_non_finite(r, n):
    model = Model().to(DEVICE)
    # Copy mode: .grad stays PyTorch's own until step, so a refused pass can be seen not to
    # have been accumulated.
    optimizer = hvd.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1),
                                         model.named_parameters(), bucket_bytes=0,
                                         copy_mode=True)
    ones = torch.ones(2, 10, device=DEVICE)

    def poison(grad):  # before accumulation: the gradient sync may read it as soon as it lands
        grad = grad.clone()
        grad[0, 0] = float("inf")
        return grad

    hook = model.hidden.weight.register_hook(poison) if r == n - 1 else None
    model(ones).sum().backward()
    if hook:
        hook.remove()
    optimizer.synchronize()
    assert optimizer.non_finite, f"rank {r}: an inf on rank {n - 1} was not flagged"
    # Computed twice before step(): refused, naming the gradient.
    optimizer.zero_grad()
    model(ones).sum().backward()
    before = [p.grad.clone() for p in model.parameters()]
    try:
        model(ones).sum().backward()
    except RuntimeError as error:
        assert "more than backward_passes_per_step" in str(error), error
    else:
        raise AssertionError("a second backward before step() was not refused")
    assert all(torch.equal(b, p.grad) for b, p in zip(before, model.parameters())), \
        "the refused pass was accumulated"
    optimizer.zero_grad()  # abandons the step on every rank alike
    model(ones).sum().backward()
    optimizer.step()
    assert not optimizer.non_finite


def main():
    global DEVICE
    case = sys.argv[1]
    hvd.init()
    r, n = hvd.rank(), hvd.size()
    if len(sys.argv) > 2 and sys.argv[2] == "cuda":
        DEVICE = torch.device("cuda", r % torch.cuda.device_count())
    if case in ("non_finite", "overlap"):
        {"non_finite": check_non_finite, "overlap": check_overlap}[case](r, n)
        print(f"rank {r}: {case} ({DEVICE}): ok")
        return
    lr = 0.01 if case == "adam" else 0.1
    model, optimizer = train(case, r, n, lr)
    # Tolerances: float32 sums in another order; fp16 rounds every gradient to 11 bits.
    tolerance = 2e-3 if case in ("fp16", "sparse") else 1e-5
    want = reference(case, n, lr)
    for (name, got), expected in zip(model.named_parameters(), want.parameters()):
        error = (got.data - expected.data).abs().max().item()
        assert error <= tolerance, f"rank {r}: {case}: {name} is {error} from the reference"
        gathered = hvd.allgather(got.data.unsqueeze(0))
        assert all(torch.equal(gathered[0], g) for g in gathered), \
            f"{case}: {name} differs between ranks"
    moved = (model.hidden.weight.data - Model().to(DEVICE).hidden.weight.data).abs().max().item()
    assert moved > 0, "training did not change the weights"
    if case != "adam":
        assert optimizer.state[model.out.weight]["momentum_buffer"] is not None
    print(f"rank {r}: {case} ({DEVICE}): ok")


if __name__ == "__main__":
    main()
