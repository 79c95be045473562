"""lstm_edu.display.html: a text coloured character by character."""

import pytest

from lstm_edu.display.html import colored_text_html


def test_colored_text_html_escapes_and_colours():
    out = colored_text_html("<a>\n", [1.0, 0.0, -1.0, 0.5], title="unit 3")
    assert "&lt;" in out and "<a>" not in out
    assert out.count("<span") == 4 and "↵" in out and "unit 3" in out
    assert "rgb(255,0,0)" in out and "rgb(0,0,255)" in out and "rgb(255,255,255)" in out
    with pytest.raises(ValueError):
        colored_text_html("ab", [1.0])


def test_colored_text_html():
    out = colored_text_html("a<b\nc", [0.0, 1.0, float("nan"), 0.5, 2.0], vmin=0.0, vmax=2.0,
                            label="Δ")
    assert out.count("<span style=\"background") >= 5
    assert "&lt;" in out and "<b\n" not in out  # escaped
    assert "↵" in out and "<br>" in out
    assert "Δ: n/a" in out and "Δ = 2" in out
    spans = [s for s in out.split("<span")[1:6]]
    assert "background:#fff5f0;color:#000000" in spans[0]  # vmin: the first colour of Reds
    assert "background:#ffffff" in spans[2]  # nan: uncoloured
    assert "background:#67000d;color:#ffffff" in spans[4]  # vmax: the last colour, white text
    with pytest.raises(ValueError, match="one number per character"):
        colored_text_html("abc", [1.0, 2.0])
