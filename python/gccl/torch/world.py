"""The process's gccl communicator over every rank of the job, as Horovod has one."""
import atexit
import ctypes
import hashlib
import os
import socket

from .. import _capi
from ..communicator import Communicator

_world = None
_local = (0, 1)  # (local rank, local size)


def _host_key():
    """A 64-bit key that ranks of one host share (GCCL_HOST_ID fakes hosts, as in the C
    library's census)."""
    name = os.environ.get("GCCL_HOST_ID") or socket.gethostname()
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little",
                          signed=True)


def _locality(comm):
    keys = (ctypes.c_int64 * comm.size)()
    mine = ctypes.c_int64(_host_key())
    comm.allgatherv(ctypes.addressof(mine), 1, ctypes.addressof(keys), [1] * comm.size,
                    range(comm.size), _capi.INT64)
    same = [r for r in range(comm.size) if keys[r] == mine.value]
    return same.index(comm.rank), len(same)


def init():
    """Joins the job described by the environment (torchrun, mpirun, srun or GCCL_RANK,
    GCCL_WORLD_SIZE, GCCL_ROOT_ADDR, GCCL_ROOT_PORT). Collective; a second call does nothing."""
    global _world, _local
    if _world is not None:
        return
    comm = Communicator.from_env()
    try:
        _local = _locality(comm)
    except BaseException:
        comm.abort()
        raise
    _world = comm


def shutdown():
    """Waits for what is outstanding and leaves the job. init() may be called again."""
    global _world
    comm, _world = _world, None
    if comm is not None:
        comm.destroy()


atexit.register(shutdown)


def is_initialized():
    return _world is not None


def communicator(what="communicator"):
    if _world is None:
        raise ValueError(f"gccl.torch.{what}: call gccl.torch.init() first")
    return _world


def rank():
    return communicator("rank").rank


def size():
    return communicator("size").size


def local_rank():
    """This rank's place among the ranks of its host."""
    communicator("local_rank")
    return _local[0]


def local_size():
    communicator("local_size")
    return _local[1]
