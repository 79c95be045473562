"""Every chapter is stored executed: the book is built from these outputs, never re-run.

For each notebook in the table of contents: every code cell ran, in order, in one fresh kernel
(execution counts 1, 2, 3, ...), no output is an error (except in cells tagged
``raises-exception``), and when a cell displays a widget the notebook saved the widget state the
built page needs to draw it. Fix a failure with ``make execute NB=book/NN_name.ipynb``.
"""

from __future__ import annotations

import nbformat
import pytest

import booktoc
import execute

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
ENTRIES = booktoc.entries()


def test_toc_pages_exist():
    missing = [e for e in ENTRIES if booktoc.resolve(e) is None]
    assert not missing, f"the table of contents lists pages that do not exist: {missing}"


def _notebooks():
    return [e for e in ENTRIES if (p := booktoc.resolve(e)) is not None and p.suffix == ".ipynb"]


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


@pytest.mark.parametrize("entry", _notebooks())
def test_every_code_cell_ran_in_order(entry):
    nb = nbformat.read(booktoc.resolve(entry), as_version=4)
    counts = [c.execution_count for c in _code_cells(nb)]
    assert counts, "a chapter with no code"
    unrun = [i for i, n in enumerate(counts) if n is None]
    assert not unrun, f"code cells {unrun} (0-based, among code cells) were never executed"
    assert counts == list(range(1, len(counts) + 1)), (
        f"execution counts {counts}: not one top-to-bottom run in a fresh kernel; run `make "
        "execute NB=...`")


@pytest.mark.parametrize("entry", _notebooks())
def test_no_error_outputs(entry):
    nb = nbformat.read(booktoc.resolve(entry), as_version=4)
    errors = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "raises-exception" in cell.metadata.get("tags", []):
            continue
        for out in cell.outputs:
            if out.output_type == "error":
                errors.append(f"cell {i}: {out.ename}: {out.evalue}")
            elif out.output_type == "stream" and "Traceback (most recent call last)" in out.text:
                errors.append(f"cell {i}: a traceback printed to {out.name}")
    assert not errors, "stored outputs contain errors:\n" + "\n".join(errors)


@pytest.mark.parametrize("entry", _notebooks())
def test_widget_state_saved(entry):
    nb = nbformat.read(booktoc.resolve(entry), as_version=4)
    views = [out.data[WIDGET_VIEW]["model_id"] for c in nb.cells if c.cell_type == "code"
             for out in c.outputs if WIDGET_VIEW in out.get("data", {})]
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    missing = [m for m in views if m not in state]
    assert not missing, (f"{len(missing)} of {len(views)} displayed widgets have no saved state, "
                         "so the "
                         "built page would show nothing; run `make execute NB=...` (it stores "
                         "widget state)")


def test_execute_tool_stores_outputs_and_widget_state(tmp_path):
    """tools/execute.py: fresh kernel in the notebook's folder, size/device passed, widget state
    saved;
    a notebook that raises is left untouched."""
    import subprocess
    import sys

    good = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os\nprint(os.getcwd())\n"
                                  "print(os.environ['LSTM_EDU_SIZE'], "
                                  "os.environ['LSTM_EDU_DEVICE'])"),
        nbformat.v4.new_code_cell("import ipywidgets\nipywidgets.IntSlider(value=3)"),
    ])
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise ValueError('boom')")])
    (tmp_path / "sub").mkdir()
    good_path, bad_path = tmp_path / "sub" / "good.ipynb", tmp_path / "bad.ipynb"
    nbformat.write(good, good_path)
    nbformat.write(bad, bad_path)
    bad_before = bad_path.read_text()

    proc = subprocess.run([sys.executable, str(booktoc.ROOT / "tools" / "execute.py"), "--size",
                           "full",
                           "--device", "cpu", str(good_path), str(bad_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the bad one failed
    assert "boom" in proc.stderr
    assert bad_path.read_text() == bad_before

    nb = nbformat.read(good_path, as_version=4)
    assert [c.execution_count for c in nb.cells] == [1, 2]
    assert nb.cells[0].outputs[0].text.split("\n")[:2] == [str(good_path.parent), "full cpu"]
    views = [o.data[WIDGET_VIEW]["model_id"] for o in nb.cells[1].outputs
             if WIDGET_VIEW in o.get("data", {})]
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    assert len(views) == 1 and views[0] in state
    assert state[views[0]]["state"]["value"] == 3


@pytest.mark.parametrize("entry", _notebooks())
def test_ends_with_the_closing_line(entry):
    """The last code cell prints size, device, torch version and wall time of the stored run."""
    nb = nbformat.read(booktoc.resolve(entry), as_version=4)
    assert "settings.closing_line()" in _code_cells(nb)[-1].source, (
        "the last code cell should be print(settings.closing_line())")
    text = execute.closing_text(nb)
    assert text.startswith("This chapter ran at size="), f"its stored output is {text!r}"


@pytest.mark.parametrize("entry", _notebooks())
def test_stored_run_is_medium_or_full(entry):
    """The published book shows trained results: every chapter is stored from a run at the
    medium size (a 2-core CPU) or the full size (a GPU), never the quick size the tests use.
    Store a chapter with `make execute NB=... SIZE=medium DEVICE=cpu`."""
    text = execute.closing_text(nbformat.read(booktoc.resolve(entry), as_version=4))
    assert text.startswith(("This chapter ran at size=medium", "This chapter ran at size=full")), (
        f"stored from another size: {text.strip()!r}")
