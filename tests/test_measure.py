"""lstm_edu.measure: parameter counts, matched sizes, time per call, memory saved for backward."""

import pytest
import torch
from torch import nn

from lstm_edu.measure import closest_size, count_parameters, saved_bytes, time_call


def test_closest_size_and_count():
    assert count_parameters(nn.Linear(3, 2)) == 8
    assert closest_size(lambda n: n * n, 50, 1, 100) == 7
    assert closest_size(lambda n: n * n, 56, 1, 100) == 7
    assert closest_size(lambda n: n * n, 57, 1, 100) == 8
    assert closest_size(lambda n: n * n, 10_000_000, 1, 100) == 100
    with pytest.raises(ValueError):
        closest_size(lambda n: n, 3, 5, 1)


def test_saved_bytes_excludes_given_tensors():
    w = torch.randn(5, 5, requires_grad=True)
    x = torch.randn(3, 5)
    assert saved_bytes(lambda: x @ w.T, exclude=[w, x]) == 0
    assert saved_bytes(lambda: x @ w.T, exclude=[w]) == x.numel() * 4


def test_time_call_positive():
    assert time_call(lambda: torch.ones(3).sum(), repeats=2) > 0
