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

from pathlib import Path
from typing import Optional, Sequence

from .hyper_diagrams import hyper_lstm, row_scaling
from .palette import GATE_COLORS, GATES, STATE_COLORS
from .svg import FRAME, INK, PAPER, Diagram, _Canvas

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
