"""Write the standard setup cell (the first code cell) into the book's notebooks, and fold the
setup and settings cells away on the page.

The setup cell installs ``lstm_edu`` from the repository named in ``_config.yml``
(``repository.url``, ``repository.branch``: the one place the URL is set) when ``import lstm_edu``
fails, as in Colab or Binder, and does nothing where the package is installed. It is tagged
``nbval-ignore-output`` and ``hide-input``; the settings cell after it (the one that prints
``settings.describe()``) gets ``hide-input`` too. On the page both show only their output, with a
"show code" toggle: a reader meets the chapter, not its plumbing.

    python tools/first_cell.py book/03_lstm_from_scratch.ipynb   # one chapter
    python tools/first_cell.py                                   # every notebook in _toc.yml
    python tools/first_cell.py --check                           # exit 1 if any would change

An existing setup cell (recognised by its first line) is replaced in place; otherwise the cell is
inserted before the first code cell. An inserted cell, or a changed one that had printed something,
has no output yet: run ``make execute NB=...`` afterwards. A changed cell that had printed nothing
keeps its execution count: where the package is installed the cell prints nothing whatever its
text, so the stored run still is what a new run would store. Only these two cells are touched.
``tests/test_first_cell.py`` checks every chapter.
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
TAGS = ["nbval-ignore-output", "hide-input"]
SETTINGS_TAGS = ["hide-input"]
SETTINGS_MARK = "settings.describe()"


def repository(config: Path = ROOT / "_config.yml") -> tuple[str, str]:
    """``(url, branch)`` from the ``repository:`` block of ``_config.yml`` (no YAML library)."""
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
        f'    spec = "{spec}"',
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", spec], check=True)',
        "    importlib.invalidate_caches()",
        "    import lstm_edu",
    ])


def is_setup_cell(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith(MARKER.split(",")[0])


def _add_tags(cell, tags) -> bool:
    have = cell.metadata.get("tags", [])
    missing = [t for t in tags if t not in have]
    if missing:
        cell.metadata["tags"] = have + missing
    return bool(missing)


def is_settings_cell(cell) -> bool:
    return cell.cell_type == "code" and SETTINGS_MARK in cell.source


def apply(nb, source: str) -> bool:
    """Put the setup cell first among the code cells of ``nb`` and tag it and the settings cell;
    return whether ``nb`` changed."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    changed = False
    if code and is_setup_cell(nb.cells[code[0]]):
        cell = nb.cells[code[0]]
        if cell.source != source:
            cell.source = source
            if cell.get("outputs"):  # it printed something: that output belongs to the old text
                cell.outputs = []
                cell.execution_count = None
            changed = True
        changed |= _add_tags(cell, TAGS)
    else:
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(TAGS)})
        nb.cells.insert(code[0] if code else len(nb.cells), cell)
        changed = True
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    if len(code) > 1 and is_settings_cell(nb.cells[code[1]]):
        changed |= _add_tags(nb.cells[code[1]], SETTINGS_TAGS)
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in the toc")
    ap.add_argument("--toc", help="table of contents (default: $BOOK_TOC or _toc.yml)")
    ap.add_argument("--check", action="store_true",
                    help="change nothing; exit 1 if a notebook would change")
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
        verb = ("needs the setup cell or its tags" if args.check else
                "setup and settings cells updated (an emptied cell needs `make execute NB=...`)")
        print(f"{path}: {verb}")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
