r"""Measuring how far back a gradient reaches in a recurrent network.

Backpropagation through time multiplies one Jacobian per step: for a loss :math:`L_T` that reads
the hidden state :math:`h_T` at step :math:`T`,

.. math::
    \frac{\partial L_T}{\partial h_0} = \frac{\partial L_T}{\partial h_T}
        \frac{\partial h_T}{\partial h_{T-1}} \cdots \frac{\partial h_1}{\partial h_0}.

:func:`initial_state_gradient_norms` measures the size of that product with autograd for every
distance :math:`T` at once (one forward pass, one backward pass per distance), for any network in
the package (``lstm_edu.models.rnn.RNN``, ``lstm_edu.LSTM``, ...). :func:`rnn_gradient_by_jacobians`
computes the same gradient for a one-layer plain RNN by multiplying the Jacobians
:math:`\mathrm{diag}(1 - h_t^2) W_{hh}` by hand, so the two can be checked against each other.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch
from torch import nn

from ..models.rnn import RNNCell, rnn_step_jacobian


def readout_vector(hidden_size: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """The fixed unit vector ``v`` ``[N_h]`` of the loss :math:`L_T = \\langle v, h_T \\rangle`:
    all entries ``1/sqrt(N_h)``."""
    return torch.full((hidden_size,), hidden_size**-0.5, device=device, dtype=dtype)


def initial_state_gradient_norms(
    model: nn.Module,
    x: torch.Tensor,
    distances: Optional[Sequence[int]] = None,
    v: Optional[torch.Tensor] = None,
) -> Dict[str, torch.Tensor]:
    r"""The norm of :math:`\partial L_T / \partial s_0` for each initial state tensor :math:`s_0`
    and distance :math:`T`.

    The loss at distance :math:`T` is :math:`L_T = \langle v, h_T \rangle`, with :math:`h_T` the
    top layer's output at step :math:`T` (1-based) and ``v`` a fixed unit vector
    (:func:`readout_vector` by default). The initial state is zeros.

    Args:
        model: a stacked recurrent network of the package (``RNN``, ``LSTM``, ``HyperLSTM``):
            ``model(x, state) -> (out, state)`` with ``model.state_names`` and
            ``model.state_sizes``.
        x: the input sequence ``[n_steps, batch_size, input_size]``.
        distances: the values of :math:`T` to measure, each in ``1..n_steps``; default all of them.
        v: the readout vector ``[hidden_size]``.

    Returns:
        ``{"distance": [D], name: [D, batch_size], ...}``: for every state name (``"h"``, and
        ``"c"`` for an LSTM) the norm, per sequence of the batch, of the gradient with respect to
        that initial state (all layers together), in float64. Sequences of a batch do not
        interact, so row ``b`` of the gradient of the batch's summed loss is sequence ``b``'s own
        gradient.
    """
    n_steps, batch_size = x.shape[0], x.shape[1]
    if distances is None:
        distances = range(1, n_steps + 1)
    distances = [int(d) for d in distances]
    bad = [d for d in distances if not 1 <= d <= n_steps]
    if bad:
        raise ValueError(f"distances must lie in 1..n_steps={n_steps}, got {bad[:5]}")
    names = tuple(model.state_names)
    state0 = tuple(
        x.new_zeros(model.n_layers, batch_size, size).requires_grad_(True)
        for size in model.state_sizes
    )
    out, _ = model(x, state0)  # out: [n_steps, B, H]
    if v is None:
        v = readout_vector(out.shape[-1], device=x.device, dtype=x.dtype)
    norms = {name: [] for name in names}
    for d in distances:
        loss = (out[d - 1] @ v).sum()  # Σ_b <v, h_T^(b)>
        grads = torch.autograd.grad(loss, state0, retain_graph=True, allow_unused=True)
        for name, g, s0 in zip(names, grads, state0):
            if g is None:  # this initial state does not reach h_T at all
                g = torch.zeros_like(s0)
            # [n_layers, B, H] -> one norm per sequence b, in float64: in float32 the squares of
            # entries below ~1e-19 underflow and the norm of a small but non-zero gradient reads 0
            g = g.detach().double().transpose(0, 1).reshape(batch_size, -1)  # [B, L N_h]
            norms[name].append(g.norm(dim=1))
    result = {"distance": torch.tensor(distances)}
    result.update({name: torch.stack(vals) for name, vals in norms.items()})
    return result


def rnn_gradient_by_jacobians(cell: RNNCell, x: torch.Tensor,
                              v: Optional[torch.Tensor] = None) -> torch.Tensor:
    r"""``∂L_T/∂h_0`` for one sequence through a plain RNN cell, as an explicit product of
    Jacobians.

    Runs ``cell`` from :math:`h_0 = 0` over ``x`` ``[T, input_size]`` (one sequence, no batch),
    then returns :math:`v^\top J_T J_{T-1} \cdots J_1` with
    :math:`J_t = \partial h_t / \partial h_{t-1} = \mathrm{diag}(1 - h_t^2) W_{hh}`: a vector
    ``[N_h]``.
    """
    w_hh = cell.lin_h.weight.detach()  # [H, H]
    if v is None:
        v = readout_vector(cell.hidden_size, device=w_hh.device, dtype=w_hh.dtype)
    h = x.new_zeros(1, cell.hidden_size)
    hs = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            (h,) = cell(x[t : t + 1], h)  # h_t, [1, H]
            hs.append(h[0])
    grad = v.clone()  # ∂L_T/∂h_T = v
    for h_t in reversed(hs):  # t = T, T-1, ..., 1
        grad = grad @ rnn_step_jacobian(h_t, w_hh)  # ∂L_T/∂h_{t-1} = ∂L_T/∂h_t · J_t
    return grad


def factor_per_step(distances: Sequence[int], norms: torch.Tensor) -> float:
    r"""The average factor by which a gradient norm changes per step: :math:`(n_k / n_0)^{1/(d_k -
    d_0)}`.

    ``distances`` ``[D]`` (increasing) and ``norms`` ``[D]`` (e.g. the median over a batch of one
    entry of :func:`initial_state_gradient_norms`). ``k`` is the farthest distance whose norm is
    still positive: in float32 a vanishing gradient underflows to exactly 0 after a few hundred
    steps, and those entries carry no rate. Returns ``nan`` when the first norm :math:`n_0` is not
    positive (0 or ``nan``: no rate can start from it), and when no later norm is positive.
    """
    d = [int(v) for v in distances]
    n = torch.as_tensor(norms, dtype=torch.float64).detach().cpu()
    if n.dim() != 1 or len(d) != n.shape[0]:
        raise ValueError(f"distances ({len(d)}) and norms ({list(n.shape)}) must be two sequences "
                         "of the same length")
    positive = [k for k in range(len(d)) if n[k] > 0]
    if len(positive) < 2 or positive[0] != 0:
        return float("nan")
    k = positive[-1]
    return (n[k] / n[0]).item() ** (1.0 / (d[k] - d[0]))


__all__ = ["readout_vector", "initial_state_gradient_norms", "rnn_gradient_by_jacobians",
           "factor_per_step"]
