"""The LSTM, from scratch: one cell, then a stack of cells run over a sequence.

Notation (labml.ai's annotated LSTM and the book's): ``x_t`` is the input at step ``t``; ``h`` the
hidden state (short-term memory); ``c`` the cell state (long-term memory); ``i, f, g, o`` the
pre-activations of the input gate, forget gate, candidate and output gate (the gate values are
``σ(i), σ(f), tanh(g), σ(o)``); ``lin_x`` and ``lin_h`` the linear maps of the input and of the
previous hidden state. Sizes: ``N_x`` (``input_size``), ``N_h`` (``hidden_size``), ``B`` batch.
"""

from __future__ import annotations

import math
from typing import Tuple

import torch
from torch import nn

from .checks import check_forget_bias, check_shape, check_size, check_tensor
from .stack import StackedRNN
from .torch_interop import stack_from_torch, stack_to_torch

# The four gates, in the order of the rows of lin_x and lin_h (torch.nn.LSTM's order). Every
# per-gate list of the package (layer norms, the HyperLSTM's d_h, w_h, ...) follows it.
GATES = ("i", "f", "g", "o")
GATE_NAMES = {"i": "input gate i", "f": "forget gate f", "g": "candidate g", "o": "output gate o"}


class LSTMCell(nn.Module):
    r"""One LSTM step.

    .. math::
        i_t, f_t, g_t, o_t &= lin_x(x_t) + lin_h(h_{t-1})  \quad\text{(split in four)}\\
        c_t &= \sigma(f_t) \odot c_{t-1} + \sigma(i_t) \odot \tanh(g_t)\\
        h_t &= \sigma(o_t) \odot \tanh(c_t)

    Args:
        input_size: number of input features ``N_x``.
        hidden_size: number of hidden features ``N_h``.
        layer_norm: if ``True``, normalise each gate's pre-activation with its own ``LayerNorm``
            (``layer_norm[k]`` for k = i, f, g, o) and ``c_t`` inside ``tanh`` with
            ``layer_norm_c`` (the returned ``c_t`` is not normalised). Used by the HyperLSTM's
            hyper cell.

    Parameters:
        ``lin_x``: ``Linear(N_x, 4 N_h, bias=False)``, labml.ai's
        ``lin_x^i, lin_x^f, lin_x^g, lin_x^o`` stacked in gate order i, f, g, o
        (``torch.nn.LSTM``'s order, :data:`GATES`). ``lin_h``: ``Linear(N_h, 4 N_h)``; it carries
        the one bias. Initialised like ``torch.nn.LSTM``: uniform in
        ``[-1/sqrt(N_h), 1/sqrt(N_h)]``.

    Shapes:
        ``forward(x [B, N_x], h [B, N_h], c [B, N_h]) -> (h [B, N_h], c [B, N_h])``;
        ``gates(x [B, N_x], h [B, N_h]) -> (i, f, g, o)``, each ``[B, N_h]``.
    """

    def __init__(self, input_size: int, hidden_size: int, layer_norm: bool = False,
                 forget_bias: float = 0.0):
        super().__init__()
        self.input_size = check_size("input_size", input_size)
        self.hidden_size = check_size("hidden_size", hidden_size)
        self.forget_bias = check_forget_bias(forget_bias)
        self.lin_x = nn.Linear(input_size, 4 * hidden_size, bias=False)
        self.lin_h = nn.Linear(hidden_size, 4 * hidden_size)
        if layer_norm:
            self.layer_norm = nn.ModuleList([nn.LayerNorm(hidden_size) for _ in GATES])
            self.layer_norm_c = nn.LayerNorm(hidden_size)
        else:
            self.layer_norm = nn.ModuleList([nn.Identity() for _ in GATES])
            self.layer_norm_c = nn.Identity()
        bound = 1.0 / math.sqrt(hidden_size)
        for w in (self.lin_x.weight, self.lin_h.weight, self.lin_h.bias):
            nn.init.uniform_(w, -bound, bound)

    def check_step(self, x: object, h: object, c: object) -> None:
        """Shape contract of one step: ``x [B, input_size]``, ``h`` and ``c``
        ``[B, hidden_size]``."""
        w = self.lin_h.weight
        x, h, c = (check_tensor(n, v, w) for n, v in (("x", x), ("h", h), ("c", c)))
        check_shape("x", x, [("batch_size", None), ("input_size", self.input_size)])
        for name, v in (("h", h), ("c", c)):
            check_shape(name, v, [("batch_size", x.shape[0]), ("hidden_size", self.hidden_size)])

    def gates(self, x: torch.Tensor, h: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """The four pre-activations ``i, f, g, o`` of one step, each ``[B, N_h]``, from
        ``x`` (:math:`x_t`) ``[B, N_x]`` and ``h`` (:math:`h_{t-1}`) ``[B, N_h]``."""
        # i, f, g, o = lin_x(x_t) + lin_h(h_{t-1}), each [B, N_h]
        ifgo = self.lin_x(x) + self.lin_h(h)  # [B, 4 N_h]
        i, f, g, o = (ln(z) for ln, z in zip(self.layer_norm, ifgo.chunk(4, dim=-1)))
        if self.forget_bias:
            f = f + self.forget_bias  # after the layer norm, as in the authors' supercell.py
        return i, f, g, o

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        self.check_step(x, h, c)
        i, f, g, o = self.gates(x, h)  # [B, N_h] each
        # c_t = σ(f_t) ⊙ c_{t-1} + σ(i_t) ⊙ tanh(g_t)
        c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        # h_t = σ(o_t) ⊙ tanh(c_t)
        h_next = torch.sigmoid(o) * torch.tanh(self.layer_norm_c(c_next))
        return h_next, c_next


class LSTM(StackedRNN):
    """A multi-layer LSTM run over a whole sequence (time-major, like ``torch.nn.LSTM``'s
    default).

    Args:
        input_size: number of input features ``N_x``.
        hidden_size: number of hidden features ``N_h`` in every layer.
        n_layers: number of stacked cells; layer 0 reads ``x_t``, layer ``l > 0`` reads layer
            ``l-1``'s ``h_t`` (so its input size is ``N_h``).
        layer_norm, forget_bias: passed to every :class:`LSTMCell` (defaults: none, 0, which is
            ``torch.nn.LSTM``).

    Shapes:
        ``forward(x, state=None) -> (out, (h, c))`` with

        - ``x``: ``[n_steps, batch_size, input_size]``
        - ``state``: ``(h, c)``, each ``[n_layers, batch_size, hidden_size]``, or ``None`` for
          zeros. labml.ai's docstring says ``[batch_size, hidden_size]``; that is what its code
          does only for one layer, so we follow ``torch.nn.LSTM``: a layer axis always, and the
          unstacked ``[batch_size, hidden_size]`` form accepted (and returned) when
          ``n_layers == 1``.
        - ``out``: ``[n_steps, batch_size, hidden_size]``, the last layer's ``h_t`` at every step.

    ``LSTM.from_torch(m)`` and ``lstm.to_torch()`` convert to and from ``torch.nn.LSTM`` exactly.
    """

    cell_type = LSTMCell
    state_spec = (("h", "hidden_size"), ("c", "hidden_size"))

    def __init__(self, input_size: int, hidden_size: int, n_layers: int,
                 layer_norm: bool = False, forget_bias: float = 0.0):
        options = {}
        if layer_norm:
            options["layer_norm"] = True
        if forget_bias:
            options["forget_bias"] = float(check_forget_bias(forget_bias))
        super().__init__(input_size, n_layers, cell_options=options, hidden_size=hidden_size)

    @classmethod
    def from_torch(cls, module: nn.LSTM) -> "LSTM":
        """A copy of a ``torch.nn.LSTM`` with identical outputs.

        ``nn.LSTM`` keeps two bias vectors per layer (``bias_ih`` and ``bias_hh``); they are only
        ever added, so their sum becomes ``lin_h.bias``. ``batch_first`` modules convert too (the
        weights are the same) but our LSTM is time-major: transpose the input. Bidirectional,
        projected (``proj_size > 0``) and dropout-between-layers modules have no counterpart here.
        """
        required = {"bidirectional": False, "proj_size": 0, "dropout": 0.0}
        return stack_from_torch(cls, module, nn.LSTM, "lstm_edu.LSTM", required)

    def to_torch(self) -> nn.LSTM:
        """A ``torch.nn.LSTM`` (time-major) with identical outputs; ``bias_ih`` is zero."""
        if self.cell_options:
            raise ValueError(f"to_torch needs a plain LSTM (torch.nn.LSTM has no layer norm and "
                             f"no forget_bias), got {self.cell_options}")
        return stack_to_torch(self, nn.LSTM)


__all__ = ["GATES", "GATE_NAMES", "LSTM", "LSTMCell"]
