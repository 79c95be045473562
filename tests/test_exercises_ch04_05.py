"""The chapter 4 and 5 checkers accept the reference solutions and answer wrong attempts with a hint."""

import math

import pytest
import torch
import torch.nn.functional as F

from lstm_edu.exercises import ch04, ch05


def stub(*args):
    raise NotImplementedError


def crash(*args):
    return 1 / 0


def bpc_right(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)) / math.log(2)


@pytest.mark.parametrize("fn, hint", [
    (stub, "NotImplementedError"),
    (crash, "ZeroDivisionError"),
    (lambda l, t: F.cross_entropy(l.reshape(-1, l.shape[-1]), t.reshape(-1)), "nats"),
    (lambda l, t: -bpc_right(l, t), "sign"),
    (lambda l, t: bpc_right(l, t) * t.numel(), "sum"),
    (lambda l, t: -torch.gather(l, 2, t.unsqueeze(-1)).mean() / math.log(2), "log_softmax"),
    (lambda l, t: l.mean(-1), "scalar"),
    ("not a function", "expected a function"),
])
def test_bits_per_char_hints(capsys, fn, hint):
    assert ch04.check_bits_per_char(fn) is False
    out = capsys.readouterr().out
    assert out.startswith("❌") and hint in out


def test_bits_per_char_accepts_solution(capsys):
    assert ch04.check_bits_per_char(bpc_right) is True
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize("fn, hint", [
    (stub, "NotImplementedError"),
    (lambda z, t: torch.softmax(z * t, -1), "multiplied"),
    (lambda z, t: torch.exp(z / t), "sum to"),
    (lambda z, t: torch.exp(z / t) / torch.exp(z / t).sum(), "overflow"),
    (lambda z, t: torch.softmax(z, -1), "wrong values"),
])
def test_temperature_hints(capsys, fn, hint):
    assert ch04.check_temperature_probs(fn) is False
    assert hint in capsys.readouterr().out


def test_temperature_accepts_solution():
    assert ch04.check_temperature_probs(lambda z, t: torch.softmax(z / t, dim=-1)) is True


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
    assert ch05.check_saturation(lambda g: ((g < 0.1).float().mean(0), (g > 0.9).float().mean(0))) is True


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


def raise_value_error(*args):
    raise ValueError("oops")


WRONG_KINDS = [
    (lambda *a: None, ""),
    (raise_value_error, "ValueError"),
    (lambda *a: torch.zeros(2, 2), ""),  # wrong shape (saturation: not a pair)
    (lambda *a: (torch.zeros(3), torch.zeros(3)), ""),
    (lambda *a: [0.5, 0.5], ""),
    (lambda *a: torch.full_like(a[0], float("nan")), ""),
    (lambda *a: a[0].to(torch.complex64), ""),
    (lambda *a: torch.zeros(a[0].shape[-1:], device="meta"), ""),
    (lambda: 1, "could not be called"),
]


@pytest.mark.parametrize("check", [ch04.check_bits_per_char, ch04.check_temperature_probs,
                                   ch05.check_saturation, ch05.check_correlations])
@pytest.mark.parametrize("fn, hint", WRONG_KINDS)
def test_any_wrong_kind_of_answer_gets_a_hint_not_a_traceback(capsys, check, fn, hint):
    assert check(fn) is False
    out = capsys.readouterr().out
    assert out.startswith("❌") and hint in out


@pytest.mark.parametrize("check, fn, hint", [
    (ch04.check_bits_per_char, lambda l, t: torch.tensor(float("nan")), "nan or inf"),
    (ch04.check_temperature_probs, lambda z, t: torch.full_like(z, float("nan")), "nan or inf"),
    (ch05.check_correlations, lambda a, f: torch.full((a.shape[1],), float("inf")), "nan or inf"),
    (ch05.check_saturation, lambda g: (torch.full((5,), float("nan")),) * 2, "nan or inf"),
    (ch05.check_correlations, lambda a, f: torch.zeros(a.shape[1], dtype=torch.complex64), "complex"),
])
def test_non_finite_and_complex_answers_are_named(capsys, check, fn, hint):
    assert check(fn) is False
    assert hint in capsys.readouterr().out
