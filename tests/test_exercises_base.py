"""The shared exercise-checking mechanism: wrong attempts become hints, never tracebacks."""

import torch

from lstm_edu.exercises import Hint, attempt, compare, run_checker


def _hint(fn):
    try:
        fn()
    except Hint as h:
        return str(h)
    raise AssertionError("no hint raised")


def test_attempt_reports_where_the_readers_code_failed():
    def broken(x):
        return x @ torch.ones(3, 3)  # wrong inner size

    msg = _hint(lambda: attempt(broken, torch.ones(2, 2), what="my_step"))
    assert msg.startswith("my_step raised RuntimeError") and "x @ torch.ones(3, 3)" in msg

    def fails_inside_torch(x):
        return torch.nn.functional.layer_norm(x, (5,))  # raises inside torch's Python code

    msg = _hint(lambda: attempt(fails_inside_torch, torch.ones(2, 2)))
    assert "torch.nn.functional.layer_norm(x, (5,))" in msg  # the reader's line, not torch's


def test_attempt_wrong_arity_and_placeholders():
    assert "could not be called with 2 argument(s)" in _hint(lambda: attempt(lambda x: x, 1, 2))
    def stub(x):
        raise NotImplementedError
    assert "NotImplementedError" in _hint(lambda: attempt(stub, 1))
    assert "expected a function, got int" in _hint(lambda: attempt(3, 1))


def test_compare_messages():
    want = torch.zeros(2, 3)
    assert "should be a torch.Tensor, got NoneType" in _hint(lambda: compare("h", None, want))
    msg = _hint(lambda: compare("h", torch.zeros(3, 2), want))
    assert "should have shape [2, 3], got [3, 2]" in msg
    msg = _hint(lambda: compare("h", torch.ones(2, 3), want, hint="check the sign"))
    assert "wrong values (largest difference 1)" in msg and "Hint: check the sign" in msg
    compare("h", torch.zeros(2, 3, dtype=torch.float64), want)  # dtype alone is not an error


def test_run_checker_prints_and_returns(capsys):
    assert run_checker("ok", lambda: None) is True
    assert run_checker("bad", lambda: compare("h", torch.ones(1), torch.zeros(1))) is False
    out = capsys.readouterr().out
    assert "✅ ok: correct" in out and "❌ bad: h has the right shape" in out
