"""Looking inside a trained LSTM: record its gates and cells over a text, measure what they track.

- :func:`record_lstm`: run an :class:`lstm_edu.LSTM` (alone or inside a
  :class:`lstm_edu.training.train.CharLM`) and record, at every step and in every layer, the gate
  activations ``σ(i), σ(f), tanh(g), σ(o)`` and the states ``c``, ``h``.
- :func:`text_features`: simple properties of every character of a text (inside double quotes,
  inside brackets, position in the line, ...) to compare cells with.
- :func:`correlations`, :func:`best_cells`: Pearson correlation of every cell with a feature.
- :func:`saturation`: the fraction of time each gate unit is near 0 or near 1.

The text coloured by a unit's values and the browser over layers, gates and units are drawn by
:mod:`lstm_edu.display` (``colored_text_html``, ``cell_browser``).

Recording works by forward hooks on each :class:`lstm_edu.LSTMCell`: the hook receives the cell's
inputs ``(x_t, h_{t-1}, c_{t-1})`` and recomputes the gates with the cell's own ``lin_x``,
``lin_h`` and layer norms, then checks that they reproduce the ``c_t`` the cell returned.
This module is analysis code: the models never import it.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import torch
from torch import nn

from ..models.lstm import LSTMCell

GATE_NAMES = ("i", "f", "g", "o")
RECORDED = ("i", "f", "g", "o", "c", "h")


def _find_lstm_cells(model: nn.Module) -> List[LSTMCell]:
    rnn = getattr(model, "rnn", model)
    cells = getattr(rnn, "cells", None)
    if cells is None or not all(isinstance(c, LSTMCell) for c in cells):
        raise TypeError("record_lstm needs an lstm_edu.LSTM (or a model whose .rnn is one): "
                        f"got {type(rnn).__name__}")
    return list(cells)


@torch.no_grad()
def record_lstm(model: nn.Module, inputs: torch.Tensor, state=None) -> Dict[str, torch.Tensor]:
    r"""Run ``model`` on ``inputs`` and record every gate and state of every layer at every step.

    ``model`` is an :class:`lstm_edu.LSTM` (then ``inputs`` is ``x [T, B, I]``) or a model with an
    ``.rnn`` that is one, such as :class:`lstm_edu.training.train.CharLM` (then ``inputs`` is ``ids [T, B]``).

    Returns a dict of CPU tensors, each ``[n_layers, T, B, H]``:
    ``"i"`` :math:`\sigma(i_t)`, ``"f"`` :math:`\sigma(f_t)`, ``"g"`` :math:`\tanh(g_t)`,
    ``"o"`` :math:`\sigma(o_t)` (the gate values, after their nonlinearity), ``"c"`` :math:`c_t` and
    ``"h"`` :math:`h_t`.
    """
    cells = _find_lstm_cells(model)
    per_layer: List[Dict[str, List[torch.Tensor]]] = [{k: [] for k in RECORDED} for _ in cells]

    def make_hook(layer: int, cell: LSTMCell):
        def hook(module, args, output):
            x, h_prev, c_prev = args
            h_new, c_new = output
            ifgo = cell.lin_x(x) + cell.lin_h(h_prev)  # [B, 4H]
            i, f, g, o = (ln(z) for ln, z in zip(cell.layer_norm, ifgo.chunk(4, dim=-1)))
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            # the recomputed gates must reproduce the cell's own c_t (else the cell has changed)
            c_check = f * c_prev + i * g
            if not torch.allclose(c_check, c_new, atol=1e-5, rtol=1e-4):
                raise RuntimeError("record_lstm: recomputed gates do not reproduce the cell's c_t; "
                                   "the cell's forward differs from LSTMCell's equations")
            rec = per_layer[layer]
            for k, v in zip(RECORDED, (i, f, g, o, c_new, h_new)):
                rec[k].append(v.detach().float().cpu())
        return hook

    handles = [cell.register_forward_hook(make_hook(layer, cell)) for layer, cell in enumerate(cells)]
    was_training = model.training
    model.eval()
    try:
        model(inputs, state)
    finally:
        for hnd in handles:
            hnd.remove()
        model.train(was_training)
    return {k: torch.stack([torch.stack(per_layer[layer][k]) for layer in range(len(cells))]) for k in RECORDED}


def text_features(text: str) -> Dict[str, torch.Tensor]:
    """Per-character properties of ``text``, each a ``float32 [len(text)]`` tensor.

    - ``"inside quotes"``: 1 from an opening double quote ``"`` up to and including its closing
      one (quotes toggle; the closing quote counts as inside), else 0.
    - ``"inside brackets"``: 1 where at least one ``(``, ``[`` or ``{`` is open (the opening
      bracket counts as inside, the closing one as outside), else 0.
    - ``"bracket depth"``: how many brackets are open.
    - ``"position in line"``: characters since the last newline (0 at the newline itself).
    - ``"indented line"``: 1 on lines that start with a space (the docs' code examples), else 0.
    - ``"space"``: 1 on spaces and newlines.
    """
    n = len(text)
    quotes, inside, depth_t, pos, indented, space = ([0.0] * n for _ in range(6))
    in_quote, depth, col, line_indented = False, 0, 0, False
    for t, ch in enumerate(text):
        if ch == "\n":
            col, line_indented = 0, False
        else:
            if col == 0:
                line_indented = ch == " "
            col += 1
        if ch == '"':
            quotes[t] = 1.0
            in_quote = not in_quote
        else:
            quotes[t] = float(in_quote)
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        inside[t], depth_t[t] = float(depth > 0), float(depth)
        pos[t] = float(col if ch != "\n" else 0)
        indented[t] = float(line_indented)
        space[t] = float(ch in " \n")
    names = ("inside quotes", "inside brackets", "bracket depth", "position in line", "indented line", "space")
    return {k: torch.tensor(v) for k, v in zip(names, (quotes, inside, depth_t, pos, indented, space))}


def correlations(acts: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of every unit with a feature: ``acts [T, H]``, ``feature [T]`` -> ``r [H]``.

    A unit (or a feature) that never changes has no defined correlation; it gets 0.
    """
    if acts.dim() != 2 or feature.shape != acts.shape[:1]:
        raise ValueError(f"acts must be [T, H] and feature [T], got {list(acts.shape)} and {list(feature.shape)}")
    a = acts.double() - acts.double().mean(0)
    f = feature.double() - feature.double().mean()
    denom = a.norm(dim=0) * f.norm()
    r = (a * f[:, None]).sum(0) / denom.clamp_min(1e-12)
    return torch.where(denom > 1e-12, r, torch.zeros_like(r)).float()


def best_cells(rec: Dict[str, torch.Tensor], features: Dict[str, torch.Tensor], key: str = "c",
               batch: int = 0) -> List[Tuple[str, int, int, float]]:
    """For each feature, the unit of ``rec[key]`` with the largest ``|r|``.

    ``rec`` comes from :func:`record_lstm` on one text (``batch`` picks the column). Returns a
    list of ``(feature, layer, unit, r)``.
    """
    vals = rec[key][:, :, batch]  # [L, T, H]
    out = []
    for name, feat in features.items():
        r = torch.stack([correlations(vals[layer], feat) for layer in range(vals.shape[0])])  # [L, H]
        flat = int(r.abs().argmax())
        layer, unit = divmod(flat, r.shape[1])
        out.append((name, layer, unit, float(r[layer, unit])))
    return out


def saturation(gate: torch.Tensor, low: float = 0.1, high: float = 0.9) -> Tuple[torch.Tensor, torch.Tensor]:
    """How often each unit of a σ-gate is saturated: ``gate [..., H]`` (values in [0, 1]).

    Returns ``(left, right)``, each ``[H]``: the fraction of positions where the unit is below
    ``low`` (the gate nearly closed) and above ``high`` (nearly open); the thresholds 0.1 and 0.9 are
    those of Karpathy, Johnson & Fei-Fei (2015).
    """
    flat = gate.reshape(-1, gate.shape[-1])
    return (flat < low).float().mean(0), (flat > high).float().mean(0)


__all__ = ["GATE_NAMES", "RECORDED", "record_lstm", "text_features", "correlations", "best_cells",
           "saturation"]
