"""One colour per gate and per state, for every diagram and plot of the book.

Defined once here; :mod:`lstm_edu.display.diagrams` draws with it and the chapters plot with it::

    from lstm_edu.display.palette import GATE_COLORS, STATE_COLORS, color
    ax.plot(t, sigma_f, color=GATE_COLORS["f"])      # or color("sigma_f")

The colours are the Okabe-Ito set, which readers with the common forms of colour blindness can
tell apart. Gates are in the order i, f, g, o (``torch.nn.LSTM``'s). A key may name the gate's
pre-activation (``"f"``) or its value as the recorders store it (``"sigma_f"``, ``"tanh_g"``): a
gate has one colour, whichever of the two a plot shows.
"""

from __future__ import annotations

from typing import Dict

from lstm_edu.models.lstm import GATES  # the one list of gates, re-exported for the chapters

#: One colour per gate: input gate i, forget gate f, candidate g, output gate o.
GATE_COLORS: Dict[str, str] = {
    "i": "#0072B2",  # blue
    "f": "#D55E00",  # vermillion
    "g": "#009E73",  # bluish green
    "o": "#CC79A7",  # reddish purple
}

#: The states and the other quantities the diagrams draw.
STATE_COLORS: Dict[str, str] = {
    "c": "#E69F00",  # cell state c_t (long-term memory): orange
    "h": "#56B4E9",  # hidden state h_t (short-term memory): sky blue
    "x": "#555555",  # input x_t: dark grey
    "hyper": "#7B4FA0",  # the hyper cell and what it generates (ĥ, z, d): violet
    "gradient": "#C0001A",  # a gradient flowing back: red
}

#: How the recorders name each gate's value (``"sigma_f"`` is σ(f), never ``"f"``).
GATE_VALUE_KEYS: Dict[str, str] = {"i": "sigma_i", "f": "sigma_f", "g": "tanh_g", "o": "sigma_o"}

#: Readable names, for legends and labels.
GATE_NAMES: Dict[str, str] = {
    "i": "input gate σ(i)",
    "f": "forget gate σ(f)",
    "g": "candidate tanh(g)",
    "o": "output gate σ(o)",
}


def color(key: str) -> str:
    """The colour of a gate or state: ``"f"``, ``"sigma_f"``, ``"c"``, ``"hyper"``, ...

    Raises ``KeyError`` naming the keys it knows when ``key`` is none of them.
    """
    for gate, value_key in GATE_VALUE_KEYS.items():
        if key == value_key:
            key = gate
    if key in GATE_COLORS:
        return GATE_COLORS[key]
    if key in STATE_COLORS:
        return STATE_COLORS[key]
    known = list(GATE_COLORS) + list(GATE_VALUE_KEYS.values()) + list(STATE_COLORS)
    raise KeyError(f"no colour for {key!r}: expected one of {known}")


__all__ = ["GATES", "GATE_COLORS", "STATE_COLORS", "GATE_VALUE_KEYS", "GATE_NAMES", "color"]
