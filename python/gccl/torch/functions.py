"""Horovod's helpers for the start of training: parameters, optimizer state and Python
objects sent from one rank to all."""
import pickle

import torch

from .collectives import broadcast_, broadcast_async_, synchronize
from .world import rank


def broadcast_parameters(params, root_rank):
    """Overwrites every rank's parameters with root_rank's: `params` is a state_dict(), the
    (name, tensor) pairs of named_parameters(), or a list of tensors. The broadcasts are
    started together and waited for in order."""
    if isinstance(params, dict):
        tensors = list(params.values())
    else:
        tensors = [p[1] if isinstance(p, tuple) else p for p in params]
    handles = []
    for tensor in tensors:
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"gccl.torch.broadcast_parameters: {type(tensor)} is not a tensor")
        handles.append(broadcast_async_(tensor.data, root_rank))
    for handle in handles:
        synchronize(handle)


def broadcast_object(obj, root_rank=0, name=None):
    """root_rank's `obj` (anything pickle takes, tensors included), returned on every rank:
    its length first, then its bytes. An object the root cannot pickle fails on every rank."""
    is_root = rank() == root_rank
    payload, failure = b"", None
    if is_root:
        try:
            payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # the others are waiting for a length: send them -1
            failure = error
    length = torch.tensor([-1 if failure else len(payload)], dtype=torch.int64)
    broadcast_(length, root_rank)
    if length.item() < 0:
        raise ValueError(f"gccl.torch.broadcast_object: rank {root_rank} could not pickle the "
                         f"object: {failure or 'see that rank'}") from failure
    if is_root:
        data = torch.frombuffer(bytearray(payload), dtype=torch.uint8)
    else:
        data = torch.empty(int(length.item()), dtype=torch.uint8)
    broadcast_(data, root_rank)
    return obj if is_root else pickle.loads(data.numpy().tobytes())


def _on_host(obj):
    """`obj` with every tensor in it copied to host memory."""
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return {key: _on_host(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_on_host(value) for value in obj)
    return obj


def broadcast_optimizer_state(optimizer, root_rank):
    """Gives every rank root_rank's optimizer state (momentum buffers, step counts, learning
    rates): its state_dict, sent through host memory (load_state_dict puts each state tensor
    on its parameter's device) and loaded by the others. The parameters themselves go through
    broadcast_parameters. load_state_dict replaces the optimizer's param_groups: build LR
    schedulers on the optimizer after this call."""
    state = broadcast_object(_on_host(optimizer.state_dict()), root_rank)
    if rank() != root_rank:
        optimizer.load_state_dict(state)
