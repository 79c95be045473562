"""Checkpoints that load safely: ``torch.load(..., weights_only=True)``, so a checkpoint holds
weights, optimizer state and plain values, never code."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Union

import torch
from torch import nn

from .common import _model_device


def save_checkpoint(path: Union[str, Path], model: nn.Module,
                    optimizer: Optional[torch.optim.Optimizer] = None,
                    **extra: Any) -> Path:
    """Save ``model``'s weights (and the optimizer's state) with anything else in ``extra``.

    ``extra`` must hold only tensors and plain Python values (str, int, float, bool, None, lists,
    tuples, dicts), e.g. ``vocab=vocab.chars, config={...}, history=hist``: that is what
    :func:`load_checkpoint` can read back with ``weights_only=True``, which never runs code from the
    file. Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {"model": model.state_dict(), "extra": extra}
    if optimizer is not None:
        ckpt["optimizer"] = optimizer.state_dict()
    torch.save(ckpt, path)
    return path


def load_checkpoint(path: Union[str, Path], model: nn.Module,
                    optimizer: Optional[torch.optim.Optimizer] = None,
                    map_location: Union[str, torch.device, None] = None) -> Dict[str, Any]:
    """Load weights saved by :func:`save_checkpoint` into ``model`` (and ``optimizer``); return
    ``extra``.

    Uses ``torch.load(path, weights_only=True)``: a checkpoint can only contain tensors and plain
    values, so loading a file from elsewhere cannot execute code. ``map_location`` defaults to the
    model's device.
    """
    if map_location is None:
        map_location = _model_device(model)
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    model.load_state_dict(ckpt["model"])
    if optimizer is not None and "optimizer" in ckpt:
        optimizer.load_state_dict(ckpt["optimizer"])
    return ckpt.get("extra", {})



__all__ = ["save_checkpoint", "load_checkpoint"]
