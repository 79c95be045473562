"""Chapter 4's checkers accept the reference solutions and answer wrong attempts with a hint."""

import math

import pytest
import torch
import torch.nn.functional as F

from checker_cases import WRONG_KINDS, assert_fails_with_hint, crash, stub
from lstm_edu.exercises import ch04


def bpc_right(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)) / math.log(2)


@pytest.mark.parametrize("fn, hint", [
    (stub, "NotImplementedError"),
    (crash, "ZeroDivisionError"),
    (lambda z, t: F.cross_entropy(z.reshape(-1, z.shape[-1]), t.reshape(-1)), "nats"),
    (lambda z, t: -bpc_right(z, t), "sign"),
    (lambda z, t: bpc_right(z, t) * t.numel(), "sum"),
    (lambda z, t: -torch.gather(z, 2, t.unsqueeze(-1)).mean() / math.log(2), "log_softmax"),
    (lambda z, t: z.mean(-1), "scalar"),
    ("not a function", "expected a function"),
])
def test_bits_per_char_hints(capsys, fn, hint):
    assert_fails_with_hint(ch04.check_bits_per_char, fn, hint, capsys)


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


@pytest.mark.parametrize("check", [ch04.check_bits_per_char, ch04.check_temperature_probs])
@pytest.mark.parametrize("fn, hint", WRONG_KINDS)
def test_any_wrong_kind_of_answer_gets_a_hint_not_a_traceback(capsys, check, fn, hint):
    assert_fails_with_hint(check, fn, hint, capsys)


@pytest.mark.parametrize("check, fn, hint", [
    (ch04.check_bits_per_char, lambda z, t: torch.tensor(float("nan")), "nan or inf"),
    (ch04.check_temperature_probs, lambda z, t: torch.full_like(z, float("nan")), "nan or inf"),
])
def test_non_finite_and_complex_answers_are_named(capsys, check, fn, hint):
    assert check(fn) is False
    assert hint in capsys.readouterr().out
