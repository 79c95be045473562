r"""The book's diagrams, drawn as SVG from code: the LSTM cell, the unrolled LSTM, the HyperLSTM,
row scaling.

Each function returns a :class:`Diagram`: the SVG text, an alt text that says in words what the
picture shows, and a name. In a notebook the last line of a cell, ``diagrams.lstm_cell()``, shows it
(``Diagram._repr_svg_``); ``.save(path)`` writes the ``.svg`` file. The symbols are the book's
(the notation table of the introduction), the gate order is i, f, g, o, and every colour comes from
:mod:`lstm_edu.display.palette`, the same colours the chapters' plots use.

The SVG is written by hand (no plotting library): text stays text, so a search or a screen reader
finds the labels, and the files are small and the same on every machine. Sub- and superscripts are
written ``c_{t-1}``, ``W_h^k`` in the label strings and become ``<tspan>`` elements.

This module is book code; the models never import it.
"""

from __future__ import annotations

import html
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

from .palette import GATE_COLORS, GATES, STATE_COLORS

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
INK = "#333333"  # lines and text that belong to no gate or state
FRAME = "#9a9a9a"
PAPER = "#f7f7f7"
MINUS = "\u2212"  # a real minus sign in the labels ("t−1", not "t-1")

Point = Tuple[float, float]


@dataclass(frozen=True)
class Diagram:
    """An SVG picture with its alt text.

    ``svg`` is a complete ``<svg>`` document whose ``<title>`` is ``alt``; ``name`` is a short file
    name (without ``.svg``).
    """

    name: str
    svg: str
    alt: str

    def _repr_svg_(self) -> str:  # what Jupyter shows
        return self.svg

    def save(self, path: Union[str, Path]) -> Path:
        """Write the SVG to ``path`` (a file, or a folder where ``<name>.svg`` is written)."""
        path = Path(path)
        if path.is_dir():
            path = path / f"{self.name}.svg"
        path.write_text(self.svg, encoding="utf-8")
        return path


# --- a very small SVG writer ----------------------------------------------------------------------

_SCRIPT = re.compile(r"([_^])(\{[^{}]*\}|.)")


def _rich(text: str) -> str:
    """``"c_{t-1}"`` as escaped SVG text with ``<tspan>`` sub- and superscripts (``-`` becomes "
    "−)."""
    out, pos = [], 0
    for m in _SCRIPT.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        inner = m.group(2)[1:-1] if m.group(2).startswith("{") else m.group(2)
        inner = html.escape(inner.replace("-", MINUS))
        shift = "sub" if m.group(1) == "_" else "super"
        # each script resets the baseline itself: the text after it is back on the line
        out.append(f'<tspan baseline-shift="{shift}" font-size="70%">{inner}</tspan>')
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


@dataclass
class _Canvas:
    width: int
    height: int
    name: str
    items: List[str] = field(default_factory=list)
    markers: dict = field(default_factory=dict)

    def _marker(self, color: str, width: float) -> str:
        """An arrowhead of ``color`` whose size grows slowly with the line's width."""
        size = round(7 + 1.5 * width)
        key = (color, size)
        if key not in self.markers:
            mid = f"{self.name}-arrow-{len(self.markers)}"
            self.markers[key] = (
                f'<marker id="{mid}" viewBox="0 0 10 10" refX="9" refY="5" '
                f'markerUnits="userSpaceOnUse" '
                f'markerWidth="{size}" markerHeight="{size}" orient="auto-start-reverse">'
                f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
            )
        return self.markers[key].split('"')[1]

    def line(
        self,
        points: Sequence[Point],
        color: str = INK,
        width: float = 2.0,
        arrow: bool = True,
        dash: Optional[str] = None,
        halo: Optional[float] = None,
        opacity: float = 1.0,
    ) -> None:
        """A polyline through ``points``; ``arrow`` puts an arrowhead at the end; ``halo`` draws
        a wider white line under it first (so it crosses the lines drawn before with a gap)."""
        pts = " ".join(f"{x:g},{y:g}" for x, y in points)
        if halo:
            self.items.append(
                f'<polyline points="{pts}" fill="none" stroke="#ffffff" '
                f'stroke-width="{halo:g}" stroke-linejoin="round"/>'
            )
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        extra += f' marker-end="url(#{self._marker(color, width)})"' if arrow else ""
        extra += f' stroke-opacity="{opacity:g}"' if opacity < 1 else ""
        self.items.append(
            f'<polyline points="{pts}" fill="none" stroke="{color}" '
            f'stroke-width="{width:g}" stroke-linejoin="round"{extra}/>'
        )

    def path(self, d: str, color: str = INK, width: float = 2.0, arrow: bool = True) -> None:
        extra = f' marker-end="url(#{self._marker(color, width)})"' if arrow else ""
        self.items.append(
            f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{width:g}"{extra}/>'
        )

    def rect(
        self,
        cx: float,
        cy: float,
        w: float,
        h: float,
        fill: str = "#ffffff",
        stroke: str = INK,
        rx: float = 6,
        width: float = 1.5,
    ) -> None:
        self.items.append(
            f'<rect x="{cx - w / 2:g}" y="{cy - h / 2:g}" width="{w:g}" height="{h:g}" '
            f'rx="{rx:g}" fill="{fill}" stroke="{stroke}" stroke-width="{width:g}"/>'
        )

    def text(
        self,
        x: float,
        y: float,
        s: str,
        size: float = 15,
        color: str = INK,
        anchor: str = "middle",
        weight: str = "normal",
        italic: bool = False,
    ) -> None:
        style = ' font-style="italic"' if italic else ""
        self.items.append(
            f'<text x="{x:g}" y="{y:g}" font-size="{size:g}" fill="{color}" '
            f'text-anchor="{anchor}" font-weight="{weight}"{style}>{_rich(s)}</text>'
        )

    def box(
        self,
        cx: float,
        cy: float,
        w: float,
        h: float,
        label: str,
        fill: str = "#ffffff",
        stroke: str = INK,
        color: str = INK,
        size: float = 15,
        rx: float = 6,
    ) -> None:
        """A rectangle centred on (cx, cy) with ``label`` centred in it."""
        self.rect(cx, cy, w, h, fill=fill, stroke=stroke, rx=rx)
        self.text(cx, cy + size * 0.35, label, size=size, color=color)

    def op(self, cx: float, cy: float, symbol: str, stroke: str = INK, r: float = 13) -> None:
        """A round operator node: ``⊙`` (element-wise product) or ``+``."""
        self.items.append(
            f'<circle cx="{cx:g}" cy="{cy:g}" r="{r:g}" fill="#ffffff" '
            f'stroke="{stroke}" stroke-width="2"/>'
        )
        self.text(cx, cy + 5.5, symbol, size=17, color=INK, weight="bold")

    def render(self, alt: str) -> Diagram:
        body = "\n".join(self.items)
        defs = "".join(self.markers.values())
        svg = (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" role="img" '
            f'aria-labelledby="{self.name}-title" font-family="{FONT}">\n'
            f'<title id="{self.name}-title">{html.escape(alt)}</title>\n'
            f"<defs>{defs}</defs>\n"
            f'<rect width="100%" height="100%" fill="#ffffff"/>\n{body}\n</svg>\n'
        )
        return Diagram(name=self.name, svg=svg, alt=alt)


def _legend(
    cv: _Canvas,
    x: float,
    y: float,
    entries: Sequence[Tuple[str, str, Optional[str], float]],
    size: float = 13,
    row: float = 22,
) -> None:
    """Legend rows: (colour, text, dash, line width), a short line then the text."""
    for k, (col, label, dash, width) in enumerate(entries):
        yy = y + k * row
        cv.line([(x, yy - 4), (x + 34, yy - 4)], color=col, width=width, arrow=False, dash=dash)
        cv.text(x + 44, yy, label, size=size, anchor="start")


# --- the diagrams ---------------------------------------------------------------------------------

GATE_LABELS = {"i": "σ(i_t)", "f": "σ(f_t)", "g": "tanh(g_t)", "o": "σ(o_t)"}


def lstm_cell() -> Diagram:
    r"""One LSTM step, with the path of the cell state :math:`c` highlighted.

    :math:`c_{t-1}` runs along the top and meets only an element-wise product with
    :math:`\sigma(f_t)` and a sum with :math:`\sigma(i_t) \odot \tanh(g_t)`; the four gates are
    computed from :math:`[h_{t-1}, x_t]`, one colour each;
    :math:`h_t = \sigma(o_t) \odot \tanh(c_t)`.
    """
    cv = _Canvas(760, 400, "lstm-cell")
    c_col, h_col, x_col = STATE_COLORS["c"], STATE_COLORS["h"], STATE_COLORS["x"]
    cv.rect(360, 185, 540, 310, fill=PAPER, stroke=FRAME, rx=14)
    gate_x = {"f": 190, "i": 285, "g": 380, "o": 475}
    c_y, bus_y, gate_y = 80, 305, 250
    # the c path: a wide pale band under the line marks it out
    cv.line([(20, c_y), (740, c_y)], color=c_col, width=16, arrow=False, opacity=0.25)
    cv.line([(20, c_y), (177, c_y)], color=c_col, width=5, arrow=False)
    cv.line([(203, c_y), (319, c_y)], color=c_col, width=5, arrow=False)
    cv.line([(345, c_y), (735, c_y)], color=c_col, width=5)
    cv.text(20, c_y - 14, "c_{t-1}", anchor="start", color=INK)
    cv.text(740, c_y - 14, "c_t", anchor="end", color=INK)
    cv.text(
        262,
        52,
        "c path: ⊙ σ(f_t), then + (no weight matrix, no squashing)",
        size=13,
        color="#9a5b00",
        anchor="start",
    )
    # the input bus [h_{t-1}, x_t] and the four gates
    cv.line([(20, bus_y), (gate_x["o"], bus_y)], color=h_col, width=3, arrow=False)
    cv.text(20, bus_y - 10, "h_{t-1}", anchor="start")
    cv.line([(120, 392), (120, bus_y)], color=x_col, width=3, arrow=False)
    cv.text(130, 388, "x_t", anchor="start")
    cv.text(300, 334, "each gate: W · [h_{t-1}, x_t] + b, then σ or tanh", size=12, color="#555555")
    for k in GATES:
        gx = gate_x[k]
        cv.line([(gx, bus_y), (gx, gate_y + 21)], color=INK, width=1.5)
        cv.box(
            gx,
            gate_y,
            84,
            38,
            GATE_LABELS[k],
            fill=GATE_COLORS[k],
            stroke=GATE_COLORS[k],
            color="#ffffff",
            size=14,
        )
    # forget: c_{t-1} ⊙ σ(f_t)
    cv.line(
        [(gate_x["f"], gate_y - 19), (gate_x["f"], c_y + 15)], color=GATE_COLORS["f"], width=2.5
    )
    cv.op(gate_x["f"], c_y, "⊙", stroke=c_col)
    # write: σ(i_t) ⊙ tanh(g_t), added to c
    wx, wy = 332, 165
    cv.line(
        [(gate_x["i"], gate_y - 19), (gate_x["i"], wy), (wx - 15, wy)],
        color=GATE_COLORS["i"],
        width=2.5,
    )
    cv.line(
        [(gate_x["g"], gate_y - 19), (gate_x["g"], wy), (wx + 15, wy)],
        color=GATE_COLORS["g"],
        width=2.5,
    )
    cv.op(wx, wy, "⊙")
    cv.line([(wx, wy - 13), (wx, c_y + 15)], color=INK, width=2.5)
    cv.op(wx, c_y, "+", stroke=c_col)
    # output: h_t = σ(o_t) ⊙ tanh(c_t)
    ox = 580
    cv.line([(ox, c_y), (ox, 133)], color=c_col, width=2.5)
    cv.box(ox, 150, 58, 30, "tanh", stroke=INK, size=14)
    cv.line([(ox, 165), (ox, gate_y - 15)], color=INK, width=2.5)
    cv.line([(gate_x["o"] + 42, gate_y), (ox - 15, gate_y)], color=GATE_COLORS["o"], width=2.5)
    cv.op(ox, gate_y, "⊙")
    cv.line([(ox, gate_y + 13), (ox, bus_y), (735, bus_y)], color=h_col, width=3)
    cv.text(740, bus_y - 10, "h_t", anchor="end")
    cv.text(650, bus_y + 22, "output; the next step's h_{t-1}", size=12, color="#555555")
    alt = (
        "Diagram of one LSTM step. The cell state c_{t-1} enters at the top left and runs straight "
        "across the cell, highlighted in orange: it is multiplied element-wise by the forget gate "
        "σ(f_t), then σ(i_t) ⊙ tanh(g_t) is added, and it leaves as c_t; no weight matrix and no "
        "squashing function touches it. The hidden state h_{t-1} and the input x_t join at the "
        "bottom "
        "and feed four coloured gate boxes, σ(i_t), σ(f_t), tanh(g_t) and σ(o_t), each a weight "
        "matrix times [h_{t-1}, x_t] plus a bias. On the right, tanh(c_t) is multiplied by σ(o_t) "
        "to give h_t, the output."
    )
    return cv.render(alt)


def lstm_unrolled(n_shown: int = 3) -> Diagram:
    r"""The LSTM unrolled over :math:`T` steps, with the two ways the gradient of :math:`L_T`
    flows back to the initial state.

    Along :math:`c` each step multiplies the gradient by :math:`\sigma(f_t)` (element-wise, no
    matrix); along :math:`h` each step multiplies it by a Jacobian that contains the recurrent
    weights :math:`W_h` and the derivatives of the gates. ``n_shown`` steps are drawn before the
    dots and step :math:`T`.
    """
    if not isinstance(n_shown, int) or not 1 <= n_shown <= 4:
        raise ValueError(
            f"n_shown must be an int from 1 to 4 (steps drawn before the dots), got {n_shown!r}"
        )
    c_col, h_col, x_col, grad = (STATE_COLORS[k] for k in ("c", "h", "x", "gradient"))
    cell_w, pitch, left = 80, 150, 160
    xs = [left + k * pitch for k in range(n_shown)]
    dots_x = xs[-1] + 115
    xs.append(dots_x + 115)  # step T
    steps = [str(k + 1) for k in range(n_shown)] + ["T"]
    width = xs[-1] + 190
    cv = _Canvas(width, 330, "lstm-unrolled")
    c_y, h_y, top, bottom = 100, 170, 65, 205
    # forward: the cells, c along the top, h along the bottom, x from below
    for k, (cx, s) in enumerate(zip(xs, steps)):
        cv.rect(cx, (top + bottom) / 2, cell_w, bottom - top, fill=PAPER, stroke=FRAME, rx=10)
        cv.text(cx, 140, "LSTM", size=13, color="#555555")
        cv.text(cx, 157, f"t = {s}", size=12, color="#555555")
        cv.line([(cx, 262), (cx, bottom + 2)], color=x_col, width=2)
        cv.text(cx, 282, f"x_{s}", size=15)
    segments = [(40, xs[0] - cell_w / 2)]
    segments += [(xs[k] + cell_w / 2, xs[k + 1] - cell_w / 2) for k in range(len(xs) - 1)]
    for k, (a, b) in enumerate(segments):
        if k == len(segments) - 1 and n_shown >= 1:  # the gap with the dots
            cv.line([(a, c_y), (dots_x - 22, c_y)], color=c_col, width=4, arrow=False)
            cv.line([(dots_x + 22, c_y), (b, c_y)], color=c_col, width=4)
            cv.line([(a, h_y), (dots_x - 22, h_y)], color=h_col, width=3, arrow=False)
            cv.line([(dots_x + 22, h_y), (b, h_y)], color=h_col, width=3)
            cv.text(dots_x, c_y + 5, "⋯", size=18)
            cv.text(dots_x, h_y + 5, "⋯", size=18)
            continue
        cv.line([(a, c_y), (b, c_y)], color=c_col, width=4)
        cv.line([(a, h_y), (b, h_y)], color=h_col, width=3)
    cv.text(34, c_y + 5, "c_0", anchor="end")
    cv.text(34, h_y + 5, "h_0", anchor="end")
    end = xs[-1] + cell_w / 2
    cv.line([(end, c_y), (end + 40, c_y)], color=c_col, width=4)
    cv.text(end + 46, c_y + 5, "c_T", anchor="start")
    cv.line([(end, h_y), (end + 70, h_y)], color=h_col, width=3)
    cv.box(end + 110, h_y, 70, 36, "L_T", stroke=grad, color=grad, size=16)
    cv.text(end + 110, h_y + 36, "loss at step T", size=11, color="#555555")
    # backward: the gradient of L_T, dashed red, along c (⊙ σ(f_t)) and along h (× a matrix).
    # L_T reads h_T only: from the loss back into step T the gradient enters along h.
    cv.line([(end + 69, h_y + 18), (end + 6, h_y + 18)], color=grad, width=2, dash="6 4")
    for k, (a, b) in enumerate(segments):
        if k == len(segments) - 1:
            b = dots_x - 22  # the gap with the dots: arrows and labels left of the dots
            cv.line(
                [(segments[k][1] - 6, c_y - 18), (dots_x + 24, c_y - 18)],
                color=grad,
                width=2,
                dash="6 4",
                arrow=False,
            )
            cv.line(
                [(segments[k][1] - 6, h_y + 18), (dots_x + 24, h_y + 18)],
                color=grad,
                width=2,
                dash="6 4",
                arrow=False,
            )
        cv.line([(b - 6, c_y - 18), (a + 6, c_y - 18)], color=grad, width=2, dash="6 4")
        cv.line([(b - 6, h_y + 18), (a + 6, h_y + 18)], color=grad, width=2, dash="6 4")
        cv.text((a + b) / 2, c_y - 27, "⊙ σ(f)", size=12, color=grad)
        cv.text((a + b) / 2, h_y + 38, "× W_h …", size=12, color=grad)
    cv.text(
        40,
        318,
        "Dashed: the gradient of L_T flowing back. Along c, one ⊙ σ(f_t) per step; "
        "along h, a matrix with W_h and σ′, tanh′ per step.",
        size=12,
        anchor="start",
    )
    alt = (
        "Diagram of an LSTM unrolled over time: identical LSTM cells for steps 1, 2, 3, and so "
        "on up to "
        "step T, side by side. The cell state c runs along the top from c_0 to c_T (orange), the "
        "hidden state h along the bottom from h_0 to h_T (blue), and each cell reads its input x_t "
        "from below. h_T feeds the loss L_T on the right. Dashed red arrows show the gradient "
        "of L_T "
        "flowing back to the start: along c it is multiplied at every step only by the forget gate "
        "σ(f_t), element by element; along h it is multiplied at every step by a matrix that "
        "contains "
        "the recurrent weights W_h and the derivatives of the gates."
    )
    return cv.render(alt)


def hyper_lstm() -> Diagram:
    r"""One step of the HyperLSTM for one gate :math:`k`: hyper cell → :math:`z` → :math:`d` →
    the main cell's gate.

    The hyper cell reads :math:`\hat x_t = [h_{t-1}; x_t]` and updates :math:`\hat h, \hat c`;
    :math:`\hat h_t` gives :math:`z_h, z_x, z_b`; per gate, :math:`d_h^k = W_{hz}^k z_h`,
    :math:`d_x^k = W_{xz}^k z_x`, :math:`b^k = W_{bz}^k z_b + b_0^k`; the gate's pre-activation is
    :math:`\mathrm{LN}(d_h^k \odot (W_h^k h_{t-1}) + d_x^k \odot (W_x^k x_t) + b^k)`.
    """
    cv = _Canvas(800, 440, "hyper-lstm")
    hy, h_col, x_col = STATE_COLORS["hyper"], STATE_COLORS["h"], STATE_COLORS["x"]
    pale = "#f1ebf7"
    # the hyper lane
    cv.rect(400, 100, 770, 176, fill="#fbf9fd", stroke=hy, rx=14)
    cv.text(
        30,
        178,
        "hyper cell: a small LSTM that writes the scales",
        size=13,
        color=hy,
        anchor="start",
    )
    cv.line([(30, 100), (138, 100)], color=INK, width=2)
    cv.text(30, 130, "x̂_t = [h_{t-1}; x_t]", size=14, anchor="start")
    cv.rect(210, 100, 140, 56, fill=pale, stroke=hy, rx=8)
    cv.text(210, 96, "hyper cell", size=15, color=hy)
    cv.text(210, 116, "state ĥ, ĉ", size=13, color=hy)
    cv.path("M 250 72 C 256 36, 164 36, 170 68", color=hy, width=2)
    cv.text(210, 36, "ĥ_{t-1}, ĉ_{t-1}", size=12, color=hy)
    cv.line([(280, 100), (318, 100)], color=hy, width=2.5, arrow=False)
    cv.text(299, 92, "ĥ_t", size=14, color=hy)
    # rows, top to bottom: z_b, z_x, z_h. The row that reaches farthest right is on top, so the
    # lines that come down from the rows cross no other row.
    dh_x, dx_x, b_x = 560, 640, 715
    rows = [
        ("z_b", "W_{bz}^k z_b + b_0^k", "b^k", 50, b_x, 138),
        ("z_x", "W_{xz}^k z_x", "d_x^k", 100, dx_x, 110),
        ("z_h", "W_{hz}^k z_h", "d_h^k", 150, dh_x, 110),
    ]
    for z, w, d, y, drop, w_width in rows:
        cv.line([(318, 100), (318, y), (346, y)], color=hy, width=2)
        cv.box(376, y, 54, 28, z, fill=pale, stroke=hy, color=hy, size=14)
        cv.line([(403, y), (425, y)], color=hy, width=2)
        cv.box(428 + w_width / 2, y, w_width, 28, w, stroke=hy, color=hy, size=13)
        cv.line([(428 + w_width, y), (drop, y)], color=hy, width=2.5, arrow=False)
        cv.text(drop + 8, y + 5, d, size=14, color=hy, anchor="start")
    # the main cell, gate k
    cv.rect(400, 330, 770, 180, fill=PAPER, stroke=FRAME, rx=14)
    cv.text(30, 262, "main cell, gate k ∈ {i, f, g, o}", size=13, color="#555555", anchor="start")
    for j, k in enumerate(GATES):
        cv.rect(256 + 16 * j, 257, 12, 12, fill=GATE_COLORS[k], stroke=GATE_COLORS[k], rx=2)
    hx_y, xx_y, sum_y = 300, 370, 335
    cv.text(30, hx_y + 5, "h_{t-1}", anchor="start")
    cv.line([(92, hx_y), (168, hx_y)], color=h_col, width=3)
    cv.box(210, hx_y, 80, 32, "W_h^k", size=15)
    cv.text(30, xx_y + 5, "x_t", anchor="start")
    cv.line([(92, xx_y), (168, xx_y)], color=x_col, width=3)
    cv.box(210, xx_y, 80, 32, "W_x^k", size=15)
    cv.text(210, 408, "fixed, learned matrices", size=11, color="#555555")
    # the scales come down from the hyper lane
    cv.line([(dh_x, 150), (dh_x, hx_y - 14)], color=hy, width=2.5)
    cv.line([(dx_x, 100), (dx_x, xx_y - 14)], color=hy, width=2.5)
    cv.line([(b_x, 50), (b_x, sum_y - 14)], color=hy, width=2.5)
    cv.line([(250, hx_y), (546, hx_y)], color=INK, width=2)
    cv.line([(250, xx_y), (626, xx_y)], color=INK, width=2)
    cv.op(dh_x, hx_y, "⊙", stroke=hy)
    cv.op(dx_x, xx_y, "⊙", stroke=hy)
    # h's product crosses the line of d_x on its way to the sum: drawn with a gap
    cv.line([(dh_x + 13, hx_y), (680, hx_y), (b_x - 10, sum_y - 9)], color=INK, width=2, halo=9)
    cv.line([(dx_x + 13, xx_y), (680, xx_y), (b_x - 10, sum_y + 9)], color=INK, width=2)
    cv.op(b_x, sum_y, "+")
    cv.line([(b_x + 13, sum_y), (b_x + 22, sum_y)], color=INK, width=2, arrow=False)
    cv.box(b_x + 41, sum_y, 38, 28, "LN", size=13)
    cv.text(b_x + 41, sum_y - 24, "k_t", size=15)
    cv.text(
        470,
        408,
        "then c_t, h_t as in the LSTM, with h_t = σ(o_t) ⊙ tanh(LN(c_t))",
        size=12,
        color="#555555",
    )
    alt = (
        "Diagram of one HyperLSTM step for one gate k, which is one of i, f, g, o. Top, in violet: "
        "the hyper cell, a small LSTM with its own state ĥ and ĉ, reads x̂_t = [h_{t-1}; x_t] and "
        "outputs ĥ_t. Linear maps turn ĥ_t into three small vectors z_h, z_x and z_b; for gate k, "
        "W_hz^k maps z_h to the scaling vector d_h^k, W_xz^k maps z_x to d_x^k, and W_bz^k "
        "with b_0^k "
        "maps z_b to the bias b^k. Bottom, the main cell's gate: W_h^k h_{t-1} is multiplied "
        "element-wise by d_h^k, W_x^k x_t by d_x^k, the two are added to b^k, and layer "
        "normalisation (LN) gives the pre-activation k_t. The cell state and hidden state are then "
        "updated as in the LSTM."
    )
    return cv.render(alt)


def _diverging(v: float, vmax: float) -> str:
    """Blue for negative, white at 0, red for positive (a colour per weight, not per gate)."""
    a = max(-1.0, min(1.0, v / vmax))
    base = (178, 24, 43) if a > 0 else (33, 102, 172)
    r, g, b = (round(255 + (ch - 255) * abs(a)) for ch in base)
    return f"#{r:02x}{g:02x}{b:02x}"


def row_scaling(n_h: int = 6, n_z: int = 3, seed: int = 4) -> Diagram:
    r"""Row scaling: :math:`W_h(z) = \operatorname{diag}(d)\, W_h` with :math:`d = W_{hz} z`.

    Drawn with small random numbers (``seed`` for Python's ``random``): the feature vector
    :math:`z` (:math:`N_z` numbers) gives the scaling vector :math:`d` (:math:`N_h` numbers), and
    row
    :math:`i` of the fixed :math:`W_h` is multiplied by :math:`d_i`, so each row of
    :math:`W_h(z)` keeps its direction and changes only its length and sign.
    """
    if not (isinstance(n_h, int) and 2 <= n_h <= 10 and isinstance(n_z, int) and 1 <= n_z <= n_h):
        raise ValueError(
            f"expected 2 <= n_h <= 10 and 1 <= n_z <= n_h (ints), got n_h={n_h!r}, n_z={n_z!r}"
        )
    rng = random.Random(seed)
    w_h = [[rng.uniform(-1, 1) for _ in range(n_h)] for _ in range(n_h)]
    w_hz = [[rng.uniform(-1, 1) for _ in range(n_z)] for _ in range(n_h)]
    z = [rng.uniform(-1, 1) for _ in range(n_z)]
    d = [sum(w_hz[i][m] * z[m] for m in range(n_z)) for i in range(n_h)]
    scaled = [[d[i] * w_h[i][j] for j in range(n_h)] for i in range(n_h)]
    vmax = max(abs(v) for row in w_h + scaled for v in row)
    hy = STATE_COLORS["hyper"]
    s = 24  # cell size
    top = 50
    height = top + n_h * s + 110
    cv = _Canvas(760, height, "row-scaling")

    def grid(
        x0: float,
        values: Sequence[Sequence[float]],
        vm: float,
        numbers: bool = False,
        cw: float = s,
    ) -> None:
        for i, row in enumerate(values):
            for j, v in enumerate(row):
                cx, cy = x0 + j * cw + cw / 2, top + i * s + s / 2
                cv.rect(cx, cy, cw, s, fill=_diverging(v, vm), stroke="#ffffff", rx=0, width=1)
                if numbers:
                    ink = "#ffffff" if abs(v) > 0.6 * vm else INK  # readable on a dark cell
                    cv.text(cx, cy + 4, f"{v:+.1f}".replace("-", MINUS), size=11, color=ink)

    mid = top + n_h * s / 2
    # d = W_hz z
    x = 20
    grid(x, w_hz, 1.0)
    cv.text(x + n_z * s / 2, top - 12, "W_{hz}", size=15, color=hy)
    cv.text(x + n_z * s / 2, top + n_h * s + 20, "N_h × N_z", size=11, color="#555555")
    x += n_z * s + 12
    grid(x, [[v] for v in z], 1.0)
    cv.text(x + s / 2, top - 12, "z", size=15, color=hy)
    cv.text(x + s / 2, top + n_z * s + 18, "N_z", size=11, color="#555555")
    x += s + 14
    cv.text(x + 8, mid + 6, "=", size=20)
    x += 26
    dmax = max(abs(v) for v in d)
    grid(x, [[v] for v in d], dmax, numbers=True, cw=44)
    cv.text(x + 22, top - 12, "d", size=15, color=hy)
    cv.text(x + 22, top + n_h * s + 20, "N_h", size=11, color="#555555")
    # W_h(z) = diag(d) W_h
    x += 44 + 36
    cv.text(x, mid + 6, "diag(d)", size=15, anchor="start")
    x += 110
    wx = x
    grid(wx, w_h, vmax)
    cv.text(wx + n_h * s / 2, top - 12, "W_h (fixed)", size=15)
    for i in range(n_h):
        cv.text(wx - 6, top + i * s + s / 2 + 4, f"× d_{i + 1}", size=10.5, color=hy, anchor="end")
    x = wx + n_h * s + 16
    cv.text(x + 8, mid + 6, "=", size=20)
    x += 30
    grid(x, scaled, vmax)
    cv.text(x + n_h * s / 2, top - 12, "W_h(z)", size=15)
    cv.text(
        x + n_h * s / 2, top + n_h * s + 20, "row i = d_i × row i of W_h", size=11, color="#555555"
    )
    base = top + n_h * s + 52
    cv.text(
        20,
        base,
        "Each row keeps its pattern and changes only its size and sign (a negative d_i flips it).",
        size=13,
        anchor="start",
    )
    cv.text(
        20,
        base + 24,
        "In the cell: W_h(z) h_{t-1} = d ⊙ (W_h h_{t-1}), so W_h(z) is never built.",
        size=13,
        anchor="start",
    )
    cv.text(
        20,
        base + 46,
        "Colour: red positive, blue negative, white zero (one scale for W_h and W_h(z)).",
        size=11,
        anchor="start",
        color="#555555",
    )
    alt = (
        f"Diagram of row scaling with N_h = {n_h} and N_z = {n_z}. On the left, the matrix W_hz "
        f"({n_h} by {n_z}) times the feature vector z ({n_z} numbers) gives the scaling vector d "
        f"({n_h} numbers, printed in its cells). On the right, diag(d) times the fixed matrix W_h "
        f"({n_h} by {n_h}, drawn as coloured squares, red positive and blue negative) equals "
        f"W_h(z): "
        "row i of W_h(z) is row i of W_h multiplied by d_i, so every row keeps its pattern of "
        "colours "
        "and only becomes stronger, fainter, or flipped in sign where d_i is negative. In the "
        "cell, "
        "W_h(z) h = d ⊙ (W_h h), so the scaled matrix is never built."
    )
    return cv.render(alt)


#: Every diagram of the book, by name.
ALL = {
    "lstm-cell": lstm_cell,
    "lstm-unrolled": lstm_unrolled,
    "hyper-lstm": hyper_lstm,
    "row-scaling": row_scaling,
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m lstm_edu.display.diagrams FOLDER``: write every diagram as "
    "``FOLDER/<name>.svg``."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("folder", type=Path)
    args = ap.parse_args(argv)
    args.folder.mkdir(parents=True, exist_ok=True)
    for make in ALL.values():
        print(make().save(args.folder))
    return 0


__all__ = ["Diagram", "lstm_cell", "lstm_unrolled", "hyper_lstm", "row_scaling", "ALL"]

if __name__ == "__main__":
    raise SystemExit(main())
