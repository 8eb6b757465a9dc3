"""Compression of the tensors on the wire (Horovod's hvd.Compression).

For the collectives, fp16 and bf16 cast a floating tensor to 16 bits before the allreduce and
back after it; gccl reduces 16-bit types in fp32 at every hop and rounds once per hop. For
DistributedOptimizer they choose the gradient sync's wire format instead: fp32 gradients are
encoded to 16 bits per message and accumulated in fp32, rounded once at the end.
"""
import torch


class Compressor:
    wire = None  # the gradient sync's wire format (gccl.grad_sync.WIRE_FORMATS)

    @staticmethod
    def compress(tensor):
        return tensor, None

    @staticmethod
    def decompress(tensor, context):
        return tensor


class NoneCompressor(Compressor):
    pass


def _cast_compressor(name, dtype):
    class Cast(Compressor):
        wire = name

        @staticmethod
        def compress(tensor):
            if tensor.dtype.is_floating_point and tensor.dtype != dtype:
                return tensor.to(dtype), tensor.dtype
            return tensor, None

        @staticmethod
        def decompress(tensor, context):
            return tensor if context is None else tensor.to(context)

    Cast.__name__ = Cast.__qualname__ = f"{name.upper()}Compressor"
    return Cast


class Compression:
    """none, fp16 or bf16, as `compression=` of the collectives and DistributedOptimizer."""
    none = NoneCompressor
    fp16 = _cast_compressor("fp16", torch.float16)
    bf16 = _cast_compressor("bf16", torch.bfloat16)
