"""Write the standard setup cell (the first code cell) into the book's notebooks.

The cell installs ``lstm_edu`` from the repository named in ``_config.yml`` (``repository.url``,
``repository.branch``: the one place the URL is set) when ``import lstm_edu`` fails, as in Colab
or Binder, and does nothing where the package is installed. It is tagged ``nbval-ignore-output``.

    python tools/first_cell.py book/03_lstm_from_scratch.ipynb   # one chapter
    python tools/first_cell.py                                   # every notebook in _toc.yml
    python tools/first_cell.py --check                           # exit 1 if any would change

An existing setup cell (recognised by its first line) is replaced in place; otherwise the cell is
inserted before the first code cell. A changed or inserted cell has no output yet: run
``make execute NB=...`` afterwards. ``tests/test_first_cell.py`` checks every chapter.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import booktoc  # noqa: E402

ROOT = booktoc.ROOT
MARKER = "# Setup: installs the book's package, lstm_edu, when it is missing (Colab, Binder)."
TAGS = ["nbval-ignore-output"]


def repository(config: Path = ROOT / "_config.yml") -> tuple[str, str]:
    """``(url, branch)`` from the ``repository:`` block of ``_config.yml`` (no YAML library needed)."""
    url = branch = None
    in_block = False
    for line in config.read_text(encoding="utf-8").splitlines():
        if re.match(r"^repository\s*:", line):
            in_block = True
            continue
        if in_block and line and not line[0].isspace() and not line.startswith("#"):
            break
        m = re.match(r"^\s+(url|branch)\s*:\s*['\"]?([^'\"#\s]+)", line) if in_block else None
        if m and m.group(1) == "url":
            url = m.group(2)
        elif m:
            branch = m.group(2)
    if not url:
        raise ValueError(f"{config} has no repository.url")
    return url.rstrip("/"), branch or "main"


def cell_source(config: Path = ROOT / "_config.yml") -> str:
    url, branch = repository(config)
    spec = f"lstm_edu @ git+{url}@{branch}"
    return "\n".join([
        MARKER,
        "try:",
        "    import lstm_edu",
        "except ImportError:",
        "    import importlib, subprocess, sys",
        f'    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{spec}"], check=True)',
        "    importlib.invalidate_caches()",
        "    import lstm_edu",
    ])


def is_setup_cell(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith(MARKER.split(",")[0])


def apply(nb, source: str) -> bool:
    """Put the setup cell first among the code cells of ``nb``; return whether ``nb`` changed."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    if code and is_setup_cell(nb.cells[code[0]]):
        cell = nb.cells[code[0]]
        tags = cell.metadata.get("tags", [])
        if cell.source == source and all(t in tags for t in TAGS):
            return False
        if cell.source != source:
            cell.source = source
            cell.outputs = []
            cell.execution_count = None
        cell.metadata["tags"] = tags + [t for t in TAGS if t not in tags]
        return True
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(TAGS)})
    nb.cells.insert(code[0] if code else len(nb.cells), cell)
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in the toc")
    ap.add_argument("--toc", help="table of contents (default: $BOOK_TOC or _toc.yml)")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook would change")
    args = ap.parse_args(argv)
    paths = args.notebooks or booktoc.notebooks(args.toc)
    source = cell_source()
    changed = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if apply(nb, source):
            changed.append(path)
            if not args.check:
                nbformat.write(nb, path)
    for path in changed:
        verb = "needs the setup cell" if args.check else "setup cell written; run `make execute NB=...`"
        print(f"{path}: {verb}")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
