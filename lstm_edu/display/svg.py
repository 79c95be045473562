"""A very small SVG writer for the book's diagrams (:mod:`lstm_edu.display.diagrams`): a
:class:`Diagram` (SVG text, alt text, name), a canvas that draws boxes, lines, arrows and labels
with sub- and superscripts, and legend rows. Text stays text, so a screen reader finds
the labels."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

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

    def rect(self, cx: float, cy: float, w: float, h: float, fill: str = "#ffffff",
             stroke: str = INK, rx: float = 6, width: float = 1.5) -> None:
        self.items.append(
            f'<rect x="{cx - w / 2:g}" y="{cy - h / 2:g}" width="{w:g}" height="{h:g}" '
            f'rx="{rx:g}" fill="{fill}" stroke="{stroke}" stroke-width="{width:g}"/>'
        )

    def text(self, x: float, y: float, s: str, size: float = 15, color: str = INK,
             anchor: str = "middle", weight: str = "normal", italic: bool = False) -> None:
        style = ' font-style="italic"' if italic else ""
        self.items.append(
            f'<text x="{x:g}" y="{y:g}" font-size="{size:g}" fill="{color}" '
            f'text-anchor="{anchor}" font-weight="{weight}"{style}>{_rich(s)}</text>'
        )

    def box(self, cx: float, cy: float, w: float, h: float, label: str, fill: str = "#ffffff",
            stroke: str = INK, color: str = INK, size: float = 15, rx: float = 6) -> None:
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


