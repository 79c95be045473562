r"""Checkers for chapter 9 (making it fast).

``check_pointwise_backward(fn)``: the reader writes the backward pass of one LSTM step's elementwise
part, the heart of :class:`lstm_edu.fast.LSTMLayerFunction`'s hand-written backward:

``fn(act, c_prev, tanh_c, dh, dc) -> (d_gates, dc_prev)`` with ``act [B, 4H]`` holding
:math:`\sigma(i), \sigma(f), \tanh(g), \sigma(o)`, ``c_prev``, ``tanh_c`` :math:`= \tanh(c_t)`,
``dh`` :math:`= \partial L/\partial h_t` and ``dc`` :math:`= \partial L/\partial c_t` coming from
step :math:`t+1` (all ``[B, H]``); it returns :math:`\partial L/\partial` (the pre-activations)
``[B, 4H]`` and :math:`\partial L/\partial c_{t-1}` ``[B, H]``. The answer is checked against
autograd.
"""

from __future__ import annotations

from typing import Callable, Tuple

import torch

from . import Hint, attempt, compare, run_checker


def reference_pointwise_backward(act: torch.Tensor, c_prev: torch.Tensor, tanh_c: torch.Tensor,
                                 dh: torch.Tensor, dc: torch.Tensor
                                 ) -> Tuple[torch.Tensor, torch.Tensor]:
    """The answer, written out (the same equations as ``LSTMLayerFunction.backward``, one step)."""
    i, f, g, o = act.chunk(4, dim=1)
    dc = dc + dh * o * (1 - tanh_c * tanh_c)  # c_t reaches the loss through h_t too
    d_gates = torch.cat([dc * g * i * (1 - i),  # i = σ(pre_i)
                         dc * c_prev * f * (1 - f),  # f = σ(pre_f)
                         dc * i * (1 - g * g),  # g = tanh(pre_g)
                         dh * tanh_c * o * (1 - o)], dim=1)  # o = σ(pre_o)
    return d_gates, dc * f


def _case(seed: int = 0, batch: int = 3, hidden: int = 5):
    """Pre-activations, c_{t-1} and upstream gradients, with autograd's answer."""
    g = torch.Generator().manual_seed(seed)
    gates = torch.randn(batch, 4 * hidden, generator=g, dtype=torch.float64, requires_grad=True)
    c_prev = torch.randn(batch, hidden, generator=g, dtype=torch.float64, requires_grad=True)
    dh = torch.randn(batch, hidden, generator=g, dtype=torch.float64)
    dc = torch.randn(batch, hidden, generator=g, dtype=torch.float64)
    i, f, g, o = gates.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c_prev + i * g
    h = o * torch.tanh(c)
    d_gates, dc_prev = torch.autograd.grad([h, c], [gates, c_prev], [dh, dc])
    with torch.no_grad():  # what the forward pass stores
        act = torch.cat([i, f, g, o], dim=1)
        tanh_c = torch.tanh(c)
    inputs = (act, c_prev.detach(), tanh_c, dh, dc)
    return inputs, d_gates, dc_prev


def check_pointwise_backward(fn: Callable[..., Tuple[torch.Tensor, torch.Tensor]]) -> bool:
    """Check ``fn(act, c_prev, tanh_c, dh, dc) -> (d_gates, dc_prev)`` against autograd."""

    def body():
        inputs, want_gates, want_c = _case()
        got = attempt(fn, *[t.clone() for t in inputs], what="your backward")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Hint("return a tuple (d_gates, dc_prev)")
        d_gates, dc_prev = got
        if isinstance(d_gates, torch.Tensor) and d_gates.shape == want_c.shape:
            raise Hint("return (d_gates [B, 4H], dc_prev [B, H]) in that order")
        compare("dc_prev", dc_prev, want_c, atol=1e-8, rtol=1e-6,
                hint="dc_prev = dc_t ⊙ σ(f_t), where dc_t includes the path through h_t: dh ⊙ σ(o) "
                     "⊙ (1 - tanh²(c_t))")
        H = want_c.shape[1]
        if isinstance(d_gates, torch.Tensor) and d_gates.shape == want_gates.shape:
            for k, name in enumerate("ifgo"):
                part, want = d_gates[:, k * H:(k + 1) * H], want_gates[:, k * H:(k + 1) * H]
                hint = {"i": "d pre_i = dc_t ⊙ tanh(g) ⊙ σ(i)(1 - σ(i))",
                        "f": "d pre_f = dc_t ⊙ c_{t-1} ⊙ σ(f)(1 - σ(f))",
                        "g": "d pre_g = dc_t ⊙ σ(i) ⊙ (1 - tanh²(g)): g is a tanh, not a sigmoid",
                        "o": "d pre_o = dh ⊙ tanh(c_t) ⊙ σ(o)(1 - σ(o))"}[name]
                compare(f"the {name} quarter of d_gates", part, want, atol=1e-8, rtol=1e-6,
                        hint=hint)
        compare("d_gates", d_gates, want_gates, atol=1e-8, rtol=1e-6)
        inputs, want_gates, want_c = _case(seed=1, batch=2, hidden=3)  # another size
        got = attempt(fn, *inputs, what="your backward")
        compare("d_gates (second case)", got[0], want_gates, atol=1e-8, rtol=1e-6)
        compare("dc_prev (second case)", got[1], want_c, atol=1e-8, rtol=1e-6)

    return run_checker("the backward of one LSTM step", body)


__all__ = ["check_pointwise_backward", "reference_pointwise_backward"]
