"""lstm_edu.display.text_widgets: the cell browser (chapter 5), the change explorer (chapter 8)."""

import pytest
import torch

from lstm_edu import LSTM
from lstm_edu.analysis.activations import record_lstm
from lstm_edu.display.text_widgets import cell_browser, change_explorer

pytestmark = pytest.mark.usefixtures("one_thread")


def test_cell_browser_renders_and_updates():
    torch.manual_seed(0)
    lstm = LSTM(3, 4, 2)
    rec = record_lstm(lstm, torch.randn(5, 1, 3))
    box = cell_browser(rec, "hello", layer=1, unit=2)
    (_layer_w, key_w, unit_w), html_w = box.children[0].children, box.children[1]
    assert "layer 1, unit 2, c" in html_w.value and html_w.value.count("<span") == 5
    key_w.value = "sigma_f"
    assert "layer 1, unit 2, sigma_f" in html_w.value
    unit_w.value = 3
    assert "unit 3" in html_w.value


def test_change_explorer_structure():
    ipywidgets = pytest.importorskip("ipywidgets")
    text = "hello"
    ch = torch.rand(len(text), 2, 4)
    w = change_explorer(text, ch)
    layer_pick, gate_pick = w.children[0].children
    outer = w.children[1].children[0]  # the one measure's stack of layers
    assert isinstance(outer, ipywidgets.Stack) and len(outer.children) == 2
    assert all(len(s.children) == 4 for s in outer.children)
    assert "layer 1, forget gate f" in outer.children[1].children[1].value
    assert [o[0] for o in gate_pick.options] == ["input gate i", "forget gate f", "candidate g",
                                                  "output gate o"]
    with pytest.raises(ValueError):
        change_explorer("hi", ch)


def test_change_explorer_with_two_measures():
    ipywidgets = pytest.importorskip("ipywidgets")
    text = "abc"
    w = change_explorer(text, {"‖Δd‖": torch.rand(3, 1, 4), "‖ΔW‖": torch.rand(3, 1, 4) + 5})
    measure_pick, layer_pick, gate_pick = w.children[0].children
    assert [o[0] for o in measure_pick.options] == ["‖Δd‖", "‖ΔW‖"]
    page = w.children[1].children[1].children[0].children[3]  # measure ‖ΔW‖, layer 0, gate o
    assert isinstance(page, ipywidgets.HTML) and "‖ΔW‖: layer 0, output gate o" in page.value
    # every dropdown drives its stacks through a browser-side link (works without a kernel)
    pairs = {(id(link.source[0]), id(link.target[0])) for link in w.links}
    assert all(link.source[1] == "index" and link.target[1] == "selected_index" for link in w.links)
    assert (id(measure_pick), id(w.children[1])) in pairs
    for layer_stack in w.children[1].children:
        assert (id(layer_pick), id(layer_stack)) in pairs
        assert all((id(gate_pick), id(gate_stack)) in pairs for gate_stack in layer_stack.children)
    with pytest.raises(ValueError, match="same shape"):
        change_explorer(text, {"a": torch.rand(3, 1, 4), "b": torch.rand(3, 2, 4)})
    with pytest.raises(ValueError, match="empty"):
        change_explorer(text, {})
