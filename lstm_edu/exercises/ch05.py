"""Checkers for chapter 5 (looking inside a trained LSTM)."""

from __future__ import annotations

from typing import Callable

import torch

from ..analysis.activations import correlations, saturation
from . import Hint, attempt, compare, readable, run_checker


def _as_pair(got):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Hint(f"return a pair (left, right), got {type(got).__name__}")
    return got


def check_saturation(fn: Callable[[torch.Tensor], tuple]) -> bool:
    """Check ``fn(gate) -> (left, right)``: per unit, the fraction of positions with ``gate < 0.1``
    (left-saturated) and with ``gate > 0.9`` (right-saturated). ``gate`` is ``[T, H]``; each answer
    ``[H]``.
    """

    def body() -> None:
        gen = torch.Generator().manual_seed(6)
        gate = torch.sigmoid(3 * torch.randn(40, 5, generator=gen))
        gate[0, 0], gate[1, 1] = 0.1, 0.9  # exactly on the thresholds: not saturated
        want_left, want_right = saturation(gate)
        left, right = _as_pair(attempt(fn, gate.clone(), what="your function"))
        left, right = readable("left", left), readable("right", right)
        for name, got, want in (("left", left, want_left), ("right", right, want_right)):
            if isinstance(got, torch.Tensor) and got.shape == (40,):
                raise Hint(f"{name} has one value per position [T]; average over the positions "
                           "(dim 0) to get one per unit [H]")
            if (isinstance(got, torch.Tensor) and got.shape == want.shape
                    and got.dtype == torch.bool):
                raise Hint(f"{name} is boolean: convert with .float() before taking the mean")
        if (isinstance(left, torch.Tensor) and isinstance(right, torch.Tensor)
                and left.shape == want_left.shape):
            if (torch.allclose(left.float(), want_right)
                    and torch.allclose(right.float(), want_left)):
                raise Hint("left and right are swapped: left-saturated means close to 0 (gate < "
                           "0.1)")
            strict = (gate <= 0.1).float().mean(0), (gate >= 0.9).float().mean(0)
            if torch.allclose(left.float(), strict[0]) or torch.allclose(right.float(), strict[1]):
                raise Hint("a value exactly at 0.1 or 0.9 is not saturated: use < 0.1 and > 0.9")
            if (torch.allclose(left.float(), want_left * 40)
                    or torch.allclose(right.float(), want_right * 40)):
                raise Hint("those are counts; divide by the number of positions to get fractions")
        compare("left", left, want_left, hint="(gate < 0.1).float().mean(dim=0)")
        compare("right", right, want_right, hint="(gate > 0.9).float().mean(dim=0)")

    return run_checker("saturation", body)


def check_correlations(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Check ``fn(acts, feature) -> r``: the Pearson correlation of each unit of ``acts [T, H]``
    with ``feature [T]``, ``r [H]``.
    """

    def body() -> None:
        gen = torch.Generator().manual_seed(7)
        feature = (torch.rand(60, generator=gen) > 0.5).float()
        acts = torch.randn(60, 4, generator=gen, dtype=torch.float64)
        acts[:, 0] += 3 * feature
        acts[:, 1] = 5 - 2 * acts[:, 1] - feature + 10  # an offset that only centring removes
        want = correlations(acts, feature).double()
        got = readable("r", attempt(fn, acts.clone(), feature.clone(), what="your function"))
        if isinstance(got, torch.Tensor) and got.shape == want.shape:
            g = got.double()
            cov = ((acts - acts.mean(0))
                   * (feature.double() - feature.double().mean())[:, None]).mean(0)
            if torch.allclose(g, cov, atol=1e-6):
                raise Hint("that is the covariance; divide by the two standard deviations to get r "
                           "in [-1, 1]")
            if g.abs().max() > 1 + 1e-6:
                raise Hint("a correlation lies in [-1, 1], yours reaches "
                           f"{g.abs().max().item():.3g}: "
                           "subtract the means and divide by the norms (or standard deviations)")
        compare("r", got, want, atol=1e-5, rtol=1e-4,
                hint="centre both (x - x.mean()), then r = (a * f).sum(0) / (a.norm(dim=0) * "
                     "f.norm())")

    return run_checker("correlations", body)


__all__ = ["check_saturation", "check_correlations"]
