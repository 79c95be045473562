"""Widgets over a coloured text: pick what colours it, see the text coloured by it.

- :func:`cell_browser` (chapter 5): one LSTM unit's recorded gate or state over a text; the
  layer, the quantity and the unit are chosen with sliders and a dropdown (needs a live kernel to
  change the view; the saved widget state shows the starting view in the static book).
- :func:`change_explorer` (chapter 8): how far a HyperLSTM's weights move at each character, per
  measure, layer and gate. Every view is rendered in advance and the choice is linked in the
  browser, so it also works in the static book.

Both draw with :func:`lstm_edu.display.html.colored_text_html`; the numbers come from
:mod:`lstm_edu.analysis`. ipywidgets is imported inside the functions that use it.
"""

from __future__ import annotations

from typing import Dict, Union

import torch

from ..models.lstm import GATE_NAMES, GATES
from .html import colored_text_html

#: What each recorded quantity (the keys of ``record_lstm``'s result) is called in
#: :func:`cell_browser`'s dropdown.
RECORDED_LABELS = {"c": "c (cell state)", "h": "h (hidden state)", "sigma_i": "σ(i) input gate",
                   "sigma_f": "σ(f) forget gate", "tanh_g": "tanh(g) candidate",
                   "sigma_o": "σ(o) output gate"}


def cell_browser(rec: Dict[str, torch.Tensor], text: str, layer: int = 0, unit: int = 0,
                 key: str = "c", batch: int = 0):
    """An ipywidgets browser: pick the layer, the recorded quantity and the unit; see the text
    coloured by it.

    ``rec`` comes from :func:`lstm_edu.analysis.activations.record_lstm` on ``text`` (each entry
    ``[n_layers, T, B, N_h]``; ``batch`` picks the column). Gates in [0, 1] are coloured
    white→red, ``tanh(g)`` and ``h`` in [-1, 1] blue→white→red, ``c`` blue→white→red scaled by
    its largest absolute value. Returns the widget (display it as the cell's last expression); its
    starting view is saved with the notebook, so the static book shows it too.
    """
    import ipywidgets as w

    n_layers, _, _, hidden = rec["c"].shape
    layer_w = w.IntSlider(value=layer, min=0, max=n_layers - 1, description="layer")
    key_w = w.Dropdown(options=[(label, k) for k, label in RECORDED_LABELS.items()], value=key,
                       description="show")
    unit_w = w.IntSlider(value=unit, min=0, max=hidden - 1, description="unit")
    out = w.HTML()

    def render(*_):
        vals = rec[key_w.value][layer_w.value, :len(text), batch, unit_w.value]
        if key_w.value in ("sigma_i", "sigma_f", "sigma_o"):
            vmin, vmax = 0.0, 1.0
        elif key_w.value == "c":
            m = float(vals.abs().max()) or 1.0
            vmin, vmax = -m, m
        else:
            vmin, vmax = -1.0, 1.0
        title = (f"layer {layer_w.value}, unit {unit_w.value}, {key_w.value}: "
                 f"min {float(vals.min()):+.2f}, max {float(vals.max()):+.2f}")
        out.value = colored_text_html(text, vals, vmin, vmax, title=title, label=key_w.value)

    for ctl in (layer_w, key_w, unit_w):
        ctl.observe(render, names="value")
    render()
    return w.VBox([w.HBox([layer_w, key_w, unit_w]), out])


def change_explorer(text: str, changes: Union[torch.Tensor, Dict[str, torch.Tensor]],
                    label: str = "change", cmap: str = "Reds"):
    """An ipywidgets chooser of layer and gate over the coloured text of ``changes`` ``[T, L, 4]``.

    ``changes`` is one tensor ``[T, L, 4]`` (gates i, f, g, o; coloured as ``label``), or a dict
    ``{label: tensor}`` of several measures of the same shape, which adds a "measure" dropdown.

    Every text is rendered in advance into an ``HTML`` widget inside nested ``Stack`` widgets, and
    the dropdowns are linked to the stacks with ``jslink`` (the links are in the returned box's
    ``links``): the choice is made in the browser, so the widget also works in a static page built
    from saved widget state. Within one measure and layer the four gates share one colour scale
    (the same colour means the same change).
    """
    import ipywidgets as widgets

    measures = dict(changes) if isinstance(changes, dict) else {label: changes}
    if not measures:
        raise ValueError("changes is an empty dict: give at least one measure")
    shapes = {tuple(v.shape) for v in measures.values()}
    shape = next(iter(shapes))
    if len(shapes) != 1 or len(shape) != 3 or shape[0] != len(text) or shape[2] != len(GATES):
        raise ValueError(f"changes must be [T={len(text)}, L, 4] (every measure the same shape), "
                         f"got {sorted(list(s) for s in shapes)}")
    n_layers = shape[1]
    measure_pick = widgets.Dropdown(options=[(m, k) for k, m in enumerate(measures)], value=0,
                                    description="measure")
    layer_pick = widgets.Dropdown(options=[(f"layer {n}", n) for n in range(n_layers)], value=0,
                                  description="layer")
    gate_pick = widgets.Dropdown(options=[(GATE_NAMES[g], k) for k, g in enumerate(GATES)],
                                 value=0, description="gate")
    measure_stacks, links = [], []
    for name, values in measures.items():
        layer_stacks = []
        for layer in range(n_layers):
            vals = values[:, layer].detach().float().cpu()
            finite = vals[torch.isfinite(vals)]
            vmax = float(finite.max()) if finite.numel() else 1.0
            pages = [widgets.HTML(colored_text_html(
                         text, vals[:, k], 0.0, vmax, cmap=cmap, label=name,
                         title=f"{name}: layer {layer}, {GATE_NAMES[g]}"))
                     for k, g in enumerate(GATES)]
            gate_stack = widgets.Stack(pages, selected_index=0)
            links.append(widgets.jslink((gate_pick, "index"), (gate_stack, "selected_index")))
            layer_stacks.append(gate_stack)
        layer_stack = widgets.Stack(layer_stacks, selected_index=0)
        links.append(widgets.jslink((layer_pick, "index"), (layer_stack, "selected_index")))
        measure_stacks.append(layer_stack)
    outer = widgets.Stack(measure_stacks, selected_index=0)
    links.append(widgets.jslink((measure_pick, "index"), (outer, "selected_index")))
    picks = [layer_pick, gate_pick] if len(measures) == 1 else [measure_pick, layer_pick, gate_pick]
    box = widgets.VBox([widgets.HBox(picks), outer])
    box.links = links  # the browser-side links (for inspection; the saved state holds them too)
    return box


__all__ = ["RECORDED_LABELS", "cell_browser", "change_explorer"]
