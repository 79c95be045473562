"""Checkers for chapter 1 (why recurrent networks forget)."""

from __future__ import annotations

from typing import Callable

import torch

from ..models.rnn import RNNCell
from . import Hint, attempt, compare, readable, run_checker


def check_rnn_step_jacobian(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    r"""Check ``fn(h_t, w_hh) -> J`` where ``J = ∂h_t/∂h_{t-1} = diag(1 - h_t²) W_hh``.

    ``h_t`` is one step's output ``[N_h]`` and ``w_hh`` is ``W_hh`` ``[N_h, N_h]``; ``J`` is ``[N_h,
    N_h]`` with ``J[j, k] = ∂h_{t,j} / ∂h_{t-1,k}``. The reference is autograd's Jacobian of a real
    step.
    """

    def body() -> None:
        gen = torch.Generator().manual_seed(1)
        H, N_x = 5, 3
        torch.manual_seed(1)
        cell = RNNCell(N_x, H).double()
        x = torch.randn(1, N_x, generator=gen, dtype=torch.float64)
        h_prev = torch.randn(1, H, generator=gen, dtype=torch.float64)
        (h_t,) = cell(x, h_prev)
        h_t = h_t[0].detach()
        w_hh = cell.lin_h.weight.detach()
        want = torch.autograd.functional.jacobian(lambda hp: cell(x, hp.unsqueeze(0))[0][0],
                                                  h_prev[0])
        got = readable("J", attempt(fn, h_t.clone(), w_hh.clone(), what="your function"))
        if isinstance(got, torch.Tensor) and got.shape == want.shape:
            got = got.double()
            d = 1 - h_t**2
            if torch.allclose(got, w_hh):
                raise Hint("you returned W_hh itself: the tanh also has a derivative, 1 - tanh(z)² "
                           "= 1 - h_t²")
            if torch.allclose(got, w_hh * d.unsqueeze(0)):
                raise Hint("you scaled the columns of W_hh; the factor of entry [j, k] depends on "
                           "j, "
                           "the unit of h_t, so each row of W_hh gets its own factor")
            if torch.allclose(got, (w_hh * d.unsqueeze(1)).T):
                raise Hint("you returned the transpose: entry [j, k] is ∂h_{t,j}/∂h_{t-1,k}")
        compare("J", got, want, atol=1e-8, rtol=1e-6,
                hint="differentiate h_t,j = tanh(a_t,j) by h_t-1,k with the chain rule; "
                     "tanh' can be written with tanh's own output, h_t")

    return run_checker("rnn_step_jacobian", body)


__all__ = ["check_rnn_step_jacobian"]
