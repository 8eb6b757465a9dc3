"""One rank of the DistributedOptimizer test (run by launch.py).

Every rank trains the same model on its shard of each global batch; the averaged gradient of
equal shards is the gradient of the whole batch, so after every step the parameters must
equal those of one process that trains alone on whole batches (up to float rounding:
the sums run in another order), and be the same bits on every rank.

  torch_optimizer.py CASE [DEVICE]   CASE: dense, buckets, accumulate, set_to_none, fp16,
                                    sparse, sum, adam, non_finite; DEVICE: cpu (default) or
                                    cuda (the gradient sync's copy mode), the reference
                                    computed on the same device
"""
import sys

import torch

import gccl.torch as hvd

STEPS, SHARD = 6, 8
DEVICE = torch.device("cpu")


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(10, 24)
        self.out = torch.nn.Linear(24, 3)
        self.unused = torch.nn.Linear(3, 3)  # no gradient ever: reduced as zeros

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


def reference(case, n, lr):
    """One process on whole batches, from rank 0's initial weights."""
    torch.manual_seed(1000)
    model = Model().to(DEVICE)
    optimizer = make_optimizer(case, model.parameters(), lr)
    x, y = batches(n)
    for step in range(STEPS):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x[step]), y[step]).backward()
        optimizer.step()
    return model


def train(case, r, n, lr):
    torch.manual_seed(1000 + r)  # different weights on every rank until the broadcast
    model = Model().to(DEVICE)
    hvd.broadcast_parameters(model.state_dict(), root_rank=0)
    options = {
        "buckets": dict(bucket_bytes=256),  # a bucket every few tensors
        "accumulate": dict(backward_passes_per_step=2),
        "fp16": dict(compression=hvd.Compression.fp16),
        "sparse": dict(sparse=hvd.Sparse(density=1.0, chunk=16)),  # every chunk sent, as fp16
        "sum": dict(op=hvd.Sum),
    }.get(case, {})
    # A sum of n equal-shard gradients is n times their average: lr / n takes the same step.
    plain = make_optimizer(case, model.parameters(), lr / n if case == "sum" else lr)
    optimizer = hvd.DistributedOptimizer(plain, model.named_parameters(), **options)
    assert isinstance(optimizer, type(plain)) and optimizer.state is plain.state
    x, y = batches(n)
    mine = slice(r * SHARD, (r + 1) * SHARD)
    for step in range(STEPS):
        if case == "set_to_none":
            model.zero_grad(set_to_none=True)  # fresh tensors: copied into the pool
        else:
            optimizer.zero_grad()
        if case == "accumulate":  # two half shards, each half of the loss
            for half in (slice(mine.start, mine.start + SHARD // 2),
                         slice(mine.start + SHARD // 2, mine.stop)):
                loss = torch.nn.functional.mse_loss(model(x[step][half]), y[step][half]) / 2
                loss.backward()
        else:
            torch.nn.functional.mse_loss(model(x[step][mine]), y[step][mine]).backward()
        optimizer.step()
        assert not optimizer.non_finite
    return model, optimizer


def check_non_finite(r, n):
    model = Model().to(DEVICE)
    optimizer = hvd.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1),
                                         model.named_parameters(), bucket_bytes=0)
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
    try:
        model(ones).sum().backward()
    except RuntimeError as error:
        assert "more than backward_passes_per_step" in str(error), error
    else:
        raise AssertionError("a second backward before step() was not refused")
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
    if case == "non_finite":
        check_non_finite(r, n)
        print(f"rank {r}: ok")
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
