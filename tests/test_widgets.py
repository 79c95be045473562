"""The gate explorer: the numbers it shows, in Python and in the browser's JavaScript."""

import json
import math
import shutil
import subprocess

import pytest
import torch

from lstm_edu import LSTMCell
from lstm_edu.display.widgets import (
    GATE_MATH_JS,
    bars_html,
    gate_explorer,
    gate_explorer_html,
    gate_values,
)


def test_gate_values_match_lstm_cell():
    # a one-unit LSTM cell with zero weights: the pre-activations are exactly the bias entries
    cell = LSTMCell(1, 1)
    i, f, g, o, c_prev = 0.3, -1.2, 2.0, 0.7, -0.8
    with torch.no_grad():
        cell.lin_x.weight.zero_()
        cell.lin_h.weight.zero_()
        cell.lin_h.bias.copy_(torch.tensor([i, f, g, o]))
        h, c = cell(torch.zeros(1, 1), torch.zeros(1, 1), torch.tensor([[c_prev]]))
    v = gate_values(i, f, g, o, c_prev)
    assert math.isclose(v["c"], c.item(), rel_tol=1e-6)
    assert math.isclose(v["h"], h.item(), rel_tol=1e-6)
    assert math.isclose(gate_values(0, -800, 0, 800, 0)["sigma_f"], 0.0, abs_tol=1e-300)


def test_ipywidget_explorer_recomputes_on_slider_move():
    box = gate_explorer()
    before = box.bars.value
    box.sliders["f"].value = -5.0
    assert box.bars.value != before
    values = {n: s.value for n, s in box.sliders.items()}
    assert box.bars.value == bars_html(gate_values(**values))


def test_html_explorer_starts_with_python_values():
    page = gate_explorer_html()
    assert "<script>" in page and "lstmEduGateValues" in page
    assert gate_explorer_html() != page  # a fresh element id per call
    v = gate_values(i=0.0, f=2.0, g=1.0, o=1.0, c_prev=1.0)
    assert f"{v['c']:+.3f}" in page and f"{v['h']:+.3f}" in page


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the JavaScript")
def test_javascript_math_matches_python():
    cases = [(0.0, 2.0, 1.0, 1.0, 1.0), (-3.0, 5.5, -2.0, 0.1, -2.5), (6.0, -6.0, 0.3, -4.0, 3.0)]
    script = GATE_MATH_JS + (f"console.log(JSON.stringify({json.dumps(cases)}"
                             ".map(a => lstmEduGateValues(...a))));")
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout
    for args, js in zip(cases, json.loads(out)):
        py = gate_values(*args)
        for key, value in py.items():
            assert math.isclose(js[key], value, rel_tol=1e-12, abs_tol=1e-15), key
