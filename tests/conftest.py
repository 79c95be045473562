"""Shared by the test suite: ``tools/`` on the import path, and two fixtures.

The helpers in ``tools/`` (``booktoc``, ``first_cell``, ...) are scripts, not a package: this file
puts their folder on ``sys.path`` so the tests can import them. ``one_thread`` runs a test with
one torch thread; ``randomise`` gives a module random parameters. (What the chapters' checker
tests share is in ``checker_cases.py``, imported from this folder like a test module.)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))


import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture
def one_thread():
    """Small tensors on a shared 2-core machine: one thread is many times faster than two
    fighting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def randomise():
    """``randomise(module, seed)``: random parameters everywhere, so a test cannot pass only
    because of a special initialisation (the HyperLSTM's makes the hyper state irrelevant)."""

    def _randomise(module, seed=0):
        torch.manual_seed(seed)
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(torch.randn_like(p) * 0.5)
        return module

    return _randomise
