"""One rank of the gccl.torch fault test (run by launch.py): a failure is a GcclError on every
rank that names the operation and the peer, never a hang.

  torch_faults.py mismatch    rank 0 allreduces 10 elements, the others 12
  torch_faults.py dead        the last rank exits before the allreduce
"""
import os
import sys

import torch

import gccl
import gccl.torch as hvd


def main():
    case = sys.argv[1]
    hvd.init()
    r, n = hvd.rank(), hvd.size()
    hvd.allreduce(torch.ones(4))  # every rank is up and connected
    if case == "dead" and r == n - 1:
        os._exit(0)  # no goodbye: its sockets close under the others
    count = 10 if (case == "mismatch" and r == 0) else 12
    try:
        hvd.allreduce_(torch.ones(count))
    except gccl.GcclError as error:
        text = str(error)
        print(f"rank {r}: {text}")
        assert text.startswith("allreduce: "), text
        if case == "mismatch":
            assert error.result == 2 and "mismatch" in text.lower(), (error.result, text)
        else:
            assert error.result in (4, 5) and f"rank {n - 1}" in text, (error.result, text)
    else:
        raise AssertionError(f"rank {r}: the {case} allreduce did not fail")
    print(f"rank {r}: {case}: ok")
    os._exit(0)  # the communicator is broken: leave without the goodbye that would fail too


if __name__ == "__main__":
    main()
