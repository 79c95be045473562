"""List the figures of the book's notebooks that have no alt text, or give one a figure.

A notebook figure gets its alt text from its cell's metadata, which myst-nb reads when it builds
the page (every image the cell outputs gets it)::

    "metadata": {"mystnb": {"image": {"alt": "Line plot of ... : what a reader should see"}}}

In Jupyter, edit it in the cell's metadata (the property inspector, gear icon), or use this tool:

    python tools/alt_text.py                      # list the figures without alt text; exit 1 if any
    python tools/alt_text.py book/05_looking_inside.ipynb --cell 12 --alt "Heat map of ..."

``--cell`` is the cell's index as the listing prints it. Setting the metadata needs no re-execution:
the outputs stay as they are. ``tests/browser`` fails on a page whose figure has no alt text.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import booktoc  # noqa: E402

IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")


def alt_of(cell) -> str:
    return str(cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")).strip()


def figures_without_alt(path: Path) -> list[tuple[int, str]]:
    """``(cell index, its last line)`` for each code cell that outputs an image but has no alt."""
    nb = nbformat.read(path, as_version=4)
    missing = []
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or alt_of(cell):
            continue
        if any(m in out.get("data", {}) for out in cell.get("outputs", []) for m in IMAGE_MIMES):
            last = cell.source.strip().splitlines()[-1] if cell.source.strip() else ""
            missing.append((k, last))
    return missing


def set_alt(path: Path, index: int, alt: str) -> None:
    nb = nbformat.read(path, as_version=4)
    if not 0 <= index < len(nb.cells) or nb.cells[index].cell_type != "code":
        raise SystemExit(
            f"{path}: cell {index} is not a code cell (the notebook has {len(nb.cells)} cells)"
        )
    if not alt.strip():
        raise SystemExit("--alt must say what the figure shows, got an empty text")
    cell = nb.cells[index]
    cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = alt.strip()
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in the toc")
    ap.add_argument("--cell", type=int, help="the index of the cell to give --alt")
    ap.add_argument("--alt", help="the alt text: what the figure shows, in a sentence or two")
    args = ap.parse_args(argv)
    if (args.cell is None) != (args.alt is None):
        ap.error("--cell and --alt go together")
    if args.alt is not None:
        if len(args.notebooks) != 1:
            ap.error("name exactly one notebook with --cell and --alt")
        set_alt(args.notebooks[0], args.cell, args.alt)
        return 0
    paths = args.notebooks or [
        p for e in booktoc.entries() if (p := booktoc.resolve(e)) and p.suffix == ".ipynb"
    ]
    n = 0
    for path in paths:
        for k, last in figures_without_alt(path):
            n += 1
            name = path.relative_to(booktoc.ROOT) if path.is_absolute() else path
            print(f"{name}: cell {k}: {last}")
    print(f"{n} figure cell(s) without alt text" if n else "every figure has an alt text")
    return 1 if n else 0


if __name__ == "__main__":
    sys.exit(main())
