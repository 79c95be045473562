"""The book's pages, in reading order, read from ``_toc.yml`` with the standard library only.

``execute.py`` must run on a GPU machine that has no PyYAML, so this reads the two keys our table
of contents uses (``root:`` and ``file:``); ``tests/test_first_cell.py`` checks that it agrees
with a real YAML parse. Globs, URLs and ``sections`` nesting are not used in this book.

    python tools/booktoc.py                 # every page (book/intro.md, book/01_....ipynb, ...)
    python tools/booktoc.py --notebooks     # only the notebooks
    python tools/booktoc.py --toc other.yml --notebooks
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TOC = "_toc.yml"
SUFFIXES = (".ipynb", ".md")
_ENTRY = re.compile(r"^\s*(?:-\s+)?(root|file)\s*:\s*['\"]?([^'\"#\s]+)['\"]?\s*(?:#.*)?$")


def toc_path(toc: str | os.PathLike | None = None) -> Path:
    """The toc in use: the argument, else ``$BOOK_TOC`` (set by ``make ... TOC=...``), else
    ``_toc.yml``."""
    path = Path(toc or os.environ.get("BOOK_TOC") or DEFAULT_TOC)
    return path if path.is_absolute() else ROOT / path


def entries(toc: str | os.PathLike | None = None) -> list[str]:
    """The toc's ``root`` and ``file`` entries in reading order, as written (no suffix)."""
    out = []
    for line in toc_path(toc).read_text(encoding="utf-8").splitlines():
        m = _ENTRY.match(line)
        if m:
            out.append(m.group(2))
    return out


def resolve(entry: str) -> Path | None:
    """The file a toc entry names (``book/02_lstm_cell`` -> ``book/02_lstm_cell.ipynb``), or
    None."""
    base = ROOT / entry
    if base.suffix in SUFFIXES and base.is_file():
        return base
    for suffix in SUFFIXES:
        if base.with_name(base.name + suffix).is_file():
            return base.with_name(base.name + suffix)
    return None


def pages(toc: str | os.PathLike | None = None) -> list[Path]:
    """Every page's file; raises FileNotFoundError naming the entries that have no file."""
    found = [(e, resolve(e)) for e in entries(toc)]
    missing = [e for e, p in found if p is None]
    if missing:
        raise FileNotFoundError(f"{toc_path(toc).name} lists pages with no .ipynb or .md file: "
                                f"{', '.join(missing)}")
    return [p for _, p in found]


def notebooks(toc: str | os.PathLike | None = None) -> list[Path]:
    return [p for p in pages(toc) if p.suffix == ".ipynb"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--toc", help="table of contents (default: $BOOK_TOC or _toc.yml)")
    ap.add_argument("--notebooks", action="store_true", help="list only the .ipynb pages")
    args = ap.parse_args(argv)
    try:
        files = notebooks(args.toc) if args.notebooks else pages(args.toc)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("\n".join(str(p.relative_to(ROOT)) for p in files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
