"""Student handouts and answer keys, made from the chapters as they are.

    python tools/handouts.py                      # every chapter in _toc.yml -> _build/handouts/
    python tools/handouts.py book/02_lstm_cell.ipynb --out /tmp/handouts
    python tools/handouts.py --summary            # per chapter: exercises, kinds, checkers
    make handouts

A chapter is a notebook of the table of contents whose file name starts with its number
(``book/02_lstm_cell.ipynb``). For each one this writes

- ``students/NN_name.ipynb``: the chapter with every solution removed (the ``{solution}``
  directives, and everything between ``{solution-start}`` and ``{solution-end}``, Markdown and
  code),
  every output cleared; the install cell, the exercise texts, the code exercises' skeleton cells
  (a function that raises ``NotImplementedError``) and their checker calls are kept. Each
  ``{exercise}`` directive becomes plain Markdown (a bold title and the text), so that its
  mathematics renders in Jupyter and Colab, which do not know the directive.
- ``answers/NN_name_answers.ipynb``: the solutions alone, each under a heading with its exercise's
  number and title, code cells with the outputs the chapter stored. It is for reading: its code
  uses names the chapter defined earlier, so it runs only inside the chapter.

An exercise's kind is ``code with a checker`` when its skeleton's function is passed to a
``check...`` function in a cell outside the solution; otherwise the exercise states it in its
directive, ``:class: derivation`` (answered on paper: derive, count, explain) or
``:class: experiment`` (write or change code, run it and read the result, with no checker).
Malformed markers (a ``{solution-start}`` without its end, a solution for an unknown exercise)
stop the tool with an error naming the chapter and the exercise.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import copy
import re
import symtable
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import booktoc  # noqa: E402

ROOT = booktoc.ROOT
DEFAULT_OUT = ROOT / "_build" / "handouts"
CHAPTER_NAME = re.compile(r"^(\d+)[a-z]?_")

CHECKER = "code with a checker"
DERIVATION = "derivation"
EXPERIMENT = "experiment"
KINDS = (DERIVATION, CHECKER, EXPERIMENT)
STATED_KINDS = {"derivation": DERIVATION, "experiment": EXPERIMENT}

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
_DIRECTIVE = re.compile(r"^\{(?P<name>[A-Za-z][\w.:-]*)\}\s*(?P<arg>.*)$")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
_HEADING = re.compile(r"^ {0,3}#{1,6}\s")


class HandoutError(ValueError):
    """A chapter whose exercise or solution markers cannot be read."""


# --- reading a chapter ----------------------------------------------------------------------------


@dataclass
class Fence:
    """A fenced block of a Markdown cell: ```` ```{name} arg ```` (or ``:::``), options, body."""

    raw: str
    name: str | None = None
    arg: str = ""
    options: dict = field(default_factory=dict)
    body: str = ""


def split_markdown(text: str) -> list[str | Fence]:
    """The cell's text as plain-text pieces and fenced blocks, in order.

    A fence closes on a line of the same character at least as long as the opening one (CommonMark
    and MyST); a directive that contains other fences must use a longer fence around them.
    """
    lines = text.split("\n")
    out: list[str | Fence] = []
    plain: list[str] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or (m.group("fence")[0] == "`" and "`" in m.group("info")):
            plain.append(lines[i])
            i += 1
            continue
        char, length = m.group("fence")[0], len(m.group("fence"))
        close = re.compile(rf"^ {{0,3}}{re.escape(char)}{{{length},}}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        if plain:
            out.append("\n".join(plain))
            plain = []
        block = lines[i : j + 1]
        fence = Fence(raw="\n".join(block))
        d = _DIRECTIVE.match(m.group("info").strip())
        if d:
            fence.name, fence.arg = d.group("name"), d.group("arg").strip()
            body = lines[i + 1 : j]
            k = 0
            while k < len(body) and (o := _OPTION.match(body[k].strip())):
                fence.options[o.group("key")] = o.group("value").strip()
                k += 1
            fence.body = "\n".join(body[k:]).strip("\n")
        out.append(fence)
        i = j + 1
    if plain:
        out.append("\n".join(plain))
    return out


def python_source(cell_source: str) -> str:
    """A code cell's source as plain Python (IPython magics and ``!`` commands translated)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(python_source(source))
    except SyntaxError:
        return None


def skeleton_functions(source: str) -> list[str]:
    """Names of the functions a cell defines at top level whose body raises NotImplementedError."""
    tree = _parse(source)
    names = []
    for node in tree.body if tree else []:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                exc = sub.exc if isinstance(sub, ast.Raise) else None
                if isinstance(exc, ast.Call):
                    exc = exc.func
                if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                    names.append(node.name)
                    break
    return names


def checker_calls(source: str, functions: set[str]) -> list[str]:
    """The ``check...`` functions a cell calls with one of ``functions`` as an argument."""
    tree = _parse(source)
    found = []
    for node in ast.walk(tree) if tree else []:
        if not isinstance(node, ast.Call):
            continue
        name = (
            node.func.id
            if isinstance(node.func, ast.Name)
            else (node.func.attr if isinstance(node.func, ast.Attribute) else "")
        )
        args = list(node.args) + [k.value for k in node.keywords]
        if name.startswith("check") and any(
            isinstance(a, ast.Name) and a.id in functions for a in args
        ):
            found.append(name)
    return found


def names_used_and_bound(source: str) -> tuple[set[str], set[str]]:
    """``(used, bound)``: the global names a cell reads (also inside its functions) and binds."""
    try:
        table = symtable.symtable(python_source(source), "<cell>", "exec")
    except SyntaxError:
        return set(), set()
    used, bound = set(), set()
    for sym in table.get_symbols():
        if sym.is_referenced():
            used.add(sym.get_name())
        if sym.is_assigned() or sym.is_imported() or sym.is_namespace():
            bound.add(sym.get_name())

    def walk(t):
        for child in t.get_children():
            for sym in child.get_symbols():
                if sym.is_global() and sym.is_referenced():
                    used.add(sym.get_name())
            walk(child)

    walk(table)
    return used - set(dir(builtins)), bound


@dataclass
class Exercise:
    """One ``{exercise}`` of a chapter and everything the chapter gives for it."""

    number: int
    label: str
    title: str
    text: str
    stated_kind: str | None
    cell: int  # the Markdown cell holding the directive
    solution: list = field(default_factory=list)  # Markdown strings and code cells, in order
    solution_cells: list = field(default_factory=list)  # indexes of code cells inside the solution
    skeletons: dict = field(default_factory=dict)  # function name -> cell index
    checks: dict = field(default_factory=dict)  # cell index -> checker names called

    @property
    def has_solution(self) -> bool:
        return any(not isinstance(p, str) or p.strip() for p in self.solution)

    @property
    def kind(self) -> str | None:
        """``code with a checker``, ``derivation``, ``experiment``, or None when not stated."""
        return CHECKER if self.checks else self.stated_kind

    def solution_code(self) -> list[str]:
        return [p.source for p in self.solution if not isinstance(p, str)]

    def solution_text(self) -> list[str]:
        return [p for p in self.solution if isinstance(p, str)]


@dataclass
class Chapter:
    path: Path
    nb: nbformat.NotebookNode
    exercises: list
    dropped_cells: set  # indexes of the code cells inside a solution
    kept_markdown: dict  # cell index -> the cell's Markdown with solutions removed

    @property
    def number(self) -> int:
        return int(CHAPTER_NAME.match(self.path.name).group(1))

    @property
    def tag(self) -> str:
        """The number as the file name writes it, without leading zeros: ``2``, ``9b``."""
        return self.path.name.split("_", 1)[0].lstrip("0") or "0"

    @property
    def title(self) -> str:
        for cell in self.nb.cells:
            if cell.cell_type == "markdown":
                m = re.search(r"^#\s+(.+)$", cell.source, flags=re.M)
                if m:
                    return m.group(1).strip()
        return self.path.stem

    def checker_cells(self) -> list[int]:
        return sorted(i for ex in self.exercises for i in ex.checks)


def _kind_from_options(options: dict, where: str) -> str | None:
    classes = options.get("class", "").split()
    kinds = [STATED_KINDS[c] for c in classes if c in STATED_KINDS]
    if len(kinds) > 1:
        raise HandoutError(
            f"{where}: states two kinds ({', '.join(kinds)}); expected one of "
            f"{', '.join(STATED_KINDS)}"
        )
    return kinds[0] if kinds else None


def read_chapter(path: str | Path) -> Chapter:
    """Find every exercise, its solution, skeleton cells and checker calls in one chapter."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    exercises: dict[str, Exercise] = {}
    order: list[Exercise] = []
    open_label: str | None = None  # inside {solution-start} ... {solution-end}
    current: Exercise | None = None  # the exercise whose cells we are in (until the next one)
    dropped, kept_md = set(), {}

    def where(label=None):
        return f"{path.name}" + (f", exercise {label!r}" if label else "")

    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            kept = []
            for piece in split_markdown(cell.source):
                fence = piece if isinstance(piece, Fence) else None
                name = fence.name if fence else None
                if open_label is not None:
                    if name == "solution-end":
                        open_label = None
                    elif name in ("solution-start", "exercise", "solution"):
                        raise HandoutError(
                            f"{where(open_label)}: {{{name}}} inside a solution that "
                            "has no {solution-end} yet"
                        )
                    else:
                        exercises[open_label].solution.append(piece.raw if fence else piece)
                    continue
                if name == "exercise":
                    label = fence.options.get("label")
                    if not label:
                        raise HandoutError(
                            f"{where()}: an exercise without a :label: ({fence.arg!r})"
                        )
                    if label in exercises:
                        raise HandoutError(f"{where(label)}: the label is used twice")
                    current = Exercise(
                        len(order) + 1,
                        label,
                        fence.arg,
                        fence.body,
                        _kind_from_options(fence.options, where(label)),
                        i,
                    )
                    exercises[label] = current
                    order.append(current)
                    kept.append(fence)
                elif name in ("solution", "solution-start"):
                    label = fence.arg.split()[0] if fence.arg else ""
                    if label not in exercises:
                        raise HandoutError(
                            f"{where(label)}: a {{{name}}} for an exercise this chapter "
                            "does not define before it"
                        )
                    if exercises[label].solution:
                        raise HandoutError(f"{where(label)}: a second solution")
                    if name == "solution":
                        exercises[label].solution.append(fence.body)
                    else:
                        open_label = label
                elif name == "solution-end":
                    raise HandoutError(
                        f"{where()}: a {{solution-end}} without a {{solution-start}}"
                    )
                elif name in ("exercise-start", "exercise-end"):
                    raise HandoutError(
                        f"{where()}: {{{name}}} is not supported by tools/handouts.py; "
                        "use an {exercise} directive"
                    )
                else:
                    if fence is None and any(_HEADING.match(line) for line in piece.split("\n")):
                        current = None  # a new section ends the last exercise's cells
                    kept.append(piece)
            kept_md[i] = kept
        elif cell.cell_type == "code":
            if open_label is not None:
                exercises[open_label].solution.append(cell)
                exercises[open_label].solution_cells.append(i)
                dropped.add(i)
                continue
            if current is not None:
                for fn in skeleton_functions(cell.source):
                    current.skeletons[fn] = i
                calls = checker_calls(cell.source, set(current.skeletons))
                if calls:
                    current.checks[i] = calls
    if open_label is not None:
        raise HandoutError(f"{where(open_label)}: a {{solution-start}} without a {{solution-end}}")
    return Chapter(path, nb, order, dropped, kept_md)


def names_only_solutions_define(chapter: Chapter) -> list[tuple[int, str]]:
    """``(cell, name)`` for each kept code cell that reads a global name which, before it, only
    solution cells bind: in the students' copy that cell would fail with a NameError."""
    bound_kept: set[str] = set()
    bound_solution: set[str] = set()
    problems = []
    for i, cell in enumerate(chapter.nb.cells):
        if cell.cell_type != "code":
            continue
        used, bound = names_used_and_bound(cell.source)
        if i in chapter.dropped_cells:
            bound_solution |= bound
            continue
        problems += [(i, n) for n in sorted((used - bound - bound_kept) & bound_solution)]
        bound_kept |= bound
    return problems


def chapters(toc: str | None = None) -> list[Path]:
    """The chapters of the table of contents: its notebooks whose name starts with a number."""
    return [p for p in booktoc.notebooks(toc) if CHAPTER_NAME.match(p.name)]


# --- writing --------------------------------------------------------------------------------------


def _exercise_markdown(fence: Fence, number: int) -> str:
    title = f"**Exercise {number}: {fence.arg}**" if fence.arg else f"**Exercise {number}**"
    return f"{title}\n\n{fence.body}".rstrip()


def _join(pieces: list[str]) -> str:
    text = "\n".join(p for p in pieces)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def student_notebook(chapter: Chapter) -> nbformat.NotebookNode:
    """The chapter without solutions or outputs, its exercises as plain Markdown."""
    numbers = {ex.cell: [] for ex in chapter.exercises}
    for ex in chapter.exercises:
        numbers[ex.cell].append(ex.number)
    nb = copy.deepcopy(chapter.nb)
    cells = []
    for i, cell in enumerate(nb.cells):
        if i in chapter.dropped_cells:
            continue
        if cell.cell_type == "markdown":
            pieces, k = [], 0
            for piece in chapter.kept_markdown[i]:
                if isinstance(piece, Fence) and piece.name == "exercise":
                    pieces.append("\n" + _exercise_markdown(piece, numbers[i][k]) + "\n")
                    k += 1
                else:
                    pieces.append(piece.raw if isinstance(piece, Fence) else piece)
            cell.source = _join(pieces)
            if not cell.source.strip():
                continue
        elif cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("lstm_edu", None)
    nb.metadata["lstm_edu"] = {"handout": "student", "chapter": chapter.path.name}
    return nb


def _stored_size(chapter: Chapter) -> str | None:
    """The line the chapter's settings cell printed when it was stored (``size=... device=...``)."""
    for cell in chapter.nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            for line in out.get("text", "").splitlines():
                if line.startswith("size="):
                    return line.strip()
    return None


def answer_notebook(chapter: Chapter) -> nbformat.NotebookNode:
    """The chapter's solutions alone, each under its exercise's number and title."""
    new_md, new_code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    size = _stored_size(chapter)
    intro = (
        f"# Answer key: {chapter.title}\n\n"
        f"The solutions of `{chapter.path.name}`, one per exercise, as the chapter gives them. "
        "The code cells show the outputs the chapter stored"
        + (f" (its settings cell printed `{size}`)" if size else "")
        + ". They use names defined earlier in the chapter, so run them there, not here."
    )
    cells = [new_md(intro)]
    for ex in chapter.exercises:
        kind = ex.kind or "kind not stated"
        cells.append(new_md(f"## Exercise {ex.number}: {ex.title}\n\n*{kind.capitalize()}.*"))
        if not ex.has_solution:
            cells.append(new_md("The chapter gives no solution for this exercise."))
        for part in ex.solution:
            if isinstance(part, str):
                text = _join([p.raw if isinstance(p, Fence) else p for p in split_markdown(part)])
                if text.strip():
                    cells.append(new_md(text))
            else:
                code = new_code(part.source, execution_count=part.execution_count)
                code.outputs = [_without_widgets(o) for o in part.outputs]
                code.metadata = {"tags": list(part.metadata.get("tags", []))}
                cells.append(code)
    for k, cell in enumerate(cells):
        cell.id = f"answer-{k}"  # the same ids on every run, so two keys compare cleanly
    metadata = {
        k: chapter.nb.metadata[k]
        for k in ("kernelspec", "language_info")
        if k in chapter.nb.metadata
    }
    metadata["lstm_edu"] = {"handout": "answers", "chapter": chapter.path.name}
    return nbformat.v4.new_notebook(cells=cells, metadata=metadata)


def _without_widgets(output):
    out = copy.deepcopy(output)
    if "data" in out:
        out["data"].pop("application/vnd.jupyter.widget-view+json", None)
    return out


def write(paths: list[Path], out: Path, replace_all: bool = False) -> list[dict]:
    """Write both handouts of every chapter under ``out``; return one summary row per chapter.

    ``replace_all`` first removes the notebooks an earlier run left there (a renamed chapter's)."""
    for sub in ("students", "answers"):
        (out / sub).mkdir(parents=True, exist_ok=True)
        for old in (out / sub).glob("*.ipynb") if replace_all else []:
            old.unlink()
    rows = []
    for path in paths:
        chapter = read_chapter(path)
        for cell, name in names_only_solutions_define(chapter):
            print(
                f"warning: {path.name}: code cell {cell} reads {name!r}, which only a solution "
                "defines before it; the students' copy will fail there",
                file=sys.stderr,
            )
        nbformat.write(student_notebook(chapter), out / "students" / path.name)
        nbformat.write(answer_notebook(chapter), out / "answers" / f"{path.stem}_answers.ipynb")
        rows.append(summary(chapter))
    (out / "README.md").write_text(readme(rows), encoding="utf-8")
    return rows


def summary(chapter: Chapter) -> dict:
    kinds = {k: sum(ex.kind == k for ex in chapter.exercises) for k in KINDS}
    return {
        "chapter": chapter.path.name,
        "exercises": len(chapter.exercises),
        "check themselves": kinds[CHECKER],
        **{k: kinds[k] for k in (DERIVATION, EXPERIMENT)},
        "kind not stated": sum(ex.kind is None for ex in chapter.exercises),
    }


def readme(rows: list[dict]) -> str:
    lines = [
        "# Handouts",
        "",
        "Made by `make handouts` (`tools/handouts.py`) from the chapters as they were then.",
        "",
        "- `students/`: each chapter without its solutions and outputs, to hand to a class "
        "(open it in Jupyter or Colab; the first code cell installs the book's package).",
        "- `answers/`: each chapter's solutions, one per exercise, for the teacher.",
        "",
        "| chapter | exercises | check themselves | derivations | experiments |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['chapter']} | {r['exercises']} | {r['check themselves']} | "
            f"{r[DERIVATION]} | {r[EXPERIMENT]} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter in the toc")
    ap.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default _build/handouts)"
    )
    ap.add_argument("--toc", help="table of contents (default: $BOOK_TOC or _toc.yml)")
    ap.add_argument("--summary", action="store_true", help="only print the table, write nothing")
    args = ap.parse_args(argv)
    try:
        paths = [p.resolve() for p in args.notebooks] if args.notebooks else chapters(args.toc)
        if not paths:
            print("error: no chapters (NN_name.ipynb) in the table of contents", file=sys.stderr)
            return 1
        if args.summary:
            rows = [summary(read_chapter(p)) for p in paths]
        else:
            rows = write(paths, args.out, replace_all=not args.notebooks)
    except (HandoutError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(readme(rows).split("\n\n", 3)[-1].rstrip())
    if not args.summary:
        out = args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out
        print(
            f"wrote {len(rows)} student notebooks to {out}/students and "
            f"{len(rows)} answer keys to {out}/answers"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
