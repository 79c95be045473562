"""The checkers of chapters 9 and 9b (the fused step, the pointwise backward): the right answer
passes, wrong attempts get a hint, nothing crashes."""

import torch

from checker_cases import WRONG_KINDS, assert_stubs_and_crashes_give_hints, check
from lstm_edu.exercises import ch09


def test_fused_step_checker(capsys):
    ok, out = check(ch09.check_fused_step, ch09.reference_fused_step, capsys)
    assert ok and out.startswith("✅")
    assert_stubs_and_crashes_give_hints(ch09.check_fused_step, capsys)


def _with(change):
    def fn(gates, c_prev):
        return change(*ch09.reference_fused_step(gates, c_prev), gates, c_prev)
    return fn


def test_fused_step_hints(capsys):
    def sigmoid_g(act, c, h, gates, c_prev):
        return torch.sigmoid(gates), c, h

    wrong = [
        (sigmoid_g, "tanh, not σ"),
        (lambda act, c, h, gates, c_prev: (act, c_prev, h), "c_t = σ(f)"),
        (lambda act, c, h, gates, c_prev: (act, c, act.chunk(4, 1)[3] * torch.tanh(c_prev)),
         "the new c"),
        (lambda act, c, h, gates, c_prev: (act, h, c), "c_t = σ(f)"),
        (lambda act, c, h, gates, c_prev: (act, c), "tuple (act, c, h)"),
    ]
    for change, words in wrong:
        ok, out = check(ch09.check_fused_step, _with(change), capsys)
        assert not ok and words in out, out
        assert "Traceback" not in out
    for fn, words in WRONG_KINDS:
        ok, out = check(ch09.check_fused_step, fn, capsys)
        assert not ok and words in out and "Traceback" not in out, out


def test_pointwise_backward_checker(capsys):
    assert ch09.check_pointwise_backward(ch09.reference_pointwise_backward) is True

    def stub(*args):
        raise NotImplementedError

    assert ch09.check_pointwise_backward(stub) is False
    assert "NotImplementedError" in capsys.readouterr().out
