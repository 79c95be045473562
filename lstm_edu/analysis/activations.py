"""Looking inside a trained LSTM: record its gates and cells over a text, measure what they track.

- :func:`record_lstm`: run an :class:`lstm_edu.LSTM` (alone or inside a
  :class:`lstm_edu.training.charlm.CharLM`) and record, at every step and in every layer, the gate
  values ``σ(i), σ(f), tanh(g), σ(o)`` and the states ``c``, ``h``.
- :func:`text_features`: simple properties of every character of a text (inside double quotes,
  inside brackets, position in the line, ...) to compare cells with.
- :func:`correlations`, :func:`best_cells`: Pearson correlation of every cell with a feature.
- :func:`saturation`: the fraction of time each gate unit is near 0 or near 1.

The text coloured by a unit's values and the browser over layers, gates and units are drawn by
:mod:`lstm_edu.display` (``colored_text_html``, ``cell_browser``).

Recording runs the network's own loop (``LSTM.steps``) and, at every step and in every layer, asks
the cell for the pre-activations it used (``LSTMCell.gates`` of the layer's input and
:math:`h_{t-1}`): the gate formula is the cell's, written once.
This module is analysis code: the models never import it.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import torch
from torch import nn

from ..models.lstm import LSTM

# The keys of record_lstm's result: the gate values σ(i), σ(f), tanh(g), σ(o), then c_t and h_t
RECORDED = ("sigma_i", "sigma_f", "tanh_g", "sigma_o", "c", "h")


def _find_lstm(model: nn.Module) -> LSTM:
    rnn = getattr(model, "rnn", model)
    if not isinstance(rnn, LSTM):
        raise TypeError("record_lstm needs an lstm_edu.LSTM (or a model whose .rnn is one): "
                        f"got {type(rnn).__name__}")
    return rnn


def _lstm_input(model: nn.Module, lstm: LSTM, inputs: torch.Tensor, state) -> tuple:
    """What ``model`` feeds its LSTM when called on ``inputs``: ``(x [T, B, N_x], state)``.

    ``model`` runs once, with a forward pre-hook on the LSTM that keeps its arguments."""
    calls = []

    def keep(module, args, kwargs):
        calls.append((args + (kwargs.get("state"),))[:2])

    handle = lstm.register_forward_pre_hook(keep, with_kwargs=True)
    try:
        model(inputs, state)
    finally:
        handle.remove()
    if len(calls) != 1:
        raise ValueError(f"record_lstm needs a model that calls its LSTM once per forward call; "
                         f"{type(model).__name__} called it {len(calls)} times")
    return calls[0]


@torch.no_grad()
def record_lstm(model: nn.Module, inputs: torch.Tensor, state=None) -> Dict[str, torch.Tensor]:
    r"""Run ``model`` on ``inputs`` and record every gate and state of every layer at every step.

    ``model`` is an :class:`lstm_edu.LSTM` (then ``inputs`` is ``x [T, B, N_x]``) or a model with
    an ``.rnn`` that is one, such as :class:`lstm_edu.training.charlm.CharLM` (then ``inputs`` is
    ``ids [T, B]``; the model runs once to find what its LSTM reads).

    Returns a dict of CPU tensors, each ``[L, T, B, N_h]``: ``"sigma_i"`` :math:`\sigma(i_t)`,
    ``"sigma_f"`` :math:`\sigma(f_t)`, ``"tanh_g"`` :math:`\tanh(g_t)`, ``"sigma_o"``
    :math:`\sigma(o_t)` (the gate values, after their nonlinearity), ``"c"`` :math:`c_t` and
    ``"h"`` :math:`h_t`.
    """
    lstm = _find_lstm(model)
    was_training = model.training
    model.eval()
    try:
        x, state = (inputs, state) if lstm is model else _lstm_input(model, lstm, inputs, state)
        x = lstm.check_input(x)
        if x.shape[0] == 0:
            raise ValueError("x has no steps (n_steps=0): nothing to record")
        states, _ = lstm.initial_state(x, state)  # per layer (h_0, c_0), each [B, N_h]
        rec: Dict[str, List[torch.Tensor]] = {k: [] for k in RECORDED}
        for x_t, layers in zip(x, lstm.steps(x, states)):
            inputs_t = (x_t, *(h for h, _ in layers[:-1]))  # each layer's input: x_t, h_t below
            step: Dict[str, List[torch.Tensor]] = {k: [] for k in RECORDED}
            for cell, inp, (h_prev, _), (h, c) in zip(lstm.cells, inputs_t, states, layers):
                i, f, g, o = cell.gates(inp, h_prev)  # the pre-activations of this step: [B, N_h]
                values = (torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o), c, h)
                for k, v in zip(RECORDED, values):
                    step[k].append(v.float().cpu())
            for k in RECORDED:
                rec[k].append(torch.stack(step[k]))  # [L, B, N_h]
            states = layers
    finally:
        model.train(was_training)
    return {k: torch.stack(v, dim=1) for k, v in rec.items()}  # [L, T, B, N_h]


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
    names = ("inside quotes", "inside brackets", "bracket depth", "position in line",
             "indented line", "space")
    values = (quotes, inside, depth_t, pos, indented, space)
    return {k: torch.tensor(v) for k, v in zip(names, values)}


def correlations(acts: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of every unit with a feature: ``acts [T, N_h]``, ``feature [T]``
    -> ``r [N_h]``.

    A unit (or a feature) that never changes has no defined correlation; it gets 0.
    """
    if acts.dim() != 2 or feature.shape != acts.shape[:1]:
        raise ValueError(f"acts must be [T, H] and feature [T], "
                         f"got {list(acts.shape)} and {list(feature.shape)}")
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
        # one r per unit of every layer: [L, N_h]
        r = torch.stack([correlations(vals[layer], feat) for layer in range(vals.shape[0])])
        flat = int(r.abs().argmax())
        layer, unit = divmod(flat, r.shape[1])
        out.append((name, layer, unit, float(r[layer, unit])))
    return out


def saturation(gate: torch.Tensor, low: float = 0.1, high: float = 0.9
               ) -> Tuple[torch.Tensor, torch.Tensor]:
    """How often each unit of a σ-gate is saturated: ``gate [..., H]`` (values in [0, 1]).

    Returns ``(left, right)``, each ``[H]``: the fraction of positions where the unit is below
    ``low`` (the gate nearly closed) and above ``high`` (nearly open); the thresholds 0.1 and 0.9
    are those of Karpathy, Johnson & Fei-Fei (2015).
    """
    flat = gate.reshape(-1, gate.shape[-1])
    return (flat < low).float().mean(0), (flat > high).float().mean(0)


__all__ = ["RECORDED", "record_lstm", "text_features", "correlations", "best_cells", "saturation"]
