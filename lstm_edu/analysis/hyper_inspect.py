r"""Looking inside a HyperLSTM: its scaling vectors :math:`d(z)` and its cell state, step by step.

The HyperLSTM's weights change at every character: gate :math:`k` uses
:math:`W_h^k(t) = \mathrm{diag}(d_h^k(t))\,W_{hd}^k` (and the same for :math:`W_x`, plus the bias
:math:`d_b^k(t)`), where :math:`d(t) = W_{dz} z(t)` comes from the hyper cell. This module records
those vectors and the cell state while a model reads a text, and turns them into the pictures of
Ha, Dai & Le (2016): how much each gate's weights move at each character (their Figure 4) and how
saturated :math:`\tanh(c_t)` is (their Figure 5).

- :func:`trace_hyper_lstm` / :func:`trace_lstm`: run a model over a sequence and keep, per step and
  layer, ``d_h, d_x, d_b`` (HyperLSTM only), ``c`` and the ``tanh`` that multiplies the output gate.
- :func:`d_change`: :math:`\lVert d_t - d_{t-1} \rVert_2`, how far a scaling vector moves per step.
- :func:`weight_change`: :math:`\lVert W_h(t) - W_h(t-1) \rVert_F`, how far the *effective weight
  matrix* moves, computed from :math:`d` and the row norms of :math:`W_{hd}` without building it.
- :func:`saturation_histogram`, :func:`saturation_fraction`: the distribution of :math:`\tanh(c_t)`.

The coloured text and the chooser over measures, layers and gates are drawn by
:mod:`lstm_edu.display` (``colored_text_html``, ``change_explorer``); the parameter counts that
match two models' sizes are in :mod:`lstm_edu.measure`.

Shapes use ``T`` steps, ``L`` layers, ``B`` batch, ``N_h`` hidden size; the gate axis has 4 entries
in the order i, f, g, o (:data:`GATES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import torch
from torch import nn

from ..models.hyper_lstm import HyperLSTM
from ..models.lstm import GATES, LSTM

# ---------------------------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------------------------

@dataclass
class HyperTrace:
    """What a HyperLSTM computed at every step (all on the CPU, detached).

    ``d_h``, ``d_x``, ``d_b``: ``[T, L, 4, B, N_h]``, the scaling vectors of each gate (i, f, g, o);
    ``h``, ``c``: ``[T, L, B, N_h]``, the main cell's new states;
    ``tanh_c``: ``[T, L, B, N_h]``, :math:`\\tanh(LN_c(c_t))`, the factor the output gate multiplies
    (:math:`h_t = \\sigma(o_t) \\odot \\tanh(LN_c(c_t))`; with ``layer_norm=False`` it is
    :math:`\\tanh(c_t)`); ``h_hat``: ``[T, L, B, hyper_size]``, the hyper cell's output.
    """

    d_h: torch.Tensor
    d_x: torch.Tensor
    d_b: torch.Tensor
    h: torch.Tensor
    c: torch.Tensor
    tanh_c: torch.Tensor
    h_hat: torch.Tensor


@dataclass
class LSTMTrace:
    """What an LSTM computed at every step: ``h``, ``c``, ``tanh_c`` each ``[T, L, B, N_h]``."""

    h: torch.Tensor
    c: torch.Tensor
    tanh_c: torch.Tensor


def _reference_copy(model: nn.Module, cls: type, sizes: Tuple[str, ...]) -> nn.Module:
    """``model`` itself if it is a ``cls``, else a ``cls`` built with ``model``'s sizes (the
    attributes named in ``sizes``) and options, holding a copy of its parameters."""
    if isinstance(model, cls):
        return model
    try:
        ref = cls(*(getattr(model, name) for name in sizes),
                  **getattr(model, "cell_options", {}))  # layer_norm, forget_bias as built
        ref.load_state_dict(model.state_dict())
    except (AttributeError, RuntimeError, TypeError) as e:
        raise TypeError(f"expected {cls.__name__} or a drop-in with the same parameters, got "
                        f"{type(model).__name__} ({e})") from None
    p = next(model.parameters())
    return ref.to(device=p.device, dtype=p.dtype).eval()


def as_reference_hyper_lstm(model: nn.Module) -> HyperLSTM:
    """``model`` itself if it is a :class:`HyperLSTM`, else a reference copy with its parameters.

    A drop-in replacement (e.g. ``lstm_edu.fast.FastHyperLSTM``) with the same sizes and parameter
    names is copied into a :class:`HyperLSTM`, whose cells expose ``scaling_vectors``.
    """
    return _reference_copy(model, HyperLSTM,
                           ("input_size", "hidden_size", "hyper_size", "n_z", "n_layers"))


def as_reference_lstm(model: nn.Module) -> LSTM:
    """``model`` itself if it is an :class:`LSTM`, else a reference copy (see
    :func:`as_reference_hyper_lstm`)."""
    return _reference_copy(model, LSTM, ("input_size", "hidden_size", "n_layers"))


@torch.no_grad()
def trace_hyper_lstm(model: nn.Module, x: torch.Tensor, state=None) -> HyperTrace:
    """Run a HyperLSTM over ``x`` ``[T, B, input_size]`` and record every step (see
    :class:`HyperTrace`).

    The steps are the network's own loop (``HyperLSTM.steps``, each cell's step its
    ``HyperLSTMCell.forward``); the scaling vectors are recomputed from the ``h_hat`` each cell
    returned with ``HyperLSTMCell.scaling_vectors``, which is exactly what ``forward`` used.
    ``state`` as for :meth:`HyperLSTM.forward`.
    """
    model = as_reference_hyper_lstm(model)
    x = model.check_input(x)
    if x.shape[0] == 0:
        raise ValueError("x has no steps (n_steps=0): nothing to trace")
    states, _ = model.initial_state(x, state)
    rec: Dict[str, list] = {k: [] for k in ("d_h", "d_x", "d_b", "h", "c", "tanh_c", "h_hat")}
    for layers in model.steps(x, states):
        step: Dict[str, list] = {k: [] for k in rec}
        for cell, (h, c, h_hat, _) in zip(model.cells, layers):
            d_h, d_x, d_b = cell.scaling_vectors(h_hat)  # [4, B, N_h] each
            for k, v in (("d_h", d_h), ("d_x", d_x), ("d_b", d_b), ("h", h), ("c", c),
                         ("tanh_c", torch.tanh(cell.layer_norm_c(c))), ("h_hat", h_hat)):
                step[k].append(v.detach().float().cpu())
        for k in rec:
            rec[k].append(torch.stack(step[k]))  # [L, ...]
    return HyperTrace(**{k: torch.stack(v) for k, v in rec.items()})  # [T, L, ...]


@torch.no_grad()
def trace_lstm(model: nn.Module, x: torch.Tensor, state=None) -> LSTMTrace:
    """Run an LSTM over ``x`` ``[T, B, input_size]``; record ``h``, ``c``, ``tanh(c)``, each
    ``[T, L, B, N_h]``. The steps are the network's own loop (``LSTM.steps``)."""
    model = as_reference_lstm(model)
    x = model.check_input(x)
    if x.shape[0] == 0:
        raise ValueError("x has no steps (n_steps=0): nothing to trace")
    states, _ = model.initial_state(x, state)
    rec: Dict[str, list] = {k: [] for k in ("h", "c", "tanh_c")}
    for layers in model.steps(x, states):
        step: Dict[str, list] = {k: [] for k in rec}
        for cell, (h, c) in zip(model.cells, layers):
            for k, v in (("h", h), ("c", c), ("tanh_c", torch.tanh(cell.layer_norm_c(c)))):
                step[k].append(v.float().cpu())
        for k in rec:
            rec[k].append(torch.stack(step[k]))  # [L, B, N_h]
    return LSTMTrace(**{k: torch.stack(v) for k, v in rec.items()})  # [T, L, B, N_h]


# ---------------------------------------------------------------------------------------------
# How much the weights change
# ---------------------------------------------------------------------------------------------

def d_change(d: torch.Tensor) -> torch.Tensor:
    r""":math:`\lVert d_t - d_{t-1} \rVert_2` over the last axis, for every step.

    Shapes: ``d [T, ..., N_h]`` -> ``[T, ...]``. Step 0 has no predecessor: its entry is ``nan``.
    """
    if d.dim() < 2:
        raise ValueError("d must be [T, ..., N_h] with at least 2 dimensions, got shape "
                         f"{list(d.shape)}")
    out = torch.full(d.shape[:-1], float("nan"), dtype=d.dtype, device=d.device)
    out[1:] = (d[1:] - d[:-1]).norm(dim=-1)
    return out


def weight_change(d: torch.Tensor, w_d: torch.Tensor) -> torch.Tensor:
    r""":math:`\lVert W(t) - W(t-1) \rVert_F` for the effective weight
    :math:`W(t) = \mathrm{diag}(d_t) W_d`.

    Row :math:`i` of :math:`W(t)` is :math:`d_{t,i}` times row :math:`i` of :math:`W_d`, so

    .. math::
        \lVert W(t) - W(t-1) \rVert_F^2 = \sum_i (d_{t,i} - d_{t-1,i})^2 \, \lVert (W_d)_{i,:}
        \rVert^2

    and the :math:`N_h \times N_{in}` matrices are never built: only the row norms of :math:`W_d`.

    Shapes: ``d [T, ..., N_h]`` (e.g. one gate's ``d_h`` ``[T, B, N_h]``), ``w_d [N_h, N_in]``
    (that gate's ``w_h`` or ``w_x``) -> ``[T, ...]``; step 0's entry is ``nan``.
    """
    if w_d.dim() != 2 or d.dim() < 2 or d.shape[-1] != w_d.shape[0]:
        raise ValueError(f"d must be [T, ..., N_h] and w_d [N_h, N_in] with the same N_h, "
                         f"got {list(d.shape)} and {list(w_d.shape)}")
    row_sq = w_d.detach().to(d).pow(2).sum(dim=1)  # ‖(W_d)_i‖², [N_h]
    out = torch.full(d.shape[:-1], float("nan"), dtype=d.dtype, device=d.device)
    out[1:] = ((d[1:] - d[:-1]).pow(2) * row_sq).sum(dim=-1).sqrt()
    return out


def gate_weight_changes(model: nn.Module, trace: HyperTrace, which: str = "h",
                        batch_index: int = 0) -> torch.Tensor:
    r""":math:`\lVert W_{which}^k(t) - W_{which}^k(t-1) \rVert_F` for every step, layer and gate
    of one sequence.

    ``which`` is ``"h"`` (the recurrent weights, scaled by ``d_h``) or ``"x"`` (input weights,
    ``d_x``). Shapes: returns ``[T, L, 4]`` (gates i, f, g, o); step 0 is ``nan``.
    """
    if which not in ("h", "x"):
        raise ValueError(f"which must be 'h' or 'x', got {which!r}")
    model = as_reference_hyper_lstm(model)
    d = trace.d_h if which == "h" else trace.d_x  # [T, L, 4, B, N_h]
    T, L = d.shape[:2]
    out = torch.empty(T, L, len(GATES))
    for layer, cell in enumerate(model.cells):
        weights = cell.w_h if which == "h" else cell.w_x
        for k in range(len(GATES)):
            out[:, layer, k] = weight_change(d[:, layer, k, batch_index], weights[k].cpu())
    return out


# ---------------------------------------------------------------------------------------------
# Saturation of tanh(c)
# ---------------------------------------------------------------------------------------------

def saturation_histogram(tanh_c: torch.Tensor, bins: int = 40) -> Tuple[torch.Tensor, torch.Tensor]:
    """Normalised histogram of the values of ``tanh_c`` (any shape) on ``[-1, 1]``.

    Returns ``(density, edges)``: ``density [bins]`` integrates to 1 over ``edges [bins + 1]``
    (so the heights of two models with different numbers of units are comparable).
    """
    if bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins}")
    v = tanh_c.detach().float().flatten().cpu()
    if v.numel() == 0:
        raise ValueError("tanh_c is empty")
    counts = torch.histc(v.clamp(-1.0, 1.0), bins=bins, min=-1.0, max=1.0)
    edges = torch.linspace(-1.0, 1.0, bins + 1)
    density = counts / (counts.sum() * (2.0 / bins))
    return density, edges


def saturation_fraction(tanh_c: torch.Tensor, threshold: float = 0.9) -> float:
    """The fraction of values with ``|tanh_c| > threshold``: how often the cell is near ±1
    (saturated)."""
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    v = tanh_c.detach().float()
    return float((v.abs() > threshold).float().mean())


__all__ = [
    "GATES", "HyperTrace", "LSTMTrace", "trace_hyper_lstm", "trace_lstm", "d_change",
    "weight_change", "gate_weight_changes", "saturation_histogram", "saturation_fraction",
    "as_reference_hyper_lstm", "as_reference_lstm",
]
