r"""The time loops of one LSTM layer, in Python: the part of :class:`LSTMLayerFunction` that
must go step by step. ``csrc/lstm_steps.cpp`` is the same two functions in C++ (same arguments,
same results), each step's elementwise work fused into one vectorised pass; ``compiled.py``
chooses between them.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch

from .pointwise import lstm_pointwise, tanh_


def lstm_forward(act: torch.Tensor, w_h: torch.Tensor, panels: Optional[torch.Tensor], kc: int,
                 b: torch.Tensor, h0: torch.Tensor, c_all: torch.Tensor, out: torch.Tensor,
                 pointwise: Callable = lstm_pointwise) -> None:
    r"""Steps ``0 .. T-1`` forward, in place.

    ``act [T, B, 4N_h]`` holds :math:`W_x x_t` on entry and the gate values
    :math:`\sigma(i), \sigma(f), \tanh(g), \sigma(o)` on return (kept for the backward pass);
    ``w_h [4N_h, N_h]`` (``panels``, ``kc``: its :class:`~lstm_edu.fast.matmul.Panels`, for the
    compiled loop; this loop multiplies with ``torch.mm``), ``b [4N_h]``; ``h0 [B, N_h]``;
    ``c_all [T+1, B, N_h]`` holds ``c_0`` in row 0 and receives ``c_1 .. c_T``;
    ``out [T, B, N_h]`` receives ``h_1 .. h_T``.
    """
    N_h = w_h.shape[1]
    act += b
    # lstm_pointwise computes tanh(g) as 2σ(2g) - 1 from a doubled g: double the g rows of the
    # input terms and of W_h (exactly: a power of 2).
    act[:, :, 2 * N_h:3 * N_h] *= 2
    w_h2 = w_h.clone()  # [4N_h, N_h]
    w_h2[2 * N_h:3 * N_h] *= 2
    h = h0
    for t in range(act.shape[0]):
        act[t] += torch.mm(h, w_h2.t())  # h W_h^T: all four gates in one matmul, [B, 4N_h]
        pointwise(act[t], c_all[t], c_all[t + 1], out[t])  # the elementwise update, in place
        h = out[t]


def lstm_backward(start: int, end: int, act: torch.Tensor, c_all: torch.Tensor,
                  w_h_t: torch.Tensor, panels_t: Optional[torch.Tensor], kc_t: int,
                  d_out: torch.Tensor,
                  dh: torch.Tensor, dc: torch.Tensor, d_gates: torch.Tensor) -> None:
    r"""Steps ``end-1`` down to ``start`` (a chunk) of the backward pass, in place.

    With :math:`a = (\sigma(i), \sigma(f), \tanh(g), \sigma(o))` from the forward pass:

    .. math::
        dh_t &= d\mathrm{out}_t + d\,\mathrm{gates}_{t+1} W_h\\
        dc_t &= dc_{t+1} \odot \sigma(f_{t+1}) + dh_t \odot \sigma(o_t)(1 - \tanh^2 c_t)\\
        d\,\mathrm{gates}_t &= \big(dc_t\, \tanh(g_t)\,\sigma'(i_t),\;
            dc_t\, c_{t-1}\,\sigma'(f_t),\; dc_t\, \sigma(i_t)\,(1-\tanh^2 g_t),\;
            dh_t \tanh(c_t)\,\sigma'(o_t)\big)

    ``dh``, ``dc [B, N_h]`` carry what reaches :math:`h_{end-1}` and :math:`c_{end-1}` from later
    steps (zeros after the last step) and return what reaches :math:`h_{start-1}` and
    :math:`c_{start-1}` (for ``start = 0``: the initial state's gradients). ``d_out [T, B, N_h]``
    is the gradient through ``out``; ``d_gates [end-start, B, 4N_h]`` receives the gates'
    gradients, for the weight gradients. ``w_h_t`` is :math:`W_h^\top` ``[N_h, 4N_h]``,
    contiguous (``panels_t``, ``kc_t``: for the compiled loop, as in :func:`lstm_forward`).

    Every factor that does not involve ``dh`` or ``dc`` is computed for the whole chunk before
    the loop, in a few large calls.
    """
    n, B, N_h = end - start, act.shape[1], w_h_t.shape[0]
    i, f, g, o = act[start:end].chunk(4, dim=2)  # [n, B, N_h] each
    # σ'(a) = σ(a)(1 - σ(a)) is computed as σ - σ·σ (addcmul with value=-1)
    tanh_c = tanh_(c_all[start + 1:end + 1].clone())  # tanh(c_t)
    k_o = torch.addcmul(o, o, o, value=-1).mul_(tanh_c)  # dgate_o = dh ⊙ tanh(c) σ'(o)
    dc_from_dh = tanh_c.mul_(tanh_c).neg_().add_(1).mul_(o)  # ∂h_t/∂c_t = σ(o)(1 - tanh² c_t)
    k_ifg = torch.stack([  # dgate_{i,f,g} = dc ⊙ k_{i,f,g}: [n, B, 3, N_h]
        torch.addcmul(i, i, i, value=-1).mul_(g),  # tanh(g) σ'(i)
        torch.addcmul(f, f, f, value=-1).mul_(c_all[start:end]),  # c_{t-1} σ'(f)
        torch.mul(g, g).neg_().add_(1).mul_(i),  # σ(i)(1 - tanh² g)
    ], dim=2)
    h_grad, c_grad = dh, dc
    for s in range(n - 1, -1, -1):  # step t = start + s, backwards
        h_grad = h_grad + d_out[start + s]  # dh_t
        c_grad = torch.addcmul(c_grad, h_grad, dc_from_dh[s])  # dc_t
        dg = d_gates[s]  # [B, 4N_h], a view filled in place
        torch.mul(k_ifg[s], c_grad.unsqueeze(1), out=dg[:, :3 * N_h].view(B, 3, N_h))
        torch.mul(k_o[s], h_grad, out=dg[:, 3 * N_h:])
        c_grad = c_grad * f[s]  # dc_{t-1} through c_t = f ⊙ c_{t-1} + ...
        h_grad = torch.mm(dg, w_h_t.t())  # dg W_h: the part of dh_{t-1} from step t
    dh.copy_(h_grad)
    dc.copy_(c_grad)
