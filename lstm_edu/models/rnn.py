"""The plain (Elman) recurrent network: the model the LSTM was invented to fix.

One step of the plain RNN is

.. math::
    h_t = \\tanh(W_{xh} x_t + W_{hh} h_{t-1} + b)

We keep the LSTM's names for the two linear maps so the two cells read alike:
``lin_x`` holds ``W_xh`` (no bias) and ``lin_h`` holds ``W_hh`` and the one bias ``b``.
``RNN`` runs a stack of cells over a sequence with the same loop (and state convention) as
``lstm_edu.LSTM``; ``RNN.from_torch`` / ``to_torch`` convert to and from ``torch.nn.RNN``.
"""

from __future__ import annotations

import math
from typing import Tuple

import torch
from torch import nn

from .checks import check_shape, check_size, check_tensor
from .stack import StackedRNN
from .torch_interop import stack_from_torch, stack_to_torch


class RNNCell(nn.Module):
    r"""One step of a plain RNN: :math:`h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b)`.

    Args:
        input_size: number of input features ``N_x``.
        hidden_size: number of hidden features ``N_h``.

    Parameters:
        ``lin_x``: ``Linear(N_x, N_h, bias=False)``, its weight is ``W_xh`` ``[N_h, N_x]``.
        ``lin_h``: ``Linear(N_h, N_h)``, its weight is ``W_hh`` ``[N_h, N_h]`` and its bias is
        ``b`` ``[N_h]``. Initialised like ``torch.nn.RNN``: uniform in
        ``[-1/sqrt(N_h), 1/sqrt(N_h)]``.

    Shapes:
        ``forward(x [B, N_x], h [B, N_h]) -> (h [B, N_h],)`` where ``B`` is the batch size. The
        new state is returned as a one-element tuple, the form every cell of a ``StackedRNN``
        returns (the LSTM cell returns ``(h, c)``).
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = check_size("input_size", input_size)
        self.hidden_size = check_size("hidden_size", hidden_size)
        self.lin_x = nn.Linear(input_size, hidden_size, bias=False)
        self.lin_h = nn.Linear(hidden_size, hidden_size)
        bound = 1.0 / math.sqrt(hidden_size)
        for w in (self.lin_x.weight, self.lin_h.weight, self.lin_h.bias):
            nn.init.uniform_(w, -bound, bound)

    def check_step(self, x: object, h: object) -> None:
        """Shape contract of one step: ``x [B, input_size]``, ``h [B, hidden_size]``."""
        w = self.lin_h.weight
        x, h = check_tensor("x", x, w), check_tensor("h", h, w)
        check_shape("x", x, [("batch_size", None), ("input_size", self.input_size)])
        check_shape("h", h, [("batch_size", x.shape[0]), ("hidden_size", self.hidden_size)])

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> Tuple[torch.Tensor]:
        self.check_step(x, h)
        # h_t = tanh(W_xh x_t + W_hh h_{t-1} + b), [B, N_h]
        h_next = torch.tanh(self.lin_x(x) + self.lin_h(h))
        return (h_next,)


class RNN(StackedRNN):
    """A multi-layer plain RNN run over a sequence (time-major, like ``torch.nn.RNN``).

    Args:
        input_size: number of input features ``N_x``.
        hidden_size: number of hidden features ``N_h`` in every layer.
        n_layers: number of stacked cells; layer ``l > 0`` reads layer ``l-1``'s ``h_t``.

    Shapes:
        ``forward(x, state=None) -> (out, (h,))`` with ``x`` ``[n_steps, batch_size, input_size]``,
        ``state`` a one-tuple ``(h,)`` with ``h`` ``[n_layers, batch_size, hidden_size]`` (or
        ``[batch_size, hidden_size]`` when ``n_layers == 1``) or ``None`` for zeros, and ``out``
        ``[n_steps, batch_size, hidden_size]``, the top layer's ``h_t`` at every step.
    """

    cell_type = RNNCell
    state_spec = (("h", "hidden_size"),)

    def __init__(self, input_size: int, hidden_size: int, n_layers: int = 1):
        super().__init__(input_size, n_layers, hidden_size=hidden_size)

    @classmethod
    def from_torch(cls, module: nn.RNN) -> "RNN":
        """A copy of a ``torch.nn.RNN`` (``nonlinearity='tanh'``) with identical outputs.

        ``nn.RNN``'s two biases (``bias_ih``, ``bias_hh``) are only ever added: their sum is ``b``.
        """
        required = {"nonlinearity": "tanh", "bidirectional": False, "dropout": 0.0}
        return stack_from_torch(cls, module, nn.RNN, "lstm_edu.models.rnn.RNN", required)

    def to_torch(self) -> nn.RNN:
        """A ``torch.nn.RNN`` (tanh, time-major) with identical outputs; its ``bias_ih`` is zero."""
        return stack_to_torch(self, nn.RNN)


def spectral_radius(w: torch.Tensor) -> float:
    """The largest absolute eigenvalue of the square matrix ``w`` ``[N_h, N_h]``."""
    if w.dim() != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"spectral_radius needs a square matrix, got shape {list(w.shape)}")
    return torch.linalg.eigvals(w.detach().double().cpu()).abs().max().item()


def set_spectral_radius(w: torch.Tensor, rho: float) -> torch.Tensor:
    """Scale the square matrix ``w`` in place so its spectral radius is ``rho``; returns ``w``.

    Used on an RNN's ``W_hh`` (``cell.lin_h.weight``) to move it between the vanishing
    (``rho < 1``) and the exploding (``rho > 1``) regime.
    """
    if rho < 0:
        raise ValueError(f"rho must be non-negative, got {rho}")
    current = spectral_radius(w)
    if current == 0:
        raise ValueError("w has spectral radius 0 and cannot be rescaled")
    with torch.no_grad():
        w.mul_(rho / current)
    return w


def rnn_step_jacobian(h_next: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
    r"""The Jacobian of one plain-RNN step:
    :math:`\partial h_t / \partial h_{t-1} = \mathrm{diag}(1 - h_t^2)\, W_{hh}`.

    Shapes: ``h_next`` (that is, :math:`h_t`) ``[B, N_h]`` or ``[N_h]``; ``w_hh`` ``[N_h, N_h]``.
    Returns ``[B, N_h, N_h]`` (or ``[N_h, N_h]``): entry ``[j, k]`` is
    :math:`\partial h_{t,j} / \partial h_{t-1,k}`.
    """
    # diag(1 - h_t²) W_hh: row j of W_hh scaled by 1 - h_{t,j}²
    return (1 - h_next**2).unsqueeze(-1) * w_hh


__all__ = ["RNNCell", "RNN", "spectral_radius", "set_spectral_radius", "rnn_step_jacobian"]
