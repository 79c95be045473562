"""What the chapters' checker tests share: a placeholder answer, a crashing one, answers of the
wrong kind, and running a checker with its printed line captured."""

import torch


def stub(*args):
    raise NotImplementedError


def crash(*args):
    return 1 / 0


def raise_value_error(*args):
    raise ValueError("oops")


def check(checker, fn, capsys):
    """``(passed, printed line)`` of ``checker(fn)``."""
    ok = checker(fn)
    return ok, capsys.readouterr().out


def assert_stubs_and_crashes_give_hints(checker, capsys):
    ok, out = check(checker, stub, capsys)
    assert not ok and "NotImplementedError" in out
    ok, out = check(checker, lambda *a: 1 / 0, capsys)
    assert not ok and "ZeroDivisionError" in out
    ok, out = check(checker, 42, capsys)
    assert not ok and "expected a function" in out


#: Answers of the wrong kind, each with a word its hint must contain ("" where any hint will do).
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


def assert_fails_with_hint(checker, fn, hint, capsys):
    """``checker(fn)`` fails and prints a ❌ line containing ``hint`` (not a traceback)."""
    assert checker(fn) is False
    out = capsys.readouterr().out
    assert out.startswith("❌") and hint in out
