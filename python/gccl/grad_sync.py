"""gcclGradSync: the lazy, bucketed allreduce of a model's gradients, on raw addresses.

create -> register (backward order) ... -> finalize -> per step: mark_ready ... -> wait.
"""
import ctypes

from . import _capi
from ._capi import check, lib

WIRE_FORMATS = {None: _capi.WIRE_NONE, "fp16": _capi.WIRE_FLOAT16, "bf16": _capi.WIRE_BFLOAT16}


class StepStats:
    """What one step did, the same on every rank."""

    def __init__(self, raw):
        self.wire_bytes = raw.wireBytes
        self.buckets = raw.buckets
        self.non_finite = bool(raw.nonFinite)


class GradSync:
    def __init__(self, comm, bucket_bytes=25 << 20, wire=None, average=True, copy_mode=False,
                 sparse_density=None, sparse_chunk=1024, sparse_warmup_steps=0,
                 sparse_momentum=0.0):
        if wire not in WIRE_FORMATS:
            raise ValueError(f"gccl: wire format {wire!r} is none of {list(WIRE_FORMATS)}")
        config = _capi.GradSyncConfig(
            size=ctypes.sizeof(_capi.GradSyncConfig), magic=_capi.GRAD_SYNC_CONFIG_MAGIC,
            version=_capi.HEADER_VERSION, bucketBytes=bucket_bytes, alignment=64,
            compression=WIRE_FORMATS[wire], average=int(average), preDivide=0,
            copyMode=int(copy_mode), sparse=int(sparse_density is not None),
            sparseChunk=sparse_chunk,
            sparseDensity=0.01 if sparse_density is None else sparse_density,
            sparseWarmupSteps=sparse_warmup_steps, sparseMomentum=sparse_momentum,
            sparsePayload=_capi.WIRE_FLOAT16)
        self._comm = comm
        self.handle = ctypes.c_void_p()
        check(lib.gcclGradSyncCreate(comm.handle, ctypes.byref(config), ctypes.byref(self.handle)),
              "gccl.GradSync")

    def _check(self, result, what):
        check(result, f"gccl.GradSync.{what}")

    def register(self, name, count, dtype):
        """The next gradient in backward order; returns its index."""
        index = ctypes.c_size_t()
        self._check(lib.gcclGradSyncRegister(self.handle, name.encode(), count, dtype,
                                             ctypes.byref(index)), "register")
        return index.value

    def finalize(self):
        """Lays out the pool; returns (address, bytes)."""
        pool, size = ctypes.c_void_p(), ctypes.c_size_t()
        self._check(lib.gcclGradSyncFinalize(self.handle, ctypes.byref(pool), ctypes.byref(size)),
                    "finalize")
        return pool.value, size.value

    def address(self, index):
        data = ctypes.c_void_p()
        self._check(lib.gcclGradSyncGetTensor(self.handle, index, ctypes.byref(data)), "address")
        return data.value

    def mark_ready(self, index, buffer=None):
        with self._comm._issue:  # it may start allreduces on the communicator
            result = lib.gcclGradSyncMarkReady(self.handle, index, buffer)
        self._check(result, "mark_ready")

    def wait(self):
        raw = _capi.GradSyncStats()
        with self._comm._issue:  # it may combine the ranks' flags in one more allreduce
            result = lib.gcclGradSyncWait(self.handle, ctypes.byref(raw))
        self._check(result, "wait")
        return StepStats(raw)

    def reset(self):
        with self._comm._issue:
            result = lib.gcclGradSyncReset(self.handle)
        self._check(result, "reset")

    def destroy(self):
        handle, self.handle = self.handle, None
        if handle is not None and handle.value:
            check(lib.gcclGradSyncDestroy(handle), "gccl.GradSync.destroy")
