"""How a torch tensor is handed to gccl: its address, element count, dtype and stream."""
import torch

from .. import _capi

_DTYPES = {
    torch.int8: _capi.INT8, torch.uint8: _capi.UINT8, torch.int32: _capi.INT32,
    torch.int64: _capi.INT64, torch.float16: _capi.FLOAT16, torch.bfloat16: _capi.BFLOAT16,
    torch.float32: _capi.FLOAT32, torch.float64: _capi.FLOAT64,
}


def gccl_dtype(dtype, what, copies_only=False):
    """gccl's type for `dtype`. A collective that only copies (broadcast, allgather) takes bool
    too, as bytes."""
    if copies_only and dtype == torch.bool:
        return _capi.UINT8
    try:
        return _DTYPES[dtype]
    except KeyError:
        names = ", ".join(str(d).replace("torch.", "") for d in _DTYPES)
        raise TypeError(f"gccl.torch.{what}: {dtype} is not one of gccl's types ({names})") \
            from None


def check_device(tensor, what):
    if tensor.device.type not in ("cpu", "cuda"):
        raise TypeError(f"gccl.torch.{what}: tensors on {tensor.device} are not supported "
                        "(cpu and cuda are)")


def stream_of(tensor):
    """The CUDA stream a device tensor's collective is ordered on (the current one, as
    NCCL's process group does), or None for a host tensor."""
    if tensor.device.type != "cuda":
        return None
    return torch.cuda.current_stream(tensor.device)


def address(tensor):
    """The address gccl reads or writes: the tensor's first element (its storage offset
    included). None for an empty tensor, whose address gccl never touches."""
    return tensor.data_ptr() if tensor.numel() else None
