"""The book's diagrams (lstm_edu.display.diagrams) and the gate palette they share with plots."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import nbformat
import pytest

import booktoc
from lstm_edu.display import diagrams, palette

SVG = "{http://www.w3.org/2000/svg}"

# What a reader must find in each picture (text as it reads, sub- and superscripts run together).
EXPECTED = {
    "lstm-cell": [
        "ct−1",
        "ct",
        "ht−1",
        "ht",
        "xt",
        "σ(ft)",
        "σ(it)",
        "tanh(gt)",
        "σ(ot)",
        "tanh",
        "⊙",
        "+",
    ],
    "lstm-unrolled": ["c0", "h0", "cT", "LT", "x1", "x2", "x3", "xT", "⊙ σ(f)", "× Wh …"],
    "hyper-lstm": [
        "hyper cell",
        "ĥt",
        "zh",
        "zx",
        "zb",
        "Whzk zh",
        "Wxzk zx",
        "Wbzk zb + b0k",
        "dhk",
        "dxk",
        "bk",
        "Whk",
        "Wxk",
        "ht−1",
        "xt",
        "LN",
        "kt",
        "⊙",
        "+",
    ],
    "row-scaling": ["Whz", "z", "d", "diag(d)", "Wh (fixed)", "Wh(z)", "× d1", "× d6"],
}


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize("name", sorted(diagrams.ALL))
def test_diagram_is_valid_svg_with_alt_text_and_labels(name):
    d = diagrams.ALL[name]()
    assert d.name == name
    root = ET.fromstring(d.svg)  # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img" and len(root.get("viewBox").split()) == 4
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == d.alt
    assert root.get("aria-labelledby") == title.get("id")
    assert len(d.alt) > 200 and d.alt.startswith("Diagram of")
    found = texts(d.svg)
    missing = [label for label in EXPECTED[name] if label not in found]
    assert not missing, f"{name}: labels not drawn: {missing}; drawn: {found}"
    # every arrowhead used is defined
    ids = {m.get("id") for m in root.iter(f"{SVG}marker")}
    used = {e.get("marker-end")[5:-1] for e in root.iter() if e.get("marker-end")}
    assert used <= ids


def test_subscripts_become_tspans():
    d = diagrams._Canvas(10, 10, "t")
    d.text(0, 0, "c_{t-1} and W_h^k")
    root = ET.fromstring(d.render("alt").svg)
    text = next(root.iter(f"{SVG}text"))
    spans = list(text.iter(f"{SVG}tspan"))
    assert [(s.get("baseline-shift"), s.text) for s in spans] == [
        ("sub", "t−1"),
        ("sub", "h"),
        ("super", "k"),
    ]
    assert "".join(text.itertext()) == "ct−1 and Whk"


def test_escapes_text():
    d = diagrams._Canvas(10, 10, "t")
    d.text(0, 0, "a < b & c")
    assert "a < b & c" in texts(d.render("x < y").svg)


def test_one_colour_per_gate_in_the_diagrams():
    colours = list(palette.GATE_COLORS.values())
    assert len(set(colours)) == 4 and list(palette.GATE_COLORS) == ["i", "f", "g", "o"]
    for make in (diagrams.lstm_cell, diagrams.hyper_lstm):
        svg = make().svg
        assert all(c in svg for c in colours), make.__name__
    assert palette.STATE_COLORS["c"] in diagrams.lstm_cell().svg


def test_palette_colour_lookup():
    assert palette.color("f") == palette.color("sigma_f") == palette.GATE_COLORS["f"]
    assert palette.color("tanh_g") == palette.GATE_COLORS["g"]
    assert palette.color("c") == palette.STATE_COLORS["c"]
    with pytest.raises(KeyError, match="expected one of"):
        palette.color("forget")


def test_row_scaling_numbers_are_d():
    """The numbers printed in the d column are W_hz z for the drawn W_hz and z, and the rows of
    W_h(z) are drawn as d_i times the rows of W_h (checked through the colour of one cell)."""
    d = diagrams.row_scaling(n_h=4, n_z=2, seed=1)
    numbers = [t for t in texts(d.svg) if t[:1] in "+−"]
    assert len(numbers) == 4
    assert "N_h = 4 and N_z = 2" in d.alt


def test_bad_sizes_fail_clearly():
    with pytest.raises(ValueError, match="n_h"):
        diagrams.row_scaling(n_h=40)
    with pytest.raises(ValueError, match="n_shown"):
        diagrams.lstm_unrolled(n_shown=0)


def test_save(tmp_path):
    path = diagrams.lstm_cell().save(tmp_path)
    assert path.name == "lstm-cell.svg" and path.read_text().startswith("<svg")
    assert diagrams.main([str(tmp_path / "all")]) == 0
    assert sorted(p.stem for p in (tmp_path / "all").glob("*.svg")) == sorted(diagrams.ALL)


def _diagram_cells():
    for entry in booktoc.entries():
        path = booktoc.resolve(entry)
        if path is None or path.suffix != ".ipynb":
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and "diagrams." in cell.source:
                for name, make in diagrams.ALL.items():
                    if f"diagrams.{make.__name__}(" in cell.source:
                        yield path.name, name, cell


def test_chapters_show_each_diagram_with_its_alt_text():
    """A chapter cell that shows a diagram carries the diagram's own alt text (mystnb.image.alt)
    and its stored output is the diagram's current SVG."""
    seen = set()
    for chapter, name, cell in _diagram_cells():
        seen.add(name)
        alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt")
        assert alt == diagrams.ALL[name]().alt, (
            f"{chapter}: the cell showing {name} needs its alt text"
        )
        svgs = [
            o["data"]["image/svg+xml"]
            for o in cell.get("outputs", [])
            if "image/svg+xml" in o.get("data", {})
        ]
        assert svgs == [diagrams.ALL[name]().svg], (
            f"{chapter}: re-execute, the stored {name} is outdated"
        )
    assert seen == set(diagrams.ALL), f"diagrams no chapter shows: {set(diagrams.ALL) - seen}"
