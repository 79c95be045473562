"""Chapter 8's checker: right answers pass, each typical mistake gets its own hint, nothing
crashes."""

import pytest
import torch

from checker_cases import assert_fails_with_hint
from lstm_edu.analysis import hyper_inspect as hi
from lstm_edu.exercises import ch08


def right(d, w_d):
    return ((d[1:] - d[:-1]).pow(2) * w_d.pow(2).sum(dim=1)).sum(-1).sqrt()


def explicit(d, w_d):  # builds every W(t): slower, also right
    w = d[:, :, None] * w_d
    return torch.stack([torch.linalg.norm(w[t] - w[t - 1]) for t in range(1, len(d))])


def by_numpy(d, w_d):
    # leaves torch and comes back: the watch over torch's ops must not get in the way
    dn, wn = d.numpy(), w_d.numpy()
    return torch.from_numpy((((dn[1:] - dn[:-1]) ** 2) * (wn ** 2).sum(1)).sum(-1) ** 0.5)


def test_right_answers_pass(capsys):
    assert ch08.check_weight_change(right)
    assert ch08.check_weight_change(lambda d, w: hi.weight_change(d, w)[1:])  # the package's
    assert ch08.check_weight_change(lambda d, w: ((d[1:] - d[:-1]) ** 2 @ w.square().sum(1)).sqrt())
    assert ch08.check_weight_change(
        lambda d, w: torch.linalg.norm((d[1:] - d[:-1]) * w.norm(dim=1), dim=1))
    assert ch08.check_weight_change(
        lambda d, w: right(d.double(), w.detach().clone().double()).float())
    assert ch08.check_weight_change(by_numpy)
    assert "✅" in capsys.readouterr().out


def _loop(d, w_d):  # one W(t) at a time: right values, but the matrices are built
    return torch.stack([
        torch.linalg.matrix_norm(torch.diag(d[t]) @ w_d - torch.diag(d[t - 1]) @ w_d)
        for t in range(1, len(d))])


@pytest.mark.parametrize("fn", [
    explicit, _loop,
    lambda d, w: ((d[1:] - d[:-1])[:, :, None] ** 2 * w[None] ** 2).sum((1, 2)).sqrt()])
def test_building_the_matrices_gets_a_hint(fn, capsys):
    assert ch08.check_weight_change(fn) is False
    out = capsys.readouterr().out
    assert (out.startswith("❌")
            and "the values are right, but your function built weight matrices" in out)


def _stub(d, w_d):
    raise NotImplementedError


def _with_step0(d, w_d):
    return torch.cat([torch.zeros(1), right(d, w_d)])


@pytest.mark.parametrize("fn, hint", [
    (_stub, "NotImplementedError"),
    (_with_step0, "step 0 has no previous d"),
    (lambda d, w: right(d, w).pow(2), "square root"),
    (lambda d, w: (d[1:] - d[:-1]).norm(dim=-1), "the change of d alone"),
    (lambda d, w: ((d[1:] - d[:-1])[:, : w.shape[1]].pow(2) * w.pow(2).sum(dim=0)).sum(-1).sqrt(),
     "row norms"),
    (lambda d, w: ((d[1:] - d[:-1]).pow(2) * w.norm(dim=1)).sum(-1).sqrt(), "*squared*"),
    (lambda d, w: d @ w @ d, "raised RuntimeError"),
    (lambda d, w: right(d, w).tolist(), "got list"),
    (lambda d, w: right(d, w)[:, None], "shape [T-1]"),
    (lambda d, w: right(d, w) + 0.1, "wrong values"),
    (lambda d, w: right(d.sub_(1), w), "in place"),
    (3, "pass the function itself"),
    (lambda d, w: (d[1:] - d[:-1]).abs().mul(w.norm(dim=1)).sum(-1), "adds the rows' norms"),
    (lambda d, w: torch.ones(len(d) - 1, dtype=torch.long), "floating-point"),
    (lambda d, w: right(d, w) * float("nan"), "nan or inf"),
    (lambda d, w: (d[1:] - d[:-1]).pow(2).sum(-1).sub(1e3).sqrt(), "nan or inf"),
])
def test_wrong_answers_get_a_hint(fn, hint, capsys):
    assert_fails_with_hint(ch08.check_weight_change, fn, hint, capsys)
