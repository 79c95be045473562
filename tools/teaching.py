"""The figures of the page "Teaching with this book" (``book/teaching.md``), read from the chapters.

The page runs these functions when the book is built, so its tables always describe the chapters
as they are: the exercises and their kinds come from ``tools/handouts.py``; the run times from the
records ``tools/execute.py`` keeps in each chapter's metadata (``lstm_edu.runs``); what a chapter
builds on from the earlier chapters its text refers to. Where nothing was measured the tables say
"not measured"; nothing here is typed in by hand except the suggested assignment sets' choice of
chapters and kinds.

    python tools/teaching.py        # the page's tables, as Markdown, on the terminal
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import handouts  # noqa: E402

NOT_MEASURED = "not measured"
_CHAPTER_REF = re.compile(r"\b[Cc]hapters?\s+(\d+(?:\s*(?:,|and|or|to|–|-)\s*\d+)*)")
_DOC_REF = re.compile(r"(?:\{doc\}`(?:[^`<]*<)?|\]\()(?:\./)?(?:book/)?(\d+)[a-z]?_[\w-]+")


@dataclass
class AssignmentSet:
    """A suggested set: these chapters' exercises of these kinds."""

    name: str
    purpose: str
    chapters: range
    kinds: tuple


SETS = (
    AssignmentSet(
        "A one-week LSTM module",
        "why plain recurrent networks forget, the LSTM cell and a whole LSTM, built and "
        "checked against PyTorch; code and derivations only",
        range(1, 4),
        (handouts.CHECKER, handouts.DERIVATION),
    ),
    AssignmentSet(
        "The LSTM at work (a second week)",
        "training on real data and looking inside the trained memory; the experiments "
        "run the chapters' models again with a change",
        range(4, 6),
        (handouts.CHECKER, handouts.EXPERIMENT),
    ),
    AssignmentSet(
        "A HyperLSTM project",
        "hypernetworks, the HyperLSTM built from its equations, and the comparison with "
        "the LSTM; the experiments of the comparison are the project",
        range(6, 9),
        (handouts.CHECKER, handouts.DERIVATION, handouts.EXPERIMENT),
    ),
)


@dataclass
class ChapterInfo:
    chapter: handouts.Chapter
    builds_on: list  # numbers of earlier chapters the text refers to
    runs: dict  # "size/device" -> run record (tools/execute.py)

    @property
    def number(self) -> int:
        return self.chapter.number

    @property
    def doc(self) -> str:
        return self.chapter.path.stem


def _numbers(text: str) -> set[int]:
    found = set()
    for m in _CHAPTER_REF.finditer(text):
        parts = [int(n) for n in re.findall(r"\d+", m.group(1))]
        found.update(parts)
        if re.search(r"to|–|-", m.group(1)) and len(parts) == 2:
            found.update(range(parts[0], parts[1] + 1))
    found.update(int(n) for n in _DOC_REF.findall(text))
    return found


def builds_on(chapter: handouts.Chapter, numbers: set[int]) -> list[int]:
    """The earlier chapters (among ``numbers``) that this chapter's Markdown refers to."""
    text = "\n".join(c.source for c in chapter.nb.cells if c.cell_type == "markdown")
    return sorted(n for n in _numbers(text) & numbers if n < chapter.number)


def read(toc: str | None = None) -> list[ChapterInfo]:
    chapters = [handouts.read_chapter(p) for p in handouts.chapters(toc)]
    numbers = {c.number for c in chapters}
    return [
        ChapterInfo(
            c, builds_on(c, numbers), dict(c.nb.metadata.get("lstm_edu", {}).get("runs", {}))
        )
        for c in chapters
    ]


# --- run times ------------------------------------------------------------------------------------


def sizes() -> tuple:
    """The sizes the book's settings offer, in order (``lstm_edu.settings.SIZES``)."""
    from lstm_edu import settings

    return tuple(settings.SIZES)


def columns() -> list[tuple[str, str | None, str]]:
    """``(heading, size, where)`` for the run-time table: every size but ``full`` on a CPU,
    ``full`` on a GPU, and one column for Colab at any size (``size`` None)."""
    cols = [(f"{size}, CPU", size, "cpu") for size in sizes() if size != "full"]
    if "full" in sizes():
        cols.append(("full, GPU", "full", "gpu"))
    return cols + [("Colab", None, "colab")]


def matching(info: ChapterInfo, size: str | None, where: str) -> list[dict]:
    """The chapter's run records at ``size`` (None: any) on a ``cpu``, a ``gpu`` or in ``colab``."""
    out = []
    for record in info.runs.values():
        on_gpu = str(record.get("device", "")).startswith("cuda")
        colab = bool(record.get("colab"))
        if size is not None and record.get("size") != size:
            continue
        if (
            (where == "gpu" and on_gpu)
            or (where == "colab" and colab)
            or (where == "cpu" and not on_gpu and not colab)
        ):
            out.append(record)
    return out


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def run_time(info: ChapterInfo, size: str | None, where: str) -> str:
    """The shortest recorded run on a fresh machine (its wall time plus the training that the run
    cache saved it, ``cached_training_s``), or "not measured"; with ``size`` None, one per size
    recorded."""
    records = matching(info, size, where)
    if not records:
        return NOT_MEASURED
    if size is not None:
        return duration(min(r["seconds"] + r.get("cached_training_s", 0.0) for r in records))
    return ", ".join(
        f"{s} {run_time(info, s, where)}"
        for s in sizes()
        if any(r.get("size") == s for r in records)
    )


def coverage(infos: list[ChapterInfo]) -> str:
    """One sentence per column: how many chapters have a recorded run there."""
    parts = []
    for heading, size, where in columns():
        n = sum(bool(matching(i, size, where)) for i in infos)
        parts.append(f"{heading}: {n} of {len(infos)} chapters")
    return "Chapters with a recorded run: " + "; ".join(parts) + "."


def machines(infos: list[ChapterInfo]) -> list[str]:
    """One line per machine the run records name: device, CPU cores, torch, dates."""
    seen: dict[tuple, list] = {}
    for info in infos:
        for record in info.runs.values():
            key = (
                record.get("device_name", "unknown"),
                record.get("cpu_cores"),
                record.get("torch"),
                bool(record.get("colab")),
            )
            seen.setdefault(key, []).append(record.get("date", "?"))
    lines = []
    for (name, cores, torch, colab), dates in sorted(seen.items(), key=str):
        where = "Colab, " if colab else ""
        lines.append(
            f"{where}{name}, {cores} CPU cores, torch {torch} "
            f"({len(dates)} run(s), {min(dates)} to {max(dates)})"
        )
    return lines


# --- exercises ------------------------------------------------------------------------------------

EFFORT = {"short": (5, 60), "medium": (15, 150)}  # at most this many lines of code and words
_CHECK_CALL = re.compile(r"^\s*[\w.]*check\w*\(")


def effort_rule() -> str:
    (sc, sw), (mc, mw) = EFFORT["short"], EFFORT["medium"]
    return (
        f"*short*: at most {sc} lines of code and {sw} words in the reference solution; "
        f"*medium*: at most {mc} lines and {mw} words; *long*: more"
    )


def solution_size(ex: handouts.Exercise) -> tuple[int, int]:
    """``(lines of code, words of text)`` of an exercise's reference solution (blank lines,
    comment lines and the call of the checker not counted; words counted with the mathematics,
    as the text separated by spaces)."""
    code = sum(
        1
        for src in ex.solution_code()
        for line in src.splitlines()
        if line.strip() and not line.strip().startswith("#") and not _CHECK_CALL.match(line)
    )
    text = " ".join(ex.solution_text())
    words = len(text.split())
    return code, words


def effort(ex: handouts.Exercise) -> str:
    """short / medium / long, from the size of the reference solution (a rough guide only)."""
    code, words = solution_size(ex)
    if not ex.has_solution:
        return "unknown (no solution given)"
    for label, (max_code, max_words) in EFFORT.items():
        if code <= max_code and words <= max_words:
            return label
    return "long"


def solution_seconds(info: ChapterInfo, ex: handouts.Exercise) -> float | None:
    """The seconds the solution's slow cells took in the chapter's stored run, if recorded."""
    stored = info.runs.get(info.chapter.nb.metadata.get("lstm_edu", {}).get("stored", ""))
    if not stored:
        return None
    ids = {info.chapter.nb.cells[i].get("id") for i in ex.solution_cells}
    return sum(s for cid, s in stored.get("slow_cells", {}).items() if cid in ids)


# --- Markdown for the page ------------------------------------------------------------------------


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _link(info: ChapterInfo) -> str:
    return f"{{doc}}`{_cell(info.chapter.title)} <{info.doc}>`"


def _table(head: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def chapters_table(infos: list[ChapterInfo]) -> str:
    head = ["chapter", "builds on", "exercises", "with a checker", "derivations", "experiments"]
    rows = []
    for info in infos:
        s = handouts.summary(info.chapter)
        rows.append(
            [
                _link(info),
                ", ".join(map(str, info.builds_on)) or "none",
                s["exercises"],
                s["check themselves"],
                s[handouts.DERIVATION],
                s[handouts.EXPERIMENT],
            ]
        )
    total = [
        sum(handouts.summary(i.chapter)[k] for i in infos)
        for k in ("exercises", "check themselves", handouts.DERIVATION, handouts.EXPERIMENT)
    ]
    rows.append(["**all chapters**", "", *[f"**{t}**" for t in total]])
    return _table(head, rows)


def times_table(infos: list[ChapterInfo]) -> str:
    cols = columns()
    rows = [
        [_link(info)] + [run_time(info, size, where) for _, size, where in cols] for info in infos
    ]
    return _table(["chapter"] + [h for h, _, _ in cols], rows)


def exercises_table(infos: list[ChapterInfo]) -> str:
    head = ["exercise", "kind", "reference solution", "rough effort"]
    rows = []
    for info in infos:
        for ex in info.chapter.exercises:
            code, words = solution_size(ex)
            kind = ex.kind or "not stated"
            checkers = sorted({n for names in ex.checks.values() for n in names})
            if checkers:
                kind += ": " + ", ".join(f"`{n}`" for n in checkers)
            size = f"{code} lines of code, {words} words" if ex.has_solution else "none given"
            seconds = solution_seconds(info, ex)
            if seconds:
                size += (
                    f"; runs {duration(seconds)} ({info.chapter.nb.metadata['lstm_edu']['stored']})"
                )
            rows.append([f"{info.chapter.tag}.{ex.number} {ex.title}", kind, size, effort(ex)])
    return _table(head, rows)


def sets_markdown(infos: list[ChapterInfo]) -> str:
    parts = []
    for k, s in enumerate(SETS, 1):
        chosen = [i for i in infos if i.number in s.chapters]
        if not chosen:
            continue
        exercises = [(i, ex) for i in chosen for ex in i.chapter.exercises if ex.kind in s.kinds]
        inside = {i.number for i in chosen}
        before = sorted({n for i in chosen for n in i.builds_on} - inside)
        counts = ", ".join(
            f"{sum(ex.kind == kind for _, ex in exercises)} {kind}" for kind in s.kinds
        )
        quick = [matching(i, "quick", "cpu") for i in chosen]
        if all(quick):
            total = duration(sum(min(r["seconds"] for r in q) for q in quick))
            run = f"running its chapters at quick size took {total} on a CPU"
        else:
            missing = [i.chapter.tag for i, q in zip(chosen, quick) if not q]
            run = f"quick-size run time {NOT_MEASURED} for chapter(s) {', '.join(missing)}"
        lines = [
            f"**{k}. {s.name}**: chapters {', '.join(i.chapter.tag for i in chosen)}, {s.purpose}.",
            "",
            f"- Builds on: {'chapters ' + ', '.join(map(str, before)) if before else 'nothing'}.",
            f"- {len(exercises)} exercises ({counts}); {run}:",
        ]
        lines += [
            f"  - {i.chapter.tag}.{ex.number} {ex.title} ({ex.kind}, {effort(ex)})"
            for i, ex in exercises
        ]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def handout_counts(infos: list[ChapterInfo]) -> str:
    total = sum(len(i.chapter.exercises) for i in infos)
    checked = sum(ex.kind == handouts.CHECKER for i in infos for ex in i.chapter.exercises)
    return (
        f"{len(infos)} chapters, {total} exercises, {checked} of which check themselves "
        f"({sum(len(i.chapter.checker_cells()) for i in infos)} checker cells)"
    )


def main() -> int:
    infos = read()
    for title, text in (
        ("Chapters", chapters_table(infos)),
        ("Run times", times_table(infos)),
        ("Machines", "\n".join(machines(infos)) or NOT_MEASURED),
        ("Exercises", exercises_table(infos)),
        ("Sets", sets_markdown(infos)),
    ):
        print(f"## {title}\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
