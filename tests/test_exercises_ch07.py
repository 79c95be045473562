"""Chapter 7's checker: the right answer passes, wrong attempts get a hint, nothing crashes."""

from lstm_edu.exercises import ch07


def test_ch07_checker(capsys):
    assert ch07.check_hyper_step(ch07.reference_hyper_step)
    assert not ch07.check_hyper_step(lambda *a: ch07.reference_hyper_step(*a, typo=True))
    assert not ch07.check_hyper_step(lambda *a: 1 / 0)
    assert not ch07.check_hyper_step(lambda *a: None)
    assert not ch07.check_hyper_step(
        lambda *a: (lambda r: (r[1], r[0], r[2], r[3]))(ch07.reference_hyper_step(*a)))
    assert not ch07.check_hyper_step(
        lambda *a: (lambda r: (r[0], r[1], r[3], r[2]))(ch07.reference_hyper_step(*a)))
    assert not ch07.check_hyper_step(lambda *a: tuple(t[0] for t in ch07.reference_hyper_step(*a)))
    out = capsys.readouterr().out
    assert "typo" in out and "ZeroDivisionError" in out and "tuple" in out
    assert "h and c are swapped" in out and "h_hat and c_hat are swapped" in out and "shape" in out
    assert "Traceback" not in out


def test_ch07_checker_names_each_usual_mistake(capsys):
    """Each deliberate mistake fails with its own hint, the missing forget bias included."""
    for flags, hint in ch07._MISTAKES:
        assert not ch07.check_hyper_step(lambda *a, f=flags: ch07.reference_hyper_step(*a, **f))
        assert hint in capsys.readouterr().out, flags
