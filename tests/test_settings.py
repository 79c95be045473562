"""Tests for lstm_edu.settings: the three sizes, pick, and the chapter's closing line."""

import pytest
import torch

from lstm_edu import settings


@pytest.mark.parametrize("size, expected", [("quick", 1), ("medium", 2), ("full", 3)])
def test_pick_takes_the_value_of_the_current_size(monkeypatch, size, expected):
    monkeypatch.setattr(settings, "SIZE", size)
    assert settings.pick(quick=1, medium=2, full=3) == expected


def test_pick_without_medium_takes_full_at_medium(monkeypatch):
    monkeypatch.setattr(settings, "SIZE", "medium")
    assert settings.pick(quick=1, full=3) == 3
    monkeypatch.setattr(settings, "SIZE", "quick")
    assert settings.pick(1, 3) == 1


def test_size_from_the_environment(monkeypatch):
    for size in settings.SIZES:
        monkeypatch.setenv("LSTM_EDU_SIZE", f" {size.upper()} ")
        assert settings._size() == size
    monkeypatch.setenv("LSTM_EDU_SIZE", "huge")
    with pytest.raises(ValueError, match="quick.*medium.*full.*'huge'"):
        settings._size()
    monkeypatch.delenv("LSTM_EDU_SIZE")
    assert settings._size() == ("full" if torch.cuda.is_available() else "quick")


def test_closing_line_names_size_device_torch_and_time(monkeypatch):
    settings.describe()
    monkeypatch.setattr(settings, "_started", settings._started - 125)
    line = settings.closing_line()
    assert f"size={settings.SIZE}" in line and str(settings.DEVICE) in line
    assert settings.device_name() in line and torch.__version__ in line
    assert "2 min 5 s" in line


def test_closing_line_reports_training_loaded_from_the_run_cache(monkeypatch):
    from lstm_edu.training import runcache

    settings.describe()
    assert runcache.SECONDS == {"trained": 0.0, "loaded": 0.0}
    assert "run cache" not in settings.closing_line()
    runcache.SECONDS["loaded"] += 754.0
    assert "had taken 12 min 34 s to train" in settings.closing_line()
    settings.describe()
    assert runcache.SECONDS["loaded"] == 0.0
