"""gccl for PyTorch, shaped like horovod.torch.

    import gccl.torch as hvd
    hvd.init()                                   # torchrun, mpirun, srun or GCCL_* variables
    model = ...; optimizer = torch.optim.SGD(model.parameters(), lr=0.01 * hvd.size())
    hvd.broadcast_parameters(model.state_dict(), root_rank=0)
    optimizer = hvd.DistributedOptimizer(optimizer, model.named_parameters(),
                                         compression=hvd.Compression.fp16)
    for batch in shard: optimizer.zero_grad(); loss(model(batch)).backward(); optimizer.step()

`import gccl.torch` also makes "gccl" a torch.distributed backend (process_group.py):
`dist.init_process_group("gccl")` puts DDP and torch.distributed's collectives on gccl.

Host tensors and CUDA tensors; int8, uint8, int32, int64, float16, bfloat16, float32 and
float64. Errors are gccl.GcclError, naming the rank, the peer and the operation.
"""
import torch.distributed

from .. import GcclError
from .collectives import (Average, Handle, Max, Min, Product, ReduceOp, Sum, allgather,
                          allgather_async, allreduce, allreduce_, allreduce_async,
                          allreduce_async_, barrier, broadcast, broadcast_, broadcast_async,
                          broadcast_async_, poll, synchronize)
from .compression import Compression
from .functions import broadcast_object, broadcast_optimizer_state, broadcast_parameters
from .optimizer import DistributedOptimizer, Sparse
from .world import init, is_initialized, local_rank, local_size, rank, shutdown, size

__all__ = [
    "GcclError", "Average", "Handle", "Max", "Min", "Product", "ReduceOp", "Sum", "allgather",
    "allgather_async", "allreduce", "allreduce_", "allreduce_async", "allreduce_async_",
    "barrier", "broadcast", "broadcast_", "broadcast_async", "broadcast_async_", "poll",
    "synchronize", "Compression", "broadcast_object", "broadcast_optimizer_state",
    "broadcast_parameters", "DistributedOptimizer", "Sparse", "init", "is_initialized",
    "local_rank", "local_size", "rank", "shutdown", "size",
]

if torch.distributed.is_available():  # a torch built without it has no process groups
    from .process_group import ProcessGroupGccl, register as _register_backend
    _register_backend()  # dist.init_process_group("gccl")
    __all__.append("ProcessGroupGccl")
