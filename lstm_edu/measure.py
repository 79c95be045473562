"""Measuring models and code: parameter counts, sizes matched by parameter count, the time a call
takes, and the memory autograd keeps for the backward pass.

- :func:`count_parameters`, :func:`closest_size`: match two models' sizes by parameter count
  (chapter 8 compares an LSTM and a HyperLSTM of the same size this way).
- :func:`time_call`: seconds per call, the fastest of a few (chapter 6).
- :func:`saved_bytes`: bytes of the tensors autograd saves for the backward pass (chapter 6).

The models never import this module: measuring is done from the outside.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Dict, Iterable, Optional

import torch
from torch import nn

from .models.checks import check_size


def count_parameters(module: nn.Module) -> int:
    """The number of trainable numbers in ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def closest_size(count: Callable[[int], int], target: int, lo: int = 1, hi: int = 4096) -> int:
    """The size ``n`` in ``[lo, hi]`` whose ``count(n)`` is closest to ``target``.

    ``count`` must grow with ``n``, e.g.
    ``lambda n: count_parameters(CharLM(LSTM(E, n, 1), V, E))``; a bisection finds the crossing,
    so ``count`` is called about ``log2(hi - lo)`` times.
    """
    if lo > hi:
        raise ValueError(f"lo must be at most hi, got lo={lo}, hi={hi}")
    a, b = lo, hi
    while a < b:  # smallest n with count(n) >= target
        mid = (a + b) // 2
        if count(mid) >= target:
            b = mid
        else:
            a = mid + 1
    best = a
    if a > lo and abs(count(a - 1) - target) <= abs(count(a) - target):
        best = a - 1
    return best


def _sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously; the CPU needs no wait)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], repeats: int = 5, warmup: int = 1,
              device: Optional[torch.device] = None) -> float:
    """Seconds one call of ``fn()`` takes: the fastest of ``repeats`` timed calls after ``warmup``.

    The minimum is the least noisy estimate on a shared machine (other work only ever adds time).
    On CUDA the device is synchronised around each call.
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    for _ in range(warmup):
        fn()
    best = math.inf
    for _ in range(check_size("repeats", repeats)):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def saved_bytes(fn: Callable[[], torch.Tensor], exclude: Iterable[torch.Tensor] = ()) -> int:
    """Bytes of the tensors autograd keeps for the backward pass while ``fn()`` runs forward.

    This is the activation memory a training step holds between forward and backward; it is
    measured by recording every tensor autograd saves
    (``torch.autograd.graph.saved_tensors_hooks``), each storage counted once. Storages of the
    tensors in ``exclude`` (the parameters, which exist anyway) are not counted.
    """
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen: Dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in skip:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


__all__ = ["count_parameters", "closest_size", "time_call", "saved_bytes"]
