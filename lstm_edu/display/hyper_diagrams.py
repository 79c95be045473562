"""The HyperLSTM's diagrams, drawn as SVG from code: the HyperLSTM (hyper cell -> z -> d -> the
main cell's gates) and row scaling (d scaling the rows of W_h). Re-exported by
:mod:`lstm_edu.display.diagrams`, which holds the LSTM's and says how they are drawn."""

from __future__ import annotations

import random
from typing import Sequence

from .palette import GATE_COLORS, GATES, STATE_COLORS
from .svg import FRAME, INK, MINUS, PAPER, Diagram, _Canvas


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
