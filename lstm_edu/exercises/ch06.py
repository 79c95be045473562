r"""Checkers for chapter 6 (hypernetworks).

``check_row_scaling(fn)``: the reader writes :math:`W_h(z)\, h` the cheap way,
:math:`d \odot (W_h h)` with :math:`d = W_{hz} z`, without building :math:`W_h(z)`.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..measure import saved_bytes
from ..models.hypernet import explicit_matvec, row_scaling_matvec, weight_tensor_from_row_scaling
from . import Hint, attempt, compare, run_checker


def _close(a: object, b: torch.Tensor) -> bool:
    return (isinstance(a, torch.Tensor) and a.shape == b.shape
            and torch.allclose(a.detach().float(), b, atol=1e-5, rtol=1e-4))


def check_row_scaling(fn: Callable[..., torch.Tensor]) -> bool:
    r"""Check ``fn(w_h [N_h, N_h], w_hz [N_h, N_z], z [B, N_z], h [B, N_h]) -> [B, N_h]``.

    It must equal :math:`W_h(z) h = (\mathcal{W}_h \times_3 z) h` for the 3-d tensor
    :math:`\mathcal{W}_h` that row scaling stands for, and must not build the
    :math:`B \times N_h \times N_h` weight on the way.
    Prints ✅ or ❌ with a hint; returns whether it passed.
    """

    def body() -> None:
        g = torch.Generator().manual_seed(6)
        n_h, n_z, batch = 5, 3, 4
        w_h = torch.randn(n_h, n_h, generator=g)
        w_hz = torch.randn(n_h, n_z, generator=g)
        z = torch.randn(batch, n_z, generator=g)
        h = torch.randn(batch, n_h, generator=g)
        want = explicit_matvec(weight_tensor_from_row_scaling(w_h, w_hz), z, h)
        # copies, so that a function that writes into its inputs cannot change the reference
        got = attempt(fn, w_h.clone(), w_hz.clone(), z.clone(), h.clone(), what="your function")
        d = z @ w_hz.T  # [B, N_h]
        if _close(got, h @ w_h.T):
            raise Hint("you returned W_h h unscaled: each entry i still needs its own factor "
                       "d_i, with d = W_hz z")
        if _close(got, (d * h) @ w_h.T):
            raise Hint("you scaled the columns of W_h (W_h (d ⊙ h)); row scaling scales the rows, "
                       "that is, the entries of the product W_h h")
        if _close(got, d * (h @ w_h)):
            raise Hint("W_h is used transposed: for a batch of rows h [B, N_h], W_h h is "
                       "h @ w_h.T")
        if _close(got, z @ w_hz.T):
            raise Hint("you returned d itself; it scales something: the rows of W_h")
        compare("your result", got, want,
                hint="two matrix products (one gives d, one gives W_h h) and one element-wise "
                     "product")
        # Right numbers: now make sure W_h(z) was never built (the whole point of the trick). This
        # runs at a larger N_h, where a [B, N_h, N_h] weight dwarfs everything a correct answer
        # keeps (even one that works in float64), with the inputs requiring gradients as in
        # training.
        n_h, batch = 64, 4
        params = [torch.randn(n_h, n_h, generator=g).requires_grad_(),
                  torch.randn(n_h, n_z, generator=g).requires_grad_()]
        z_big = torch.randn(batch, n_z, generator=g)
        h_big = torch.randn(batch, n_h, generator=g).requires_grad_()
        full = batch * n_h * n_h * h.element_size()
        used = attempt(saved_bytes, lambda: fn(params[0], params[1], z_big, h_big),
                       exclude=params + [h_big, z_big],
                       what="your function, called with inputs that require gradients,")
        if used >= full:
            raise Hint(f"the values are right, but for N_h = {n_h}, B = {batch} your function "
                       f"keeps {used:,} bytes for the backward pass, as much as a full "
                       f"[B, N_h, N_h] weight ({full:,} bytes): compute W_h h first and scale the "
                       "result, without forming d[:, :, None] * W_h")

    return run_checker("row scaling d ⊙ (W_h h)", body)


def reference_row_scaling(w_h: torch.Tensor, w_hz: torch.Tensor, z: torch.Tensor,
                          h: torch.Tensor) -> torch.Tensor:
    """The reference answer (the same as :func:`lstm_edu.row_scaling_matvec`)."""
    return row_scaling_matvec(w_h, w_hz, z, h)


__all__ = ["check_row_scaling", "reference_row_scaling"]
