"""One rank of the gccl.torch fault test (run by launch.py): a failure is a GcclError on every
rank that names the operation and the peer, never a hang or a wrong result.

  torch_faults.py mismatch         rank 0 allreduces 10 elements, the others 12
  torch_faults.py async_mismatch   the same, started async: poll and synchronize both raise
  torch_faults.py dead             the last rank exits before the allreduce
  torch_faults.py dead_in_backward the last rank exits after one training step
"""
import os
import sys

import torch

import gccl
import gccl.torch as hvd


def expect_failure(r, n, case, call):
    try:
        call()
    except gccl.GcclError as error:
        text = str(error)
        print(f"rank {r}: {text}")
        if "mismatch" in case:
            assert error.result == 2 and "mismatched collective" in text, (error.result, text)
        else:
            assert error.result in (4, 5) and f"rank {n - 1}" in text, (error.result, text)
        return error
    raise AssertionError(f"rank {r}: the {case} call did not fail")


def train_until_failure(r, n):
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    hvd.broadcast_parameters(model.state_dict(), root_rank=0)
    optimizer = hvd.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1),
                                         model.named_parameters(), bucket_bytes=64)
    for step in range(2):
        if step == 1 and r == n - 1:
            os._exit(0)  # no goodbye: its sockets close under the others
        optimizer.zero_grad()
        model(torch.ones(4, 8)).sum().backward()
        optimizer.step()


def main():
    case = sys.argv[1]
    hvd.init()
    r, n = hvd.rank(), hvd.size()
    hvd.allreduce(torch.ones(4))  # every rank is up and connected
    if case == "dead" and r == n - 1:
        os._exit(0)
    count = 10 if ("mismatch" in case and r == 0) else 12
    if case == "async_mismatch":
        handle = hvd.allreduce_async(torch.ones(count))
        first = expect_failure(r, n, case, lambda: [hvd.poll(handle) for _ in iter(int, 1)])
        again = expect_failure(r, n, case, lambda: hvd.synchronize(handle))
        assert str(first) == str(again), (str(first), str(again))
    elif case == "dead_in_backward":
        error = expect_failure(r, n, case, lambda: train_until_failure(r, n))
        assert "GradSync" in str(error), error
    else:
        error = expect_failure(r, n, case, lambda: hvd.allreduce_(torch.ones(count)))
        assert str(error).startswith("allreduce: "), error
    print(f"rank {r}: {case}: ok")
    os._exit(0)  # the communicator is broken: leave without the goodbye that would fail too


if __name__ == "__main__":
    main()
