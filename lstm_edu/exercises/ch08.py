"""Checkers for chapter 8 (HyperLSTM against LSTM).

    from lstm_edu.exercises import ch08
    ch08.check_weight_change(my_weight_change)
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from . import Hint, attempt, compare, run_checker


def _explicit(d: torch.Tensor, w_d: torch.Tensor) -> torch.Tensor:
    """‖diag(d_t) W_d − diag(d_{t−1}) W_d‖_F for t = 1..T−1, with the matrices built."""
    w = d[:, :, None] * w_d[None]  # [T, N_h, N_in]: W(t) = diag(d_t) W_d
    return torch.linalg.matrix_norm(w[1:] - w[:-1])  # [T-1]


def _matrices_built(fn, d: torch.Tensor, w_d: torch.Tensor) -> Optional[Tuple[int, int]]:
    """Run ``fn(d, w_d)`` and watch the tensors torch creates inside it (views and in-place results
    aside): ``(how many hold at least one W_d's worth of numbers, the most numbers one holds)``.

    ``None`` when the watch itself is not possible (older torch, or ``fn`` fails under it): the
    checker then does not judge how the result was computed.
    """
    try:
        from torch.utils._python_dispatch import TorchDispatchMode
    except ImportError:  # pragma: no cover - every torch the book supports has it
        return None
    big, sizes = w_d.numel(), []

    class Watch(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if not func.overloadpacket.__name__.endswith("_"):  # in-place ops create nothing
                for t in out if isinstance(out, (tuple, list)) else (out,):
                    if isinstance(t, torch.Tensor) and not t._is_view() and t.numel() >= big:
                        sizes.append(t.numel())
            return out

    try:
        with Watch():
            fn(d, w_d)
    except Exception:
        return None
    return len(sizes), max(sizes, default=0)


def check_weight_change(fn) -> bool:
    """``fn(d [T, N_h], w_d [N_h, N_in]) -> [T-1]``: ‖W(t) − W(t−1)‖_F for t = 1, ..., T−1,
    where ``W(t) = diag(d_t) W_d``.

    Prints ✅ or ❌ with a hint; returns whether ``fn`` is right.
    """

    def body() -> None:
        g = torch.Generator().manual_seed(8)
        T, n_h, n_in = 7, 5, 3
        d = torch.randn(T, n_h, generator=g)
        # rows of different norms
        w_d = torch.randn(n_h, n_in, generator=g) * torch.arange(1.0, n_h + 1)[:, None]
        d_in, w_in = d.clone(), w_d.clone()
        got = attempt(fn, d_in, w_in, what="your weight_change(d, w_d)")
        if not (torch.equal(d_in, d) and torch.equal(w_in, w_d)):
            raise Hint("your function changed its inputs in place; compute on copies (no `+=`, "
                       "`.mul_()` on d or w_d)")
        want = _explicit(d, w_d)
        if not isinstance(got, torch.Tensor):
            raise Hint(f"return a torch.Tensor of shape [T-1] = [{T - 1}], "
                       f"got {type(got).__name__}")
        if got.shape == (T,):
            raise Hint(f"return one value per step t = 1..T-1 (shape [{T - 1}]): step 0 has no "
                       "previous d to compare with")
        if got.shape != want.shape:
            raise Hint(f"the result should have shape [T-1] = [{T - 1}] (one Frobenius norm per "
                       f"step), got {list(got.shape)}")
        if not got.is_floating_point():
            raise Hint("return a floating-point tensor (a norm is a real number), got dtype "
                       f"{got.dtype}")
        got = got.detach().float()
        if not torch.isfinite(got).all():
            raise Hint("your result contains nan or inf: a norm of real numbers is always finite "
                       "(a sqrt of a negative number? a division by zero?)")
        dd = d[1:] - d[:-1]
        if torch.allclose(got, want.pow(2), rtol=1e-4, atol=1e-5):
            raise Hint("these are the squared norms: take the square root at the end")
        if torch.allclose(got, dd.norm(dim=-1), rtol=1e-4, atol=1e-5):
            raise Hint("that is ‖d_t − d_{t−1}‖, the change of d alone; each d_i scales row i of "
                       "W_d, "
                       "so weight (d_t,i − d_{t−1},i)² by the squared norm of that row")
        col_sq = w_d.pow(2).sum(dim=0)  # [N_in]: column norms, a mix-up with the row norms
        if torch.allclose(got, (dd[:, :n_in].pow(2) * col_sq).sum(-1).sqrt(), rtol=1e-4, atol=1e-5):
            raise Hint("d scales the rows of W_d (d_i multiplies row i), so use the row norms: "
                       "w_d.pow(2).sum(dim=1)")
        if torch.allclose(got, (dd.abs() * w_d.pow(2).sum(dim=1).sqrt()).sum(-1), rtol=1e-4,
                          atol=1e-5):
            raise Hint("that adds the rows' norms; the Frobenius norm adds their *squares* and "
                       "takes one "
                       "square root at the end: sqrt(Σ_i (Δd_i)² ‖row i‖²)")
        if torch.allclose(got, (dd.pow(2) * w_d.abs().sum(dim=1)).sum(-1).sqrt(), rtol=1e-4,
                          atol=1e-5) or \
                torch.allclose(got, (dd.pow(2) * w_d.pow(2).sum(dim=1).sqrt()).sum(-1).sqrt(),
                               rtol=1e-4, atol=1e-5):
            raise Hint("weight each squared change by the *squared* Euclidean norm of the row: "
                       "w_d.pow(2).sum(dim=1)")
        compare("weight_change(d, w_d)", got, want, atol=1e-5, rtol=1e-4,
                hint="‖W(t) − W(t−1)‖_F² = Σ_i (d_t,i − d_{t−1},i)² ‖row i of W_d‖²")

        # Right values; now a wide W_d (each W(t) holds 4 x 64 numbers, d only 7 x 4): did fn build
        # W(t)?
        d2 = torch.randn(7, 4, generator=g)
        w2 = torch.randn(4, 64, generator=g)
        compare("weight_change(d, w_d) on a second example (d [7, 4], w_d [4, 64])",
                attempt(fn, d2.clone(), w2.clone(), what="your weight_change(d, w_d)"),
                _explicit(d2, w2),
                atol=1e-4, rtol=1e-4, hint="does your code assume particular sizes?")
        built = _matrices_built(fn, d2.clone(), w2.clone())
        if built is not None and (built[0] > 4 or built[1] >= 2 * w2.numel()):
            raise Hint("the values are right, but your function built weight matrices: it created "
                       f"{built[0]} "
                       f"tensors at least as large as W_d (the largest {built[1]:,} numbers), "
                       "where the row norms of W_d, "
                       "computed once, are all it needs: Σ_i (d_t,i − d_{t−1},i)² ‖row i of W_d‖², "
                       "O(T N_h) work after one pass over W_d")

    return run_checker("weight_change", body)


__all__ = ["check_weight_change"]
