#!/usr/bin/env python3
"""Data-parallel training of a small MLP on the digits data with gccl.torch, the way a
Horovod user would write it, or (--ddp) the way a DistributedDataParallel user would, on
torch.distributed's "gccl" backend. Launch it with torchrun (or mpirun, srun):

  torchrun --nproc_per_node 4 examples/torch/train_digits.py                   # dense fp32
  torchrun --nproc_per_node 4 examples/torch/train_digits.py --compression fp16
  torchrun --nproc_per_node 4 examples/torch/train_digits.py --sparse 0.1      # CSC, 10%
  torchrun --nproc_per_node 4 examples/torch/train_digits.py --ddp             # torch's DDP
  python3 examples/torch/train_digits.py --single                             # one process

--ddp meets through torch's env:// rendezvous: MASTER_ADDR and MASTER_PORT, and RANK and
WORLD_SIZE (torchrun sets all four; under mpirun, Open MPI's rank and size stand in for the
last two).

Every run sees the same global batches with the same initial weights; each rank takes its
share of every batch, so the ranks' averaged gradient is the single process's (up to float
rounding, fp16 and sparsification). Rank 0 prints "test accuracy: 0.XXXX"; every rank checks
that its weights are the same bits as every other rank's and exits 1 otherwise.
"""
import argparse
import os
import pathlib
import sys

import torch

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "digits.txt"
TRAIN_SAMPLES = 1437  # of 1797 (80%); the rest is the test set


def load_digits():
    rows = [list(map(int, line.split())) for line in DATA.read_text().splitlines()
            if line and not line.startswith("#")]
    data = torch.tensor(rows)
    return data[:, :64].float() / 16, data[:, 64]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--single", action="store_true", help="one process, no gccl")
    parser.add_argument("--ddp", action="store_true",
                        help="DistributedDataParallel on torch.distributed's gccl backend")
    parser.add_argument("--compression", choices=("none", "fp16", "bf16"), default="none")
    parser.add_argument("--sparse", type=float, metavar="DENSITY",
                        help="send this share of each bucket's chunks (error feedback)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=64, help="global, split over the ranks")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rank, size = 0, 1
    if args.ddp:
        import torch.distributed as dist
        import gccl.torch  # noqa: F401  (registers the "gccl" backend)
        environ = os.environ
        dist.init_process_group(
            "gccl", rank=int(environ.get("RANK", environ.get("OMPI_COMM_WORLD_RANK", 0))),
            world_size=int(environ.get("WORLD_SIZE", environ.get("OMPI_COMM_WORLD_SIZE", 1))))
        rank, size = dist.get_rank(), dist.get_world_size()
    elif not args.single:
        import gccl.torch as hvd
        hvd.init()
        rank, size = hvd.rank(), hvd.size()
    if not args.single:
        if args.batch % size:
            sys.exit(f"--batch {args.batch} does not split over {size} ranks")

    x, y = load_digits()
    train_x, train_y = x[:TRAIN_SAMPLES], y[:TRAIN_SAMPLES]
    torch.manual_seed(args.seed + rank)  # rank 0's weights reach the others by broadcast
    model = torch.nn.Sequential(torch.nn.Linear(64, args.hidden), torch.nn.ReLU(),
                                torch.nn.Linear(args.hidden, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    trained = model
    if args.ddp:  # broadcasts rank 0's weights; averages gradients in buckets during backward
        trained = torch.nn.parallel.DistributedDataParallel(model)
    elif not args.single:
        hvd.broadcast_parameters(model.state_dict(), root_rank=0)
        optimizer = hvd.DistributedOptimizer(
            optimizer, model.named_parameters(),
            compression=getattr(hvd.Compression, args.compression),
            sparse=hvd.Sparse(density=args.sparse, chunk=32) if args.sparse else None)

    order = torch.Generator().manual_seed(args.seed)
    share = args.batch // size
    for _ in range(args.epochs):
        permutation = torch.randperm(TRAIN_SAMPLES, generator=order)
        for start in range(0, TRAIN_SAMPLES - args.batch + 1, args.batch):
            mine = permutation[start + rank * share:start + (rank + 1) * share]
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(trained(train_x[mine]), train_y[mine]).backward()
            optimizer.step()

    with torch.no_grad():
        predicted = model(x[TRAIN_SAMPLES:]).argmax(1)
    accuracy = (predicted == y[TRAIN_SAMPLES:]).float().mean().item()
    if not args.single:
        weights = torch.cat([p.data.flatten() for p in model.parameters()])
        if args.ddp:
            everyone = torch.zeros(size, weights.numel())
            dist.all_gather_into_tensor(everyone, weights)
        else:
            everyone = hvd.allgather(weights.unsqueeze(0))
        if not all(torch.equal(everyone[0], w) for w in everyone):
            sys.exit(f"rank {rank}: the ranks' weights differ")
    if rank == 0:
        mode = "single" if args.single else "ddp" if args.ddp else (
            f"sparse {args.sparse}" if args.sparse else args.compression)
        print(f"{mode}, {size} rank(s), {args.epochs} epochs of batch {args.batch}")
        print(f"test accuracy: {accuracy:.4f}")
    if args.ddp:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
