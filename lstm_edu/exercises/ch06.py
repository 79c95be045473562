r"""Checkers for chapter 6 (hypernetworks).

``check_row_scaling(fn)``: the reader writes :math:`W_h h` the cheap way,
:math:`d(z) \odot (W_{hd} h)` with :math:`d(z) = W_{dz} z`, without building :math:`W_h`.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..measure import saved_bytes
from ..models.hyper_lstm import explicit_matvec, row_scaling_matvec, weight_tensor_from_row_scaling
from . import Hint, attempt, compare, run_checker


def _close(a: object, b: torch.Tensor) -> bool:
    return (isinstance(a, torch.Tensor) and a.shape == b.shape
            and torch.allclose(a.detach().float(), b, atol=1e-5, rtol=1e-4))


def check_row_scaling(fn: Callable[..., torch.Tensor]) -> bool:
    r"""Check ``fn(w_hd [N_h, N_h], w_dz [N_h, N_z], z [B, N_z], h [B, N_h]) -> [B, N_h]``.

    It must equal :math:`\langle W_{hz}, z \rangle h` for the :math:`W_{hz}` that row scaling
    stands for, and must not build the :math:`B \times N_h \times N_h` weight on the way.
    Prints ✅ or ❌ with a hint; returns whether it passed.
    """

    def body() -> None:
        g = torch.Generator().manual_seed(6)
        n_h, n_z, batch = 5, 3, 4
        w_hd = torch.randn(n_h, n_h, generator=g)
        w_dz = torch.randn(n_h, n_z, generator=g)
        z = torch.randn(batch, n_z, generator=g)
        h = torch.randn(batch, n_h, generator=g)
        want = explicit_matvec(weight_tensor_from_row_scaling(w_hd, w_dz), z, h)
        # copies, so that a function that writes into its inputs cannot change the reference
        got = attempt(fn, w_hd.clone(), w_dz.clone(), z.clone(), h.clone(), what="your function")
        d = z @ w_dz.T  # [B, N_h]
        if _close(got, h @ w_hd.T):
            raise Hint("you returned W_hd h unscaled: multiply it element by element by "
                       "d(z) = W_dz z")
        if _close(got, (d * h) @ w_hd.T):
            raise Hint("you scaled the columns of W_hd (W_hd (d ⊙ h)); row scaling multiplies the "
                       "result: d ⊙ (W_hd h)")
        if _close(got, d * (h @ w_hd)):
            raise Hint("W_hd is used transposed: for a batch of rows h [B, N_h], W_hd h is "
                       "h @ w_hd.T")
        if _close(got, z @ w_dz.T):
            raise Hint("you returned d(z) itself; W_h h is d(z) ⊙ (W_hd h)")
        compare("your result", got, want, hint="W_h h = d(z) ⊙ (W_hd h) with d(z) = W_dz z, i.e. "
                                               "(z @ w_dz.T) * (h @ w_hd.T)")
        # Right numbers: now make sure W_h was never built (the whole point of the trick). This runs
        # at a larger N_h, where a [B, N_h, N_h] weight dwarfs everything a correct answer keeps
        # (even one that works in float64), with the inputs requiring gradients as in training.
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
                       f"[B, N_h, N_h] weight ({full:,} bytes): compute W_hd h first and scale "
                       "the result, without forming d[:, :, None] * W_hd")

    return run_checker("row scaling d(z) ⊙ (W_hd h)", body)


def reference_row_scaling(w_hd: torch.Tensor, w_dz: torch.Tensor, z: torch.Tensor,
                          h: torch.Tensor) -> torch.Tensor:
    """The reference answer (the same as :func:`lstm_edu.row_scaling_matvec`)."""
    return row_scaling_matvec(w_hd, w_dz, z, h)


__all__ = ["check_row_scaling", "reference_row_scaling"]
