"""gccl from Python: communicators and the gradient sync over libgccl.so's C API.

`gccl.torch` is the Horovod-like plugin for PyTorch. This package needs no framework: its
calls take buffer addresses. The library is loaded from GCCL_LIBRARY when set, else from the
prefix CMake installed the package into, the loader's path, or a source checkout's build/lib.
"""
from ._capi import (AVG, BFLOAT16, FLOAT16, FLOAT32, FLOAT64, INT8, INT32, INT64, MAX, MIN, PROD,
                    SUM, UINT8, UINT32, UINT64, GcclError, version)
from .communicator import Communicator, Request, unique_id
from .grad_sync import GradSync, StepStats

__all__ = ["AVG", "BFLOAT16", "FLOAT16", "FLOAT32", "FLOAT64", "INT8", "INT32", "INT64", "MAX",
           "MIN", "PROD", "SUM", "UINT8", "UINT32", "UINT64", "GcclError", "version",
           "Communicator", "Request", "unique_id", "GradSync", "StepStats"]
