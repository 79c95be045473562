r"""The fast layers' matrix multiplies ``y = x W^T``: oneDNN for the input terms of all steps,
and for the per-step recurrent products of the compiled loops, :class:`Panels`.

PyTorch's ``torch.mm`` on a CPU calls a BLAS library (MKL on the official builds).
``torch.nn.LSTM`` on a CPU runs on oneDNN instead (the library behind PyTorch's fused CPU
layers). For the input terms of all steps at once (``[3200, 128] x [128, 1024]``,
``[3200, 256] x [256, 1280]``) we measured oneDNN 1.2-1.9x faster than ``torch.mm`` on a 2-core
AMD CPU with 2 threads; :func:`linear_into` uses it there.

A step's product (``[32, 256] x [256, 1280]``) is different: MKL spends much of each call
packing ``W`` into the layout its kernel reads, again at every step. :class:`Panels` packs ``W``
once per layer call and multiplies with a small kernel of our own (``csrc/panels.h``) that adds
in MKL's order, so the compiled loops get ``torch.mm``'s numbers bit for bit, about twice as
fast. (oneDNN's product with a weight reordered once is fast too, but it adds in another order:
a three-layer float32 HyperLSTM then moved 2e-5 from the reference, against the 1e-5 the tests
allow.) The Python loops call ``torch.mm``.

oneDNN is used for float32 tensors on a CPU when PyTorch was built with it and it is switched
on (``torch.backends.mkldnn``); otherwise (float64, a GPU, ``torch.backends.mkldnn.flags(
enabled=False)``) :func:`linear` is ``torch.mm``.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch


def onednn_for(t: torch.Tensor) -> bool:
    """Whether :func:`linear` multiplies tensors like ``t`` with oneDNN."""
    return (t.device.type == "cpu" and t.dtype == torch.float32
            and torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
            and hasattr(torch.ops.mkldnn, "_linear_pointwise"))


def linear(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``x [M, N_in] @ w[N_out, N_in]^T -> [M, N_out]`` (a new tensor): oneDNN's inner product
    where :func:`onednn_for` says so, else ``torch.mm``."""
    if not onednn_for(x):
        return torch.mm(x, w.t())
    return torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], "")


def linear_into(out: torch.Tensor, x: torch.Tensor, w: torch.Tensor, rows: int = 256):
    """``out [M, N_out] = x [M, N_in] @ w^T``, as :func:`linear`, ``rows`` rows at a time: each
    block's result is small enough that the C library gives the next block the same memory
    again, and ``out`` can be a buffer used before (:data:`~lstm_edu.fast.buffers.POOL`). One
    call of :func:`linear` would return fresh memory, a page fault per 4 KiB written. Returns
    ``out``."""
    for start in range(0, x.shape[0], rows):
        out[start:start + rows] = linear(x[start:start + rows], w)
    return out


# Block lengths (kc) to try: first those found for MKL's sgemm on a 2-core AMD CPU (one block up
# to 192 terms, two halves up to 384, blocks of 192 beyond), then other common ones, for other
# processors (untested there: where none matches, the loops call torch.mm). None: all K terms;
# "half": K // 2.
_KC_TRIED = (None, 192, "half", 128, 256, 384, 512)
_kc_found: Dict[tuple, Optional[int]] = {}


class Panels:
    """``W [N_out, N_in]`` packed for the compiled loops' own per-step product ``y = x W^T``
    (``csrc/panels.h``), which gives ``torch.mm(x, W.t())`` bit for bit, about twice as fast at
    one step's shapes on two threads (less on one): MKL packs ``W`` again at every call, the
    panels are packed once per layer call. A panel is ``width`` rows of ``W`` (columns of
    ``W^T`` and of ``y``), stored ``[N_in, width]``.

    ``panel_mm`` sums each output in blocks of ``kc`` terms. Which ``kc`` gives
    ``torch.mm``'s result depends on the BLAS library and the shapes, so :meth:`for_loops`
    finds it by trying, on random numbers of the same shapes, and keeps what it found; where no
    ``kc`` matches ``torch.mm`` (another BLAS library; a batch under 12 that is not a multiple
    of 4, for which MKL takes another path here) it returns ``None`` and the loop calls
    ``torch.mm``."""

    def __init__(self, w: torch.Tensor, width: int, kc: int):
        N, K = w.shape
        n = -(-N // width)  # panels, the last one padded with zero columns
        padded = w.new_zeros(n * width, K)
        padded[:N] = w
        self.tensor = padded.view(n, width, K).transpose(1, 2).contiguous()  # [n, K, width]
        self.kc = kc

    @staticmethod
    def for_loops(loops, w: torch.Tensor, batch_size: int) -> Optional["Panels"]:
        """Panels of ``w`` (contiguous) for ``loops`` (the compiled module, or ``None`` for the
        Python loops) and ``x [batch_size, N_in]``, or ``None`` where ``torch.mm`` must do it
        (see the class)."""
        if loops is None or w.device.type != "cpu":
            return None
        N, K = w.shape
        key = (batch_size, K, N, w.dtype, torch.get_num_threads())
        if key not in _kc_found:
            _kc_found[key] = _find_kc(loops, batch_size, K, N, w.dtype)
        kc = _kc_found[key]
        return None if kc is None else Panels(w, loops.panel_width(w), kc)

    # Fewer steps than this in a layer call: no panels. Packing takes longer than one product,
    # and chapter 9b measured it paid back after 2-3 steps on two threads, 10-23 on one.
    min_steps = 16

    @staticmethod
    def args(loops, w: torch.Tensor, batch_size: int,
             steps: int) -> Tuple[Optional[torch.Tensor], int]:
        """``(panels, kc)`` as the loops take them for a call of ``steps`` steps:
        :meth:`for_loops`'s tensor and ``kc``, or ``(None, 0)`` (also for fewer than
        :attr:`min_steps` steps)."""
        if steps < Panels.min_steps:
            return None, 0
        p = Panels.for_loops(loops, w, batch_size)
        return (None, 0) if p is None else (p.tensor, p.kc)


def _find_kc(loops, M: int, K: int, N: int, dtype: torch.dtype) -> Optional[int]:
    """The first block length of :data:`_KC_TRIED` with which ``panel_mm`` gives
    ``torch.mm``'s result bit for bit on random ``[M, K]`` and ``[N, K]``; ``None`` if none
    does."""
    if M < 2:  # one row: torch.mm takes another path (a vector times a matrix)
        return None
    g = torch.Generator().manual_seed(0)
    x = torch.randn(M, K, generator=g, dtype=dtype)
    w = torch.randn(N, K, generator=g, dtype=dtype)
    want = torch.mm(x, w.t())
    got = torch.empty_like(want)
    tried = (K if kc is None else max(1, K // 2) if kc == "half" else min(kc, K)
             for kc in _KC_TRIED)
    for kc in dict.fromkeys(tried):
        loops.panel_mm(got, x, Panels(w, loops.panel_width(w), kc).tensor, kc)
        if torch.equal(got, want):
            return kc
    return None
