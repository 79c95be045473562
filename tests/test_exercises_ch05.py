"""Chapter 5's checkers accept the reference solutions and answer wrong attempts with a hint."""

import pytest
import torch

from checker_cases import WRONG_KINDS, assert_fails_with_hint, stub
from lstm_edu.exercises import ch05


@pytest.mark.parametrize("fn, hint", [
    (stub, "NotImplementedError"),
    (lambda g: (g < 0.1).float().mean(0), "pair"),
    (lambda g: ((g < 0.1).float().mean(1), (g > 0.9).float().mean(1)), "per position"),
    (lambda g: ((g > 0.9).float().mean(0), (g < 0.1).float().mean(0)), "swapped"),
    (lambda g: ((g <= 0.1).float().mean(0), (g >= 0.9).float().mean(0)), "exactly at"),
    (lambda g: ((g < 0.1).float().sum(0), (g > 0.9).float().sum(0)), "counts"),
    (lambda g: ((g < 0.1).mean(0), (g > 0.9).mean(0)), "raised"),
])
def test_saturation_hints(capsys, fn, hint):
    assert ch05.check_saturation(fn) is False
    assert hint in capsys.readouterr().out


def test_saturation_accepts_solution():
    assert ch05.check_saturation(
        lambda g: ((g < 0.1).float().mean(0), (g > 0.9).float().mean(0))) is True


def corr_right(a, f):
    a = a - a.mean(0)
    f = f - f.mean()
    return (a * f[:, None]).sum(0) / (a.norm(dim=0) * f.norm())


@pytest.mark.parametrize("fn, hint", [
    (stub, "NotImplementedError"),
    (lambda a, f: ((a - a.mean(0)) * (f - f.mean())[:, None]).mean(0), "covariance"),
    (lambda a, f: (a * f[:, None]).sum(0), "[-1, 1]"),
    (lambda a, f: (a * f[:, None]).sum(0) / (a.norm(dim=0) * f.norm()), "wrong values"),
])
def test_correlation_hints(capsys, fn, hint):
    assert ch05.check_correlations(fn) is False
    assert hint in capsys.readouterr().out


def test_correlation_accepts_solution():
    assert ch05.check_correlations(corr_right) is True


@pytest.mark.parametrize("check", [ch05.check_saturation, ch05.check_correlations])
@pytest.mark.parametrize("fn, hint", WRONG_KINDS)
def test_any_wrong_kind_of_answer_gets_a_hint_not_a_traceback(capsys, check, fn, hint):
    assert_fails_with_hint(check, fn, hint, capsys)


@pytest.mark.parametrize("check, fn, hint", [
    (ch05.check_correlations, lambda a, f: torch.full((a.shape[1],), float("inf")), "nan or inf"),
    (ch05.check_saturation, lambda g: (torch.full((5,), float("nan")),) * 2, "nan or inf"),
    (ch05.check_correlations, lambda a, f: torch.zeros(a.shape[1], dtype=torch.complex64),
     "complex"),
])
def test_non_finite_and_complex_answers_are_named(capsys, check, fn, hint):
    assert check(fn) is False
    assert hint in capsys.readouterr().out
