"""What the training loops and the character model share: the state type, eval mode for a
block, cutting the state from its graph, and the sizes and devices they default to."""

from __future__ import annotations

import contextlib
import math
from typing import Iterator, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .. import settings

State = Tuple[torch.Tensor, ...]
LN2 = math.log(2.0)


def _hidden_size(rnn: nn.Module, hidden_size: Optional[int]) -> int:
    if hidden_size is not None:
        return hidden_size
    size = getattr(rnn, "hidden_size", None)
    if not isinstance(size, int):
        raise TypeError(f"{type(rnn).__name__} has no integer hidden_size attribute: pass "
                        "hidden_size=...")
    return size


def _device(device: Union[str, torch.device, None]) -> torch.device:
    return torch.device(device) if device is not None else settings.DEVICE


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """``with evaluating(model):`` runs the block in eval mode, then puts back the mode it found."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def detach_state(state: Optional[Sequence[torch.Tensor]]) -> Optional[State]:
    """The same state cut from the graph that computed it (truncated backpropagation through
    time)."""
    if state is None:
        return None
    return tuple(s.detach() for s in state)


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


__all__ = ["State", "LN2", "evaluating", "detach_state"]
