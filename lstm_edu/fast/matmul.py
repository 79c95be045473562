r"""The fast layers' matrix multiplies ``y = x W^T``, through oneDNN where it is faster.

PyTorch's ``torch.mm`` on a CPU calls a BLAS library (MKL on the official builds).
``torch.nn.LSTM`` on a CPU runs on oneDNN instead (the library behind PyTorch's fused CPU
layers), whose matrix multiplies keep the weight in a blocked layout made for the vector
registers. For the shapes of a recurrent layer we measured oneDNN faster on a 2-core AMD CPU
with 2 threads: 1.4x for one step's ``[32, 256] x [256, 1024]``, 1.7x for the backward pass's
``[32, 1024] x [1024, 256]``, and 1.2-1.9x for the input terms of all steps at once
(``[3200, 128] x [128, 1024]``, ``[3200, 256] x [256, 1280]``). (Chapter 9b measures one step's
product again, on one thread, where the gain was smaller.) :class:`Linear` reorders
the weight into oneDNN's layout once per layer call (a fraction of a millisecond) and then
multiplies by it at every step; both time loops, the Python one and the compiled one, use it,
so they compute the same numbers.

oneDNN is used for float32 tensors on a CPU when PyTorch was built with it and it is switched
on (``torch.backends.mkldnn``); otherwise (float64, a GPU, ``torch.backends.mkldnn.flags(
enabled=False)``) :class:`Linear` is ``torch.mm``.
"""

from __future__ import annotations

from typing import Optional

import torch


def onednn_for(t: torch.Tensor) -> bool:
    """Whether :class:`Linear` multiplies tensors like ``t`` with oneDNN."""
    return (t.device.type == "cpu" and t.dtype == torch.float32
            and torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
            and hasattr(torch.ops.mkldnn, "_linear_pointwise"))


def linear(x: torch.Tensor, w: torch.Tensor, packed: Optional[torch.Tensor] = None):
    """``x [M, N_in] @ w[N_out, N_in]^T -> [M, N_out]`` (a new tensor): oneDNN's inner product
    where :func:`onednn_for` says so (with ``packed``, the weight from :class:`Linear`, when
    given), else ``torch.mm``."""
    if not onednn_for(x):
        return torch.mm(x, w.t())
    return torch.ops.mkldnn._linear_pointwise(x, w if packed is None else packed, None, "none",
                                              [], "")


def linear_into(out: torch.Tensor, x: torch.Tensor, w: torch.Tensor, rows: int = 256):
    """``out [M, N_out] = x [M, N_in] @ w^T``, as :func:`linear`, ``rows`` rows at a time: each
    block's result is small enough that the C library gives the next block the same memory
    again, and ``out`` can be a buffer used before (:data:`~lstm_edu.fast.buffers.POOL`). One
    call of :func:`linear` would return fresh memory, a page fault per 4 KiB written. Returns
    ``out``."""
    for start in range(0, x.shape[0], rows):
        out[start:start + rows] = linear(x[start:start + rows], w)
    return out


class Linear:
    """``y = x W^T`` for many ``x [B, N_in]`` of one batch size ``B`` and one weight
    ``w [N_out, N_in]``: the weight reordered once for oneDNN (``packed``; ``None`` where
    :func:`onednn_for` is false). Calling it returns a new ``[B, N_out]`` tensor."""

    def __init__(self, w: torch.Tensor, batch_size: int):
        self.w = w.contiguous()
        self.packed = (torch.ops.mkldnn._reorder_linear_weight(self.w, batch_size)
                       if onednn_for(w) else None)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.w, self.packed)
