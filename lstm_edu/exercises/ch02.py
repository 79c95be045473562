"""Checkers for chapter 2 (the LSTM cell)."""

from __future__ import annotations

from typing import Callable

import torch

from ..models.lstm import LSTMCell
from . import Hint, attempt, compare, readable, run_checker


def _step(x, h, c, W, b, first="h", order="ifgo"):
    """A step computed in a (possibly wrong) variant, to recognise common mistakes."""
    z = (torch.cat([h, x] if first == "h" else [x, h], dim=1) @ W.T + b).chunk(4, dim=1)
    gate = dict(zip(order, z))
    c_t = torch.sigmoid(gate["f"]) * c + torch.sigmoid(gate["i"]) * torch.tanh(gate["g"])
    return torch.sigmoid(gate["o"]) * torch.tanh(c_t), c_t


def check_lstm_step_concat(fn: Callable[..., object]) -> bool:
    r"""Check ``fn(x, h, c, W, b) -> (h_t, c_t)``: one LSTM step written with the concatenated
    weight.

    ``x`` ``[B, N_x]``, ``h`` and ``c`` ``[B, N_h]`` (that is, :math:`h_{t-1}` and :math:`c_{t-1}`),
    ``W`` ``[4 N_h, N_h + N_x]`` acting on :math:`[h_{t-1}, x_t]` (``h`` first, as in labml.ai's
    annotated LSTM and Colah's post), ``b`` ``[4 N_h]``; rows of ``W`` in gate order i, f, g, o.
    The reference is ``LSTMCell``.
    """

    def body() -> None:
        torch.manual_seed(2)
        B, N_x, H = 3, 4, 5
        cell = LSTMCell(N_x, H)
        x, h, c = torch.randn(B, N_x), torch.randn(B, H), torch.randn(B, H)
        W = torch.cat([cell.lin_h.weight, cell.lin_x.weight], dim=1).detach()  # [4H, H + I]
        b = cell.lin_h.bias.detach()
        with torch.no_grad():
            h_want, c_want = cell(x, h, c)
        got = attempt(fn, x.clone(), h.clone(), c.clone(), W.clone(), b.clone(),
                      what="your function")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Hint(f"return a pair (h_t, c_t), got {type(got).__name__}")
        h_got, c_got = readable("h_t", got[0]), readable("c_t", got[1])
        if (isinstance(h_got, torch.Tensor) and isinstance(c_got, torch.Tensor)
                and h_got.shape == c_got.shape == h_want.shape):
            h_got, c_got = h_got.to(h_want.dtype), c_got.to(c_want.dtype)  # e.g. float64 attempts
            if (torch.allclose(h_got, c_want, atol=1e-5)
                    and torch.allclose(c_got, h_want, atol=1e-5)):
                raise Hint("h_t and c_t are swapped: return (h_t, c_t)")
            if (torch.allclose(c_got, c_want, atol=1e-5)
                    and not torch.allclose(h_got, h_want, atol=1e-5)):
                raise Hint("c_t is right but h_t is not: h_t = σ(o_t) ⊙ tanh(c_t), "
                           "with the new c_t")
            if torch.allclose(c_got, _step(x, h, c, W, b, first="x")[1], atol=1e-5):
                raise Hint("you concatenated [x_t, h_{t-1}]; W's first H columns act on h_{t-1}, "
                           "so concatenate h first: torch.cat([h, x], dim=1)")
            for order in ("figo", "ifog", "gifo", "oifg"):
                if torch.allclose(c_got, _step(x, h, c, W, b, order=order)[1], atol=1e-5):
                    raise Hint(f"you split the gates in the order {', '.join(order)}; W's rows are "
                               "in the order i, f, g, o (torch.nn.LSTM's order)")
        compare("c_t", c_got, c_want,
                hint="check three choices: what comes first in the concatenation W acts on, "
                     "the order of W's four blocks of rows, and each block's squashing "
                     "(σ for the gates, tanh(g) for the candidate)")
        compare("h_t", h_got, h_want, hint="h_t = σ(o_t) ⊙ tanh(c_t)")

    return run_checker("lstm_step_concat", body)


__all__ = ["check_lstm_step_concat"]
