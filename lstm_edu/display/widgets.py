r"""The gate explorer: move the four gate pre-activations and :math:`c_{t-1}`, watch :math:`c_t`
and :math:`h_t`.

One LSTM unit (one of the ``H`` features) computes, from its pre-activations
:math:`i_t, f_t, g_t, o_t` and its previous cell value :math:`c_{t-1}`,

.. math::
    c_t = \sigma(f_t)\, c_{t-1} + \sigma(i_t) \tanh(g_t), \qquad h_t = \sigma(o_t) \tanh(c_t).

Three views of the same computation, all built on :func:`gate_values`:

- :func:`gate_explorer`: ipywidgets sliders; the bars are recomputed in Python, so moving a
  slider needs a live kernel (the saved widget state shows the starting values in a static page).
- :func:`gate_explorer_html`: plain HTML sliders whose bars are computed in the browser by a few
  lines of JavaScript (:data:`GATE_MATH_JS`), so they move in the static book too.
- :func:`plot_gate_values`: a static matplotlib bar chart of one setting.

This module is book code (widgets and plotting); the models never import it.
"""

from __future__ import annotations

import html
import json
import math
import uuid
from typing import Dict

#: The order and labels of the quantities every view shows.
QUANTITIES = (
    ("sigma_f", "σ(fₜ)  forget gate"),
    ("sigma_i", "σ(iₜ)  input gate"),
    ("tanh_g", "tanh(gₜ)  candidate"),
    ("sigma_o", "σ(oₜ)  output gate"),
    ("c", "cₜ  cell state"),
    ("h", "hₜ  hidden state"),
)
#: The sliders: (name, label, min, max, start); labels use Unicode subscripts (they are not
#: typeset as math).
SLIDERS = (
    ("f", "fₜ", -6.0, 6.0, 2.0),
    ("i", "iₜ", -6.0, 6.0, 0.0),
    ("g", "gₜ", -6.0, 6.0, 1.0),
    ("o", "oₜ", -6.0, 6.0, 1.0),
    ("c_prev", "cₜ₋₁", -3.0, 3.0, 1.0),
)
# The bars span [-SCALE, SCALE]; |c_t| <= |c_{t-1}| + 1 <= 4 with the sliders above.
_SCALE = {"sigma_f": 1.0, "sigma_i": 1.0, "tanh_g": 1.0, "sigma_o": 1.0, "c": 4.0, "h": 1.0}


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def gate_values(i: float, f: float, g: float, o: float, c_prev: float) -> Dict[str, float]:
    r"""One LSTM unit's step from its pre-activations (plain floats).

    Returns ``{"sigma_f", "sigma_i", "tanh_g", "sigma_o", "c", "h"}`` with
    :math:`c = \sigma(f) c_{t-1} + \sigma(i)\tanh(g)` and :math:`h = \sigma(o)\tanh(c)`.
    """
    sigma_i, sigma_f, tanh_g, sigma_o = _sigmoid(i), _sigmoid(f), math.tanh(g), _sigmoid(o)
    # c_t = σ(f_t) c_{t-1} + σ(i_t) tanh(g_t)
    c = sigma_f * c_prev + sigma_i * tanh_g
    # h_t = σ(o_t) tanh(c_t)
    h = sigma_o * math.tanh(c)
    return {"sigma_f": sigma_f, "sigma_i": sigma_i, "tanh_g": tanh_g, "sigma_o": sigma_o,
            "c": c, "h": h}


#: The same computation in JavaScript, for the client-side explorer (tested against
#: :func:`gate_values` in tests/test_widgets.py).
GATE_MATH_JS = """
function lstmEduGateValues(i, f, g, o, c_prev) {
  const sigma = z => 1 / (1 + Math.exp(-z));
  const v = {sigma_f: sigma(f), sigma_i: sigma(i), tanh_g: Math.tanh(g), sigma_o: sigma(o)};
  v.c = v.sigma_f * c_prev + v.sigma_i * v.tanh_g;   // c_t = σ(f_t) c_{t-1} + σ(i_t) tanh(g_t)
  v.h = v.sigma_o * Math.tanh(v.c);                  // h_t = σ(o_t) tanh(c_t)
  return v;
}
"""


def _bar_row(key: str, label: str, value: float) -> str:
    """One labelled bar centred on zero: blue to the right for positive values, red to the left."""
    frac = max(-1.0, min(1.0, value / _SCALE[key]))
    left = 50.0 if frac >= 0 else 50.0 + 50.0 * frac
    color = "#1f77b4" if frac >= 0 else "#d62728"
    return (
        f'<div style="display:flex;align-items:center;margin:2px 0;font-family:monospace">'
        f'<span style="width:16em">{html.escape(label)}</span>'
        '<span style="position:relative;display:inline-block;width:240px;height:14px;'
        'background:#eee">'
        '<span style="position:absolute;left:50%;top:0;width:1px;height:14px;background:#555">'
        '</span>'
        f'<span data-bar="{key}" style="position:absolute;top:2px;height:10px;left:{left:.2f}%;'
        f'width:{50.0 * abs(frac):.2f}%;background:{color}"></span></span>'
        f'<span data-value="{key}" style="width:6em;text-align:right">{value:+.3f}</span></div>'
    )


def bars_html(values: Dict[str, float]) -> str:
    """The bar display of :func:`gate_values`' output as an HTML fragment."""
    return "".join(_bar_row(key, label, values[key]) for key, label in QUANTITIES)


def gate_explorer():
    """An ipywidgets gate explorer: five sliders and the bars of :func:`bars_html`, recomputed on
    every move.

    Returns the ``ipywidgets.VBox``; its ``sliders`` attribute maps each slider name
    (``"f"``, ``"i"``, ``"g"``, ``"o"``, ``"c_prev"``) to its ``FloatSlider`` and ``bars`` is the
    ``HTML`` widget that shows the result. Moving a slider needs a live Python kernel.
    """
    import ipywidgets as widgets

    sliders = {
        name: widgets.FloatSlider(value=start, min=lo, max=hi, step=0.1, description=label,
                                  continuous_update=True, readout_format=".1f")
        for name, label, lo, hi, start in SLIDERS
    }
    bars = widgets.HTML()

    def update(_change=None) -> None:
        bars.value = bars_html(gate_values(**{name: s.value for name, s in sliders.items()}))

    for s in sliders.values():
        s.observe(update, names="value")
    update()
    heading = ("<b>LSTM gate explorer</b> "
               "(pre-activations → gates → c<sub>t</sub>, h<sub>t</sub>)")
    box = widgets.VBox([widgets.HTML(heading),
                        *sliders.values(), bars])
    box.sliders, box.bars = sliders, bars
    return box


def gate_explorer_html() -> str:
    """A self-contained HTML gate explorer computed in the browser (works in a static page).

    Display it with ``IPython.display.HTML(gate_explorer_html())``. Each call gets its own
    element id, so several explorers can share a page.
    """
    uid = "lstm-edu-gates-" + uuid.uuid4().hex[:8]
    start = {name: s for name, _, _, _, s in SLIDERS}
    rows = []
    for name, label, lo, hi, s in SLIDERS:
        rows.append(
            f'<div style="display:flex;align-items:center;font-family:monospace">'
            f'<span style="width:16em">{html.escape(label)}</span>'
            f'<input type="range" data-input="{name}" min="{lo}" max="{hi}" step="0.1" '
            f'value="{s}" style="width:240px">'
            f'<span data-shown="{name}" style="width:6em;text-align:right">{s:+.1f}</span></div>'
        )
    script = GATE_MATH_JS + f"""
(function () {{
  const root = document.getElementById({json.dumps(uid)});
  if (!root) return;
  const scale = {json.dumps(_SCALE)};
  function update() {{
    const x = {{}};
    root.querySelectorAll("input[data-input]").forEach(el => {{
      x[el.dataset.input] = parseFloat(el.value);
      const shown = x[el.dataset.input];
      root.querySelector('[data-shown="' + el.dataset.input + '"]').textContent =
        (shown >= 0 ? "+" : "") + shown.toFixed(1);
    }});
    const v = lstmEduGateValues(x.i, x.f, x.g, x.o, x.c_prev);
    for (const key in scale) {{
      const frac = Math.max(-1, Math.min(1, v[key] / scale[key]));
      const bar = root.querySelector('[data-bar="' + key + '"]');
      bar.style.left = (frac >= 0 ? 50 : 50 + 50 * frac) + "%";
      bar.style.width = (50 * Math.abs(frac)) + "%";
      bar.style.background = frac >= 0 ? "#1f77b4" : "#d62728";
      root.querySelector('[data-value="' + key + '"]').textContent =
        (v[key] >= 0 ? "+" : "") + v[key].toFixed(3);
    }}
  }}
  root.querySelectorAll("input[data-input]").forEach(el => el.addEventListener("input", update));
  update();
}})();
"""
    return (
        f'<div id="{uid}" class="lstm-edu-gate-explorer" '
        'style="border:1px solid #ccc;padding:8px;max-width:34em">'
        f"<b>LSTM gate explorer (runs in your browser)</b>"
        + "".join(rows)
        + '<hr style="margin:6px 0">'
        + bars_html(gate_values(**start))
        + f"</div><script>{script}</script>"
    )


def plot_gate_values(ax, values: Dict[str, float], title: str = "") -> None:
    """A static bar chart of :func:`gate_values`' output on the matplotlib axes ``ax``."""
    keys = [k for k, _ in QUANTITIES]
    labels = ["σ(fₜ)", "σ(iₜ)", "tanh(gₜ)", "σ(oₜ)", "cₜ", "hₜ"]
    vals = [values[k] for k in keys]
    ax.bar(labels, vals, color=["#1f77b4" if v >= 0 else "#d62728" for v in vals])
    ax.axhline(0, color="black", linewidth=0.8)
    for k, v in enumerate(vals):
        ax.text(k, v, f"{v:+.2f}", ha="center", va="bottom" if v >= 0 else "top")
    ax.set_ylabel("value (no unit)")
    ax.set_xlabel("gate or state")
    if title:
        ax.set_title(title)


__all__ = ["QUANTITIES", "SLIDERS", "gate_values", "GATE_MATH_JS", "bars_html", "gate_explorer",
           "gate_explorer_html", "plot_gate_values"]
