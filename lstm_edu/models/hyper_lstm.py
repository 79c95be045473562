r"""The HyperLSTM (Ha, Dai & Le, *HyperNetworks*, 2016): an LSTM whose weights a smaller LSTM
rescales.

Notation (the paper's, as in labml.ai's annotated HyperLSTM):

- ``x_t`` the input (``input_size`` = :math:`N_x`), ``h, c`` the main LSTM's states
  (``hidden_size`` = :math:`N_h`);
- ``h_hat, c_hat`` the hyper cell's states :math:`\hat h, \hat c` (``hyper_size`` =
  :math:`N_{\hat h}`), the hyper cell reading :math:`\hat{x}_t = [h_{t-1}; x_t]`;
- ``z_h, z_x, z_b`` the embeddings (``n_z`` = :math:`N_z` per gate) computed from
  :math:`\hat{h}_t`;
- ``d_h, d_x`` the scaling vectors :math:`d_h^k = W_{hz}^k z_h^k`, :math:`d_x^k = W_{xz}^k z_x^k`
  and ``d_b`` the generated bias :math:`b^k = W_{bz}^k z_b^k + b_0^k` (:math:`N_h` numbers per
  gate; :math:`W_{hz}^k` is ``d_h[k].weight``);
- ``w_h`` (:math:`W_h^k`, ``[N_h, N_h]``) and ``w_x`` (:math:`W_x^k`, ``[N_h, N_x]``), one per
  gate, the fixed learned matrices whose rows :math:`d` scales: the generated weight is
  :math:`W_h^k(z) = \mathrm{diag}(d_h^k)\, W_h^k`.

Gate :math:`k \in \{i, f, g, o\}` (its pre-activation), then the LSTM update:

.. math::
    k_t &= LN_k\big(d_h^k \odot (W_h^k h_{t-1}) + d_x^k \odot (W_x^k x_t) + b^k\big)\\
    c_t &= \sigma(f_t + b_f) \odot c_{t-1} + \sigma(i_t) \odot \tanh(g_t), \qquad
    h_t = \sigma(o_t) \odot \tanh(LN_c(c_t))

with :math:`b_f` the constant ``forget_bias`` (1 by default, the authors'), and
where :math:`d_h^k \odot (W_h^k h_{t-1})` is the generated weight :math:`W_h^k(z)` applied to
:math:`h_{t-1}` without ever being built.
"""

from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from .checks import check_forget_bias, check_shape, check_size, check_tensor
from .lstm import GATES, LSTMCell
from .stack import StackedRNN


class HyperLSTMCell(nn.Module):
    r"""One HyperLSTM step: the hyper cell, then the main cell with rescaled weights.

    Args:
        input_size: size of ``x_t`` (:math:`N_x`).
        hidden_size: size of the main cell's ``h`` and ``c`` (:math:`N_h`).
        hyper_size: size of the hyper cell's ``h_hat`` and ``c_hat`` (:math:`N_{\hat h}`).
        n_z: size of each embedding ``z`` (:math:`N_z`), per gate.
        layer_norm: layer-normalise the main cell's four gate pre-activations and ``c`` inside
            ``tanh`` (the paper's "LN HyperLSTM"; labml.ai's basic description has none).
            The hyper cell is always layer-normalised, as in the paper's reference code.
        forget_bias: a constant added to the forget gate's pre-activation after its layer norm,
            :math:`c_t = \sigma(f_t + b_f) \odot c_{t-1} + \dots`, in the main cell and in the
            hyper cell. Default 1.0: the authors' TensorFlow code (``supercell.py``, its
            ``HyperLSTMCell`` and the ``LSTMCell`` it uses as hyper cell) computes
            ``c * sigmoid(f + forget_bias) + sigmoid(i) * tanh(j)`` with ``forget_bias=1.0``.
            With 0, σ(f) starts near 0.5 and the cell forgets half its state at every step.

    Modules and parameters ("per gate" is always a list of four, in the order of :data:`GATES`,
    i, f, g, o):
        ``hyper = LSTMCell(hidden_size + input_size, hyper_size, layer_norm=True)``;
        ``z_h``, ``z_x``: ``Linear(hyper_size, 4 n_z)``;
        ``z_b``: ``Linear(hyper_size, 4 n_z, bias=False)``;
        per gate ``d_h[k]``, ``d_x[k]``: ``Linear(n_z, hidden_size, bias=False)``,
        ``d_b[k]``: ``Linear(n_z, hidden_size)``; ``w_h[k]`` ``[hidden_size, hidden_size]``,
        ``w_x[k]`` ``[hidden_size, input_size]``; ``layer_norm[k]`` and ``layer_norm_c``.

    Initialisation (the paper's appendix A.2.3): hyper cell weights orthogonal, biases zero;
    ``z_h``, ``z_x`` weights 0 and biases 1 (so every ``z`` starts at 1); ``z_b`` weights
    :math:`\mathcal{N}(0, 0.01^2)`; ``d_h``, ``d_x`` weights the constant ``0.1 / n_z`` (so every
    ``d`` starts at 0.1); ``d_b`` weight and bias 0; ``w_h``, ``w_x`` orthogonal; layer norms
    gain 1, bias 0.
    A consequence of this initialisation (measured in chapter 8): the ``n_z`` rows of ``z_h`` and
    ``z_x`` start identical, as do the ``n_z`` columns of ``d_h[k]`` and ``d_x[k]``, and they
    receive identical gradients, so training never separates them: ``d_h`` and ``d_x`` then vary
    along one direction per gate, as if ``n_z`` were 1 (``z_b`` starts random and is not tied).
    The paper's reference code initialises the same way; ``reset_parameters(z_init="untied")``
    breaks the tie with small random weights (chapter 8 trains both).
    Departures: labml's implementation initialises ``w_h`` and ``w_x`` to **zeros** (its users
    report it trains badly; the book compares the two); the paper writes :math:`\hat{h}_{t-1}`
    where its own code, and ours, feeds the current :math:`\hat{h}_t` to ``z``.

    Shapes:
        ``forward(x [B, N_x], h [B, N_h], c [B, N_h], h_hat [B, N_ĥ], c_hat [B, N_ĥ])
        -> (h, c, h_hat, c_hat)``, each new state with its input's shape;
        ``scaling_vectors(h_hat [B, N_ĥ]) -> (d_h, d_x, d_b)``, each ``[4, B, N_h]``.
    """

    def __init__(self, input_size: int, hidden_size: int, hyper_size: int, n_z: int,
                 layer_norm: bool = True, forget_bias: float = 1.0):
        super().__init__()
        self.input_size = check_size("input_size", input_size)
        self.hidden_size = check_size("hidden_size", hidden_size)
        self.hyper_size = check_size("hyper_size", hyper_size)
        self.n_z = check_size("n_z", n_z)
        self.forget_bias = check_forget_bias(forget_bias)
        self.hyper = LSTMCell(hidden_size + input_size, hyper_size, layer_norm=True,
                              forget_bias=self.forget_bias)
        self.z_h = nn.Linear(hyper_size, 4 * n_z)
        self.z_x = nn.Linear(hyper_size, 4 * n_z)
        self.z_b = nn.Linear(hyper_size, 4 * n_z, bias=False)
        self.d_h = nn.ModuleList([nn.Linear(n_z, hidden_size, bias=False) for _ in GATES])
        self.d_x = nn.ModuleList([nn.Linear(n_z, hidden_size, bias=False) for _ in GATES])
        self.d_b = nn.ModuleList([nn.Linear(n_z, hidden_size) for _ in GATES])
        self.w_h = nn.ParameterList([nn.Parameter(torch.empty(hidden_size, hidden_size))
                                     for _ in GATES])
        self.w_x = nn.ParameterList([nn.Parameter(torch.empty(hidden_size, input_size))
                                     for _ in GATES])
        norm = (lambda: nn.LayerNorm(hidden_size)) if layer_norm else nn.Identity
        self.layer_norm = nn.ModuleList([norm() for _ in GATES])
        self.layer_norm_c = norm()
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, w_init: str = "orthogonal", z_init: str = "paper") -> None:
        r"""The paper's initialisation; ``w_init="zeros"`` gives labml's zero ``w_h``/``w_x``
        instead.

        ``z_init="untied"`` breaks the tie between the ``n_z`` components of ``z_h`` and ``z_x``
        (see the class docstring): their weights are drawn from :math:`\mathcal{N}(0, 0.01^2)`,
        like ``z_b``'s, instead of 0 (biases still 1, so every ``z`` still starts near 1), and the
        maps ``d_h``, ``d_x`` get noise :math:`\mathcal{N}(0, (0.01 / n_z)^2)` on their constant
        ``0.1 / n_z`` (a tenth of it), so ``d`` still starts near 0.1. ``"paper"`` (default) is
        appendix A.2.3 exactly."""
        if w_init not in ("orthogonal", "zeros"):
            raise ValueError(f"w_init must be 'orthogonal' or 'zeros', got {w_init!r}")
        if z_init not in ("paper", "untied"):
            raise ValueError(f"z_init must be 'paper' or 'untied', got {z_init!r}")
        for module in self.modules():  # every layer norm back to gain 1, bias 0
            if isinstance(module, nn.LayerNorm):
                module.reset_parameters()
        for w in (self.hyper.lin_x.weight, self.hyper.lin_h.weight):
            for block in w.chunk(4, dim=0):  # one orthogonal matrix per gate
                nn.init.orthogonal_(block)
        self.hyper.lin_h.bias.zero_()
        for lin in (self.z_h, self.z_x):
            if z_init == "untied":
                nn.init.normal_(lin.weight, 0.0, 0.01)
            else:
                lin.weight.zero_()
            lin.bias.fill_(1.0)
        nn.init.normal_(self.z_b.weight, 0.0, 0.01)
        for k in range(len(GATES)):
            for lin in (self.d_h[k], self.d_x[k]):
                lin.weight.fill_(0.1 / self.n_z)
                if z_init == "untied":
                    lin.weight.add_(torch.randn_like(lin.weight) * (0.01 / self.n_z))
            self.d_b[k].weight.zero_()
            self.d_b[k].bias.zero_()
            for w in (self.w_h[k], self.w_x[k]):
                if w_init == "orthogonal":
                    nn.init.orthogonal_(w)
                else:
                    w.zero_()

    def check_step(self, x: object, h: object, c: object, h_hat: object, c_hat: object) -> None:
        """Shape contract of one step (see the class docstring)."""
        ref = self.w_h[0]
        x = check_tensor("x", x, ref)
        check_shape("x", x, [("batch_size", None), ("input_size", self.input_size)])
        for name, v, label in (("h", h, "hidden_size"), ("c", c, "hidden_size"),
                               ("h_hat", h_hat, "hyper_size"), ("c_hat", c_hat, "hyper_size")):
            check_shape(name, check_tensor(name, v, ref),
                        [("batch_size", x.shape[0]), (label, getattr(self, label))])

    def scaling_vectors(self, h_hat: torch.Tensor
                        ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``d_h, d_x, d_b`` for every gate from the hyper cell's output: each
        ``[4, B, hidden_size]``."""
        # z_h, z_x, z_b = linear maps of ĥ_t, each split into one N_z vector per gate: [B, N_z] x 4
        z_h = self.z_h(h_hat).chunk(4, dim=-1)
        z_x = self.z_x(h_hat).chunk(4, dim=-1)
        z_b = self.z_b(h_hat).chunk(4, dim=-1)
        # d_h^k = W_hz^k z_h^k, d_x^k = W_xz^k z_x^k, b^k = W_bz^k z_b^k + b_0^k: [B, N_h] per gate
        d_h = torch.stack([self.d_h[k](z_h[k]) for k in range(len(GATES))])
        d_x = torch.stack([self.d_x[k](z_x[k]) for k in range(len(GATES))])
        d_b = torch.stack([self.d_b[k](z_b[k]) for k in range(len(GATES))])
        return d_h, d_x, d_b

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                h_hat: torch.Tensor, c_hat: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        self.check_step(x, h, c, h_hat, c_hat)
        # The hyper cell reads x̂_t = [h_{t-1}; x_t]
        x_hat = torch.cat([h, x], dim=-1)  # [B, N_h + N_x]
        h_hat, c_hat = self.hyper(x_hat, h_hat, c_hat)  # [B, N_ĥ] each
        d_h, d_x, d_b = self.scaling_vectors(h_hat)  # [4, B, N_h] each
        ifgo = []
        for k in range(len(GATES)):
            # W_h^k(z) h = d_h^k ⊙ (W_h^k h): each row of W_h^k scaled by d_h^k, never built
            y = d_h[k] * (h @ self.w_h[k].T) + d_x[k] * (x @ self.w_x[k].T) + d_b[k]  # [B, N_h]
            ifgo.append(self.layer_norm[k](y))
        i, f, g, o = ifgo
        f = f + self.forget_bias  # after the layer norm, as in the authors' supercell.py
        # c_t = σ(f_t + b_f) ⊙ c_{t-1} + σ(i_t) ⊙ tanh(g_t)
        c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        # h_t = σ(o_t) ⊙ tanh(LN(c_t))
        h_next = torch.sigmoid(o) * torch.tanh(self.layer_norm_c(c_next))
        return h_next, c_next, h_hat, c_hat


class HyperLSTM(StackedRNN):
    """A multi-layer HyperLSTM run over a whole sequence (time-major).

    Args:
        input_size: size of the input feature vector.
        hidden_size: size of the main LSTM's hidden state in each layer.
        hyper_size: size of the smaller LSTM that alters the weights of the larger one.
        n_z: size of the embeddings used to alter the LSTM weights.
        n_layers: number of HyperLSTM layers. Layer ``l > 0`` reads layer ``l-1``'s ``h``, so its
            input size is ``hidden_size`` and its hyper cell reads ``2 * hidden_size`` features
            (``[h_{t-1}; x_t]`` with ``x_t`` the lower layer's output).
        layer_norm: layer-normalise the main cells (default, the paper's "LN HyperLSTM"); with
            ``False`` the paper's plain "HyperLSTM" (the hyper cells keep theirs).
        forget_bias: added to every forget gate after its layer norm (default 1.0, the authors';
            see :class:`HyperLSTMCell`).

    Shapes:
        ``forward(x, state=None) -> (out, (h, c, h_hat, c_hat))`` with

        - ``x``: ``[n_steps, batch_size, input_size]``
        - ``state``: ``(h, c, h_hat, c_hat)`` or ``None`` for zeros; ``h, c``
          ``[n_layers, batch_size, hidden_size]``, ``h_hat, c_hat``
          ``[n_layers, batch_size, hyper_size]``. labml.ai's docstring gives
          ``[batch_size, ...]``: accepted (and returned) when ``n_layers == 1``, as for
          :class:`lstm_edu.LSTM`.
        - ``out``: ``[n_steps, batch_size, hidden_size]``.
    """

    cell_type = HyperLSTMCell
    state_spec = (("h", "hidden_size"), ("c", "hidden_size"),
                  ("h_hat", "hyper_size"), ("c_hat", "hyper_size"))

    def __init__(self, input_size: int, hidden_size: int, hyper_size: int, n_z: int,
                 n_layers: int, layer_norm: bool = True, forget_bias: float = 1.0):
        options = {"forget_bias": check_forget_bias(forget_bias)}
        if not layer_norm:
            options["layer_norm"] = False
        super().__init__(input_size, n_layers, cell_options=options, hidden_size=hidden_size,
                         hyper_size=hyper_size, n_z=n_z)

    def reset_parameters(self, w_init: str = "orthogonal", z_init: str = "paper") -> None:
        """Re-initialise every cell (``w_init="zeros"`` for labml's zero ``w_h``/``w_x``,
        ``z_init="untied"`` to break the tie of the ``z`` components; see
        :meth:`HyperLSTMCell.reset_parameters`)."""
        for cell in self.cells:
            cell.reset_parameters(w_init, z_init)


__all__ = ["GATES", "HyperLSTM", "HyperLSTMCell"]
