"""Memory that the fast layers use again from one call to the next.

A training step of a fast layer allocates large buffers: the forward pass's
``[T, B, ...]`` tensors that the backward pass reads, and the backward pass's scratch. On a
CPU, memory that is allocated afresh costs a page fault (the operating system maps it and
fills it with zeros) per 4 KiB page the first time it is written, and the C library returns
large freed blocks to the operating system. For a FastHyperLSTM training step at the
benchmark's size that was about 20,000 page faults, measured (``resource.getrusage``).
:data:`POOL` keeps those buffers and hands them out again, but only once no tensor uses their
memory any more, so reusing one can never overwrite numbers that something still holds.
"""

from __future__ import annotations

import threading
from typing import Dict, List, Tuple

import torch


def _use_count(t: torch.Tensor) -> int:
    """How many tensors (and storage objects) hold the memory of ``t``."""
    return torch._C._storage_Use_Count(t.untyped_storage()._cdata)


class BufferPool:
    """Flat buffers kept between calls, per device and dtype; :meth:`empty` hands out a view of
    the smallest free one that is large enough (a buffer is free when no tensor other than the
    pool's own uses its memory), or allocates one. At most ``limit`` buffers are kept per device
    and dtype; :meth:`clear` lets them go. With ``enabled = False`` every call allocates (to
    measure what the pool saves: chapter 9b)."""

    def __init__(self, limit: int = 32):
        self.limit, self.enabled = limit, True
        self.buffers: Dict[Tuple[torch.device, torch.dtype], List[torch.Tensor]] = {}
        self.lock = threading.Lock()
        try:  # the count of a buffer that nothing else uses (a private PyTorch function)
            self.free_count = _use_count(torch.empty(1))
        except (AttributeError, RuntimeError):
            self.free_count = None  # not available: every call allocates

    def empty(self, like: torch.Tensor, *shape: int) -> torch.Tensor:
        """An uninitialised tensor of ``shape`` on ``like``'s device, with its dtype."""
        numel = 1
        for size in shape:
            numel *= size
        if not self.enabled or self.free_count is None or like.device.type != "cpu":
            return like.new_empty(shape)
        with self.lock:
            kept = self.buffers.setdefault((like.device, like.dtype), [])
            fits = [b for b in kept if b.numel() >= numel and _use_count(b) == self.free_count]
            if fits:
                buf = min(fits, key=torch.Tensor.numel)
            else:
                buf = like.new_empty(numel)
                if len(kept) < self.limit:
                    kept.append(buf)
            return buf[:numel].view(shape)  # this view holds the memory while it lives

    def clear(self) -> None:
        """Forget every kept buffer (its memory is freed when nothing else uses it)."""
        with self.lock:
            self.buffers.clear()


# The fast layers' pool. It keeps CPU memory only: on a GPU, PyTorch's caching allocator already
# reuses memory.
POOL = BufferPool()


def contiguous(t: torch.Tensor) -> torch.Tensor:
    """``t`` itself if it is contiguous, else a contiguous copy in :data:`POOL`'s memory (the
    gradient of ``out.sum()``, for one, arrives as one number expanded to ``out``'s shape)."""
    return t if t.is_contiguous() else POOL.empty(t, *t.shape).copy_(t)
