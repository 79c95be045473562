"""A text coloured character by character: the HTML that chapters 5 and 8 display.

:func:`colored_text_html` draws one number per character as the character's background: an LSTM
unit's cell value while it reads a text (chapter 5, after Karpathy, Johnson & Fei-Fei, 2015), or
how far the HyperLSTM's weights move at each character (chapter 8). The analysis modules compute
the numbers; this module only draws them. The widgets built on it are in :mod:`.widgets`.
"""

from __future__ import annotations

import html
import math
from typing import Callable, Optional, Sequence, Tuple, Union

import torch

#: A colour as CSS text, and the same colour as ``(r, g, b)`` in ``[0, 1]`` (for the text colour).
Colour = Tuple[str, Tuple[float, float, float]]


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{int(round(255 * max(0.0, min(1.0, c)))):02x}" for c in rgb[:3])


def _text_colour(rgb: Sequence[float]) -> str:
    """Dark text on a light background, white on a dark one (by relative luminance)."""
    lum = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    return "#000000" if lum > 0.5 else "#ffffff"


def _diverging(value: float, lo: float, hi: float) -> Colour:
    """Blue below 0, white at 0, red above (``lo < 0 < hi``): the colouring of Karpathy's char-rnn
    visualisations, full blue at ``lo`` and full red at ``hi``."""
    s = max(-1.0, min(1.0, value / (hi if value > 0 else -lo)))
    fade = int(255 * (1 - abs(s)))
    r, g, b = (255, fade, fade) if s > 0 else (fade, fade, 255)
    return f"rgb({r},{g},{b})", (r / 255, g / 255, b / 255)


def _colormap(name: str) -> Callable[[float, float, float], Colour]:
    """A matplotlib colormap as a colour scale: its first colour at ``lo``, its last at ``hi``."""
    import matplotlib  # drawing stays out of the models; imported here only

    cmap = matplotlib.colormaps[name]

    def colour(value: float, lo: float, hi: float) -> Colour:
        rgb = cmap((min(max(value, lo), hi) - lo) / (hi - lo if hi > lo else 1.0))[:3]
        return _hex(rgb), rgb

    return colour


def colored_text_html(text: str, values: Union[Sequence[float], torch.Tensor],
                      vmin: Optional[float] = None, vmax: Optional[float] = None, *,
                      title: str = "", label: str = "value", cmap: Optional[str] = None) -> str:
    """HTML for ``text`` with character ``t``'s background coloured by ``values[t]``.

    ``values`` holds one number per character (a sequence or a tensor ``[len(text)]``); ``nan``
    leaves a character white. The scale runs from ``vmin`` (default: the smallest finite value) to
    ``vmax`` (default: the largest); values beyond an end get that end's colour.

    ``cmap=None`` picks the colours from the scale: when it runs from below 0 to above 0, blue
    below zero, white at zero and red above (the colouring of Karpathy's char-rnn
    visualisations); otherwise matplotlib's ``"Reds"``, white to dark red. A name picks that
    matplotlib colormap. Hovering a character shows ``label = value``; a legend below the text
    gives the scale's two ends. Newlines are shown as ``↵`` and kept as line breaks; the text is
    escaped. Returns the HTML as a string (display it with ``IPython.display.HTML``).
    """
    if isinstance(values, torch.Tensor):
        if values.dim() != 1:
            raise ValueError(f"values must be one number per character, [len(text)], "
                             f"got a tensor of shape {list(values.shape)}")
        values = values.detach().float().cpu().tolist()
    values = [float(v) for v in values]
    if len(values) != len(text):
        raise ValueError(f"values must have one number per character: {len(text)} characters, "
                         f"{len(values)} values")
    finite = [v for v in values if math.isfinite(v)]
    lo = vmin if vmin is not None else (min(finite) if finite else 0.0)
    hi = vmax if vmax is not None else (max(finite) if finite else 1.0)
    if cmap is None and lo < 0 < hi:
        colour = _diverging
    else:
        colour = _colormap(cmap or "Reds")

    parts = []
    for ch, v in zip(text, values):
        if math.isfinite(v):
            css, rgb = colour(v, lo, hi)
            style, tip = f"background:{css};color:{_text_colour(rgb)}", f"{label} = {v:.4g}"
        else:
            style, tip = "background:#ffffff;color:#000000", f"{label}: n/a"
        shown = "↵" if ch == "\n" else ch
        tip, shown = html.escape(tip), html.escape(shown)
        parts.append(f'<span style="{style}" title="{tip}">{shown}</span>')
        if ch == "\n":
            parts.append("<br>")
    stops = ",".join(colour(lo + q * (hi - lo) / 10, lo, hi)[0] for q in range(11))
    ramp = ('<div style="display:inline-block;width:10em;height:0.9em;vertical-align:middle;'
            f'background:linear-gradient(to right,{stops})"></div>')
    head = (f'<div style="font-weight:bold;margin-bottom:4px">{html.escape(title)}</div>'
            if title else "")
    legend = (f'<div style="font-size:0.85em;margin-top:6px">'
              f"{html.escape(label)}: {lo:.3g} {ramp} {hi:.3g}</div>")
    return (f'<div class="lstm-edu-colored-text" style="color:black;background:white;padding:4px">'
            f"{head}"
            f'<div style="font-family:monospace;white-space:pre-wrap;line-height:1.6">'
            f'{"".join(parts)}</div>{legend}</div>')


__all__ = ["colored_text_html"]
