"""The handouts (``make handouts``, ``tools/handouts.py``), checked against the chapters as
they are.

Expectations come from the chapters, never from a list typed here: the exercises, their solutions
and the lines that only a solution contains are read from each chapter of the table of contents.

- A student notebook holds no solution text and no output, and keeps every other cell, the install
  cell first among its code cells.
- The answer key has one entry per exercise, under its title, holding the solution.
- Every checker call in a student notebook runs, in a fresh kernel at quick size on the CPU, and
  answers the untouched skeleton with a hint (❌ ...), never a traceback. To keep the suite quick
  only the cells a checker call needs are run: the install cell, the settings cell, the
  skeleton and checker cells, and, recursively, the latest earlier cell that binds
  each global name they read. That this is faithful is checked too: the hint must be the one the
  whole chapter printed when it was stored (the exercise's name in front of it aside, so that
  renaming an exercise does not call for re-executing its chapter; an untouched skeleton raises
  before the checker uses anything else, so only a cell that fails to run could change the
  hint). ``LSTM_EDU_HANDOUTS_RUN=all`` runs every cell of every
  student notebook instead (as a class would; several minutes on 2 cores).
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest

import booktoc
import first_cell
import handouts
import teaching

CHAPTERS = handouts.chapters()
IDS = [p.stem for p in CHAPTERS]
RUN_ALL = os.environ.get("LSTM_EDU_HANDOUTS_RUN", "").strip().lower() == "all"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """``make handouts`` into a temporary folder: the command line, every chapter of the toc."""
    out = tmp_path_factory.mktemp("handouts")
    assert handouts.main(["--out", str(out)]) == 0
    return out


def _chapter(path) -> handouts.Chapter:
    return handouts.read_chapter(path)


def _raw_directives(path, name: str) -> int:
    """How many ``{name}`` directives the chapter's Markdown cells open, by a plain regex."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return len(
        re.findall(rf"^ {{0,3}}(?:`{{3,}}|:{{3,}})\{{{re.escape(name)}\}}", text, flags=re.M)
    )


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def _distinctive(line: str) -> bool:
    return len(line) >= 12 and re.search(r"[A-Za-z0-9]{3}", line) is not None


def _solution_only_lines(chapter: handouts.Chapter) -> dict[str, list[str]]:
    """Per exercise, the lines of its solution that appear nowhere else in the chapter's sources."""
    counts: dict[str, int] = {}
    for cell in chapter.nb.cells:
        for line in set(_lines(cell.source)):
            counts[line] = counts.get(line, 0) + 1
    out = {}
    for ex in chapter.exercises:
        lines = [line for part in ex.solution_text() + ex.solution_code() for line in _lines(part)]
        out[ex.label] = [
            line for line in dict.fromkeys(lines) if _distinctive(line) and counts.get(line) == 1
        ]
    return out


def _all_text(nb) -> str:
    return "\n".join(cell.source for cell in nb.cells)


# --- the students' copy ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_exercise_and_solution_is_found(path):
    chapter = _chapter(path)
    assert len(chapter.exercises) == _raw_directives(path, "exercise")
    n_solutions = _raw_directives(path, "solution") + _raw_directives(path, "solution-start")
    assert sum(ex.has_solution for ex in chapter.exercises) == n_solutions
    unstated = [ex.label for ex in chapter.exercises if ex.kind is None]
    assert not unstated, (
        f"exercises with no checker and no stated kind: {unstated}; add `:class: derivation` "
        "or `:class: experiment` to the exercise directive (CONTRIBUTING.md)"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_student_copy_has_no_solution_text(path, written):
    chapter = _chapter(path)
    student = nbformat.read(written / "students" / path.name, as_version=4)
    text = _all_text(student)
    handout_lines = set(_lines(text))
    for label, lines in _solution_only_lines(chapter).items():
        ex = next(e for e in chapter.exercises if e.label == label)
        if not ex.has_solution:
            continue
        assert lines, (
            f"{label}: every line of its solution also appears elsewhere in the chapter, so "
            "this test cannot tell whether the solution was removed"
        )
        leaked = [line for line in lines if line in handout_lines]
        assert not leaked, f"{label}: the students' copy contains its solution: {leaked[:3]}"
    for marker in ("{solution", "solution-start", "solution-end"):
        assert marker not in text
    code = [c for c in student.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), (
        "outputs were not cleared"
    )
    assert "widgets" not in student.metadata


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_student_copy_keeps_everything_else(path, written):
    chapter = _chapter(path)
    student = nbformat.read(written / "students" / path.name, as_version=4)
    by_id = {c.id: c for c in student.cells}
    first = next(c for c in chapter.nb.cells if c.cell_type == "code")
    first_kept = next(c for c in student.cells if c.cell_type == "code")
    assert first_kept.source == first.source and first_cell.MARKER in first.source, (
        "the install cell"
    )
    for i, cell in enumerate(chapter.nb.cells):
        if cell.cell_type == "code" and i not in chapter.dropped_cells:
            assert by_id.get(cell.id) is not None and by_id[cell.id].source == cell.source, (
                f"code cell {i}"
            )
    for ex in chapter.exercises:
        assert f"**Exercise {ex.number}: {ex.title}**" in _all_text(student)
        # the statement itself, line by line
        missing = [
            line for line in _lines(ex.text) if line and line not in set(_lines(_all_text(student)))
        ]
        assert not missing, (
            f"{ex.label}: statement lines missing from the students' copy: {missing[:3]}"
        )
        for i in list(ex.skeletons.values()) + list(ex.checks):
            assert chapter.nb.cells[i].id in by_id, (
                f"{ex.label}: skeleton or checker cell {i} was removed"
            )
    code_exercises = [ex for ex in chapter.exercises if ex.kind == handouts.CHECKER]
    assert all(ex.skeletons for ex in code_exercises)


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_no_kept_cell_needs_a_name_only_a_solution_defines(path):
    assert handouts.names_only_solutions_define(_chapter(path)) == []


# --- the answer key -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_answer_key_has_one_entry_per_exercise(path, written):
    chapter = _chapter(path)
    key = nbformat.read(written / "answers" / f"{path.stem}_answers.ipynb", as_version=4)
    headings = [
        m
        for c in key.cells
        if c.cell_type == "markdown"
        for m in re.findall(r"^## Exercise (\d+): (.*)$", c.source, flags=re.M)
    ]
    assert len(headings) == _raw_directives(path, "exercise")
    assert [(int(n), t) for n, t in headings] == [(ex.number, ex.title) for ex in chapter.exercises]
    key_lines = set(_lines(_all_text(key)))
    for label, lines in _solution_only_lines(chapter).items():
        missing = [line for line in lines if line not in key_lines]
        assert not missing, f"{label}: the answer key lacks lines of its solution: {missing[:3]}"


# --- the checkers answer the untouched skeletons --------------------------------------------------


def _needed_cells(nb) -> tuple[list[int], list[int]]:
    """(cells to run, checker cells) of a students' notebook: see the module docstring. The checker
    cells are found in the notebook itself: calls of a ``check...`` function on a skeleton."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    skeletons = {i: handouts.skeleton_functions(nb.cells[i].source) for i in code}
    functions = {f for fs in skeletons.values() for f in fs}
    checkers = [i for i in code if handouts.checker_calls(nb.cells[i].source, functions)]
    names = {i: handouts.names_used_and_bound(nb.cells[i].source) for i in code}
    need = set(checkers) | {i for i in code if skeletons[i]}
    if code:
        need.add(code[0])  # the install cell
    seeds = [i for i in code if "seed_everything" in nb.cells[i].source]
    need |= set(seeds[:1])  # the settings cell (a later reseed before training changes no hint)
    todo = list(need)
    while todo:
        j = todo.pop()
        for name in names[j][0]:
            binders = [i for i in code if i < j and name in names[i][1]]
            if binders and binders[-1] not in need:
                need.add(binders[-1])
                todo.append(binders[-1])
    return sorted(need), checkers


RESET = "%reset -f"  # each chapter starts from an empty namespace; imported modules stay loaded


@pytest.fixture(scope="module")
def executed(written):
    """The needed cells of every students' notebook (or all their cells), at quick size on the CPU.

    One kernel runs them all, chapter after chapter, with ``%reset -f`` between chapters, so that a
    name a chapter forgot to define is still a NameError, and the kernel starts only once.
    """
    from nbclient import NotebookClient

    plan, cells = [], [nbformat.v4.new_code_cell(RESET)]
    for path in CHAPTERS:
        nb = nbformat.read(written / "students" / path.name, as_version=4)
        needed, checkers = _needed_cells(nb)
        if RUN_ALL:
            needed = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        first = len(cells)
        cells += [copy.deepcopy(nb.cells[i]) for i in needed] + [nbformat.v4.new_code_cell(RESET)]
        plan.append((path, nb, needed, checkers, first))
    run = nbformat.v4.new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )
    saved = {k: os.environ.get(k) for k in ("LSTM_EDU_SIZE", "LSTM_EDU_DEVICE")}
    os.environ.update(LSTM_EDU_SIZE="quick", LSTM_EDU_DEVICE="cpu")  # the kernel inherits them
    try:
        client = NotebookClient(
            run,
            timeout=600,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(booktoc.ROOT / "book")}},
        )
        start = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - start
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    print(
        f"\nstudents' notebooks: {len(cells)} cells run in one kernel in {seconds:.1f} s "
        f"({'every cell' if RUN_ALL else 'the cells the checkers need'})"
    )
    return {
        path.name: (nb, {i: run.cells[first + k] for k, i in enumerate(needed)}, checkers)
        for path, nb, needed, checkers, first in plan
    }


def _stream(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_checker_answers_the_skeleton_with_a_hint(path, executed):
    nb, ran, checkers = executed[path.name]
    chapter = _chapter(path)
    assert len(checkers) == len(chapter.checker_cells()), "checker calls lost in the students' copy"
    errors = {i: o for i, c in ran.items() for o in c.outputs if o.output_type == "error"}
    assert not errors, "cells raised: " + "; ".join(
        f"cell {i}: {o.ename}: {o.evalue}" for i, o in errors.items()
    )
    stored = {c.id: c for c in chapter.nb.cells}
    for i in checkers:
        out = _stream(ran[i])
        assert "Traceback" not in out
        hints = [line for line in out.splitlines() if line.startswith("❌")]
        assert hints and "✅" not in out, (
            f"cell {i} printed no hint for the untouched skeleton: {out!r}"
        )
        # the same hint as the whole chapter printed, so running only the needed cells is faithful;
        # the exercise's name before the first ": " is left out: renaming it changes no hint
        want = [
            line
            for line in _stream(stored[nb.cells[i].id]).splitlines()
            if line.startswith(("❌", "✅"))
        ]
        assert [_hint(h) for h in hints] == [_hint(w) for w in want], (
            f"cell {i}: the students' copy printed {hints}, the stored chapter {want}; "
            "if the checker changed, re-execute the chapter (make execute NB=...)"
        )


def _hint(line: str) -> str:
    """A checker's line without its mark and the exercise's name: ``❌ name: hint`` -> ``hint``."""
    return line.split(": ", 1)[-1]


# --- the tool on small made-up chapters -----------------------------------------------------------


def _notebook(tmp_path, *cells, name="01_made_up.ipynb"):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(c[1]) if c[0] == "md" else nbformat.v4.new_code_cell(c[1])
            for c in cells
        ]
    )
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def test_fences_inside_a_solution_and_colon_fences(tmp_path):
    path = _notebook(
        tmp_path,
        (
            "md",
            "# 1. Made up\n\n:::{exercise} First\n:label: ex-a\n:class: derivation\nWhy?\n:::\n\n"
            "````{solution} ex-a\n:class: dropdown\nBecause.\n"
            "```python\nsecret_code_line = 42\n```\n"
            "After the inner block.\n````\n\nText after.",
        ),
        ("md", "```{exercise} Second\n:label: ex-b\nWrite f.\n```"),
        ("code", "def f(x):\n    raise NotImplementedError"),
        ("code", "check_f(f)"),
        ("md", "```{solution-start} ex-b\n```\nThe reference:"),
        ("code", "def f(x):\n    return x + 1  # the reference answer"),
        ("md", "Still the solution.\n```{solution-end}\n```\n\n## Next section"),
        ("code", "print('after')"),
    )
    chapter = handouts.read_chapter(path)
    assert [(ex.label, ex.kind) for ex in chapter.exercises] == [
        ("ex-a", "derivation"),
        ("ex-b", handouts.CHECKER),
    ]
    student = handouts.student_notebook(chapter)
    text = _all_text(student)
    for leaked in (
        "Because.",
        "secret_code_line",
        "After the inner block.",
        "the reference answer",
        "The reference:",
        "Still the solution.",
    ):
        assert leaked not in text
    for kept in (
        "**Exercise 1: First**",
        "Why?",
        "Text after.",
        "**Exercise 2: Second**",
        "check_f(f)",
        "## Next section",
        "print('after')",
    ):
        assert kept in text
    key = handouts.answer_notebook(chapter)
    key_text = _all_text(key)
    assert "secret_code_line = 42" in key_text and "the reference answer" in key_text


@pytest.mark.parametrize(
    "cells, message",
    [
        (
            (("md", "```{exercise} A\n:label: ex-a\n```\n```{solution-start} ex-a\n```"),),
            "without a {solution-end}",
        ),
        ((("md", "```{solution-end}\n```"),), "without a {solution-start}"),
        ((("md", "```{solution} ex-z\nNo such exercise.\n```"),), "does not define"),
        (
            (("md", "```{exercise} A\n:label: ex-a\n:class: derivation experiment\n```"),),
            "two kinds",
        ),
        ((("md", "```{exercise} A\n```"),), "without a :label:"),
    ],
)
def test_malformed_markers_are_named(tmp_path, cells, message):
    with pytest.raises(handouts.HandoutError, match=re.escape(message)):
        handouts.read_chapter(_notebook(tmp_path, *cells))


def test_a_cell_that_needs_a_solution_is_reported(tmp_path):
    path = _notebook(
        tmp_path,
        (
            "md",
            "```{exercise} A\n:label: ex-a\n:class: experiment\n```\n```{solution-start} ex-a\n```",
        ),
        ("code", "helper = 3"),
        ("md", "```{solution-end}\n```"),
        ("code", "print(helper)"),
    )
    assert handouts.names_only_solutions_define(handouts.read_chapter(path)) == [(3, "helper")]


# --- the teaching page's figures (tools/teaching.py) and the run records (tools/execute.py) -------


def test_teaching_page_is_in_the_book_and_reads_every_chapter():
    assert booktoc.ROOT / "book" / "teaching.md" in booktoc.pages()
    infos = teaching.read()
    assert [i.chapter.path for i in infos] == CHAPTERS
    table = teaching.chapters_table(infos)
    for info in infos:
        s = handouts.summary(info.chapter)
        assert f"<{info.doc}>` | " in table
        assert (
            s["exercises"]
            == len(info.chapter.exercises)
            == _raw_directives(info.chapter.path, "exercise")
        )
    for (
        s
    ) in teaching.SETS:  # every suggested set still finds chapters and exercises in this edition
        chosen = [i for i in infos if i.number in s.chapters]
        assert chosen and any(ex.kind in s.kinds for i in chosen for ex in i.chapter.exercises), (
            s.name
        )


def test_builds_on_reads_back_references_only(tmp_path):
    path = _notebook(
        tmp_path,
        (
            "md",
            "# 5. Made up\n\nAs chapter 2 showed, and chapters 3 and 4 built; "
            "see {doc}`01_why_rnns_forget`.",
        ),
        ("md", "Chapter 7 will use this, and [the cell](00_getting_started.ipynb) too."),
        name="05_made_up.ipynb",
    )
    chapter = handouts.read_chapter(path)
    assert teaching.builds_on(chapter, set(range(10))) == [0, 1, 2, 3, 4]
    assert teaching.builds_on(chapter, {2, 4, 7}) == [2, 4]


def test_run_times_come_from_the_records():
    chapter = handouts.Chapter(Path("03_x.ipynb"), nbformat.v4.new_notebook(), [], set(), {})
    cpu = {"size": "quick", "device": "cpu", "colab": False, "seconds": 41.0}
    info = teaching.ChapterInfo(
        chapter,
        [],
        {
            "quick/cpu": cpu,
            "full/cuda": {**cpu, "size": "full", "device": "cuda:0", "seconds": 4000},
        },
    )
    assert teaching.run_time(info, "quick", "cpu") == "41 s"
    assert teaching.run_time(info, "quick", "colab") == teaching.NOT_MEASURED
    assert teaching.run_time(info, None, "colab") == teaching.NOT_MEASURED
    assert teaching.run_time(info, "full", "gpu") == "67 min"
    assert teaching.run_time(info, "full", "cpu") == teaching.NOT_MEASURED
    info.runs["quick/colab"] = {**cpu, "colab": True, "seconds": 95.0}
    assert teaching.run_time(info, "quick", "colab") == "2 min"
    assert teaching.run_time(info, None, "colab") == "quick 2 min"
    assert teaching.run_time(info, "quick", "cpu") == "41 s"


def test_execute_records_each_size_and_keeps_the_others():
    import execute

    nb = nbformat.v4.new_notebook()
    nb.metadata["lstm_edu"] = {"runs": {"other/cuda": {"size": "other", "seconds": 1.0}}}
    record = execute.record_run(nb, 12.34, {"slow": 2.04, "fast": 0.2})
    key = f"{record['size']}/{record['device'].split(':')[0]}"
    meta = nb.metadata["lstm_edu"]
    assert meta["stored"] == key and meta["runs"][key] == record
    assert meta["runs"]["other/cuda"] == {"size": "other", "seconds": 1.0}
    assert record["seconds"] == 12.3 and record["slow_cells"] == {"slow": 2.0}
    assert {"device_name", "cpu_cores", "torch", "date", "colab"} <= set(record)
    nbformat.validate(nb)


def test_run_times_add_the_training_the_run_cache_saved():
    """A chapter that loaded its trained runs from the cache ran in seconds; a reader with an
    empty cache waits for the training too, and the teaching page says so."""
    import execute

    nb = nbformat.v4.new_notebook()
    from lstm_edu import settings

    line = ("This chapter ran at size=medium on device=cpu (CPU) with torch 2 in 7.0 s of wall "
            "time; it loaded trained runs from the run cache that had taken "
            f"{settings._duration(292)} to train.")  # the closing line's own format
    nb.cells = [nbformat.v4.new_code_cell("print(settings.closing_line())", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text=line + "\n")])]
    assert execute.cached_training_seconds(nb) == 292.0
    record = execute.record_run(nb, 7.0)
    assert record["cached_training_s"] == 292.0
    chapter = handouts.Chapter(Path("07_x.ipynb"), nb, [], set(), {})
    info = teaching.ChapterInfo(chapter, [], {"medium/cpu": {**record, "size": "medium"}})
    assert teaching.run_time(info, "medium", "cpu") == "5 min"
    nb.cells[0].outputs[0]["text"] = "This chapter ran at size=medium ... in 7.0 s of wall time.\n"
    assert execute.cached_training_seconds(nb) == 0.0
