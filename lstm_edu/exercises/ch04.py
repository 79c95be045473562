"""Checkers for chapter 4 (training an LSTM)."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from . import Hint, attempt, compare, readable, run_checker


def check_bits_per_char(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    r"""Check ``fn(logits, targets) -> bpc``: the mean cross-entropy in bits per character.

    ``logits`` ``[T, B, V]`` are a model's scores, ``targets`` ``[T, B]`` the characters that came
    next; the answer is a scalar tensor :math:`-\frac{1}{TB}\sum_{t,b} \log_2
    p(\text{targets}_{t,b})`.
    """

    def body() -> None:
        gen = torch.Generator().manual_seed(4)
        T, B, V = 6, 3, 7
        logits = 2 * torch.randn(T, B, V, generator=gen, dtype=torch.float64)
        targets = torch.randint(0, V, (T, B), generator=gen)
        want = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1)) / math.log(2)
        got = attempt(fn, logits.clone(), targets.clone(), what="your function")
        if isinstance(got, (float, int)) and not isinstance(got, bool):
            got = torch.tensor(float(got), dtype=torch.float64)
        got = readable("your bpc", got)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.double().reshape(())
            nats = want * math.log(2)
            if torch.isclose(got, nats):
                raise Hint("that is the cross-entropy in nats (natural log); divide by ln 2 for "
                           "bits")
            if torch.isclose(got, -want) or torch.isclose(got, -nats):
                raise Hint("the sign is flipped: bits per character is minus the mean "
                           "log-probability")
            if torch.isclose(got, want * T * B) or torch.isclose(got, nats * T * B):
                raise Hint("that is the sum over all characters; take the mean")
            raw = -(torch.gather(logits, 2, targets.unsqueeze(-1)).squeeze(-1)).mean() / math.log(2)
            if torch.isclose(got, raw):
                raise Hint("logits are not log-probabilities: apply log_softmax over the last "
                           "dimension first")
        elif isinstance(got, torch.Tensor):
            raise Hint(f"return one number (a scalar tensor), got shape {list(got.shape)}: average "
                       "over T and B")
        compare("bpc", got, want.reshape(()), atol=1e-9, rtol=1e-7,
                hint="bpc = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1)) / "
                     "math.log(2)")

    return run_checker("bits_per_char", body)


def check_temperature_probs(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> bool:
    r"""Check ``fn(logits, temperature) -> probs``: :math:`p_k = e^{z_k/\tau} / \sum_j
    e^{z_j/\tau}`.

    ``logits`` ``[V]`` (one step's scores ``z``), ``temperature`` :math:`\tau > 0`; ``probs``
    ``[V]``.
    """

    def body() -> None:
        gen = torch.Generator().manual_seed(5)
        z = 3 * torch.randn(9, generator=gen, dtype=torch.float64)
        for tau in (1.0, 0.5, 2.0):
            got = readable(f"your answer at temperature {tau}",
                  attempt(fn, z.clone(), tau, what=f"your function (temperature {tau})"))
            want = torch.softmax(z / tau, dim=-1)
            if isinstance(got, torch.Tensor) and got.shape == want.shape:
                g = got.double()
                if not torch.isclose(g.sum(), torch.tensor(1.0, dtype=torch.float64)):
                    raise Hint(f"at temperature {tau} your probabilities sum to "
                               f"{g.sum().item():.4f}, not 1: "
                               "normalise with softmax")
                if torch.allclose(g, torch.softmax(z * tau, dim=-1)) and tau != 1.0:
                    raise Hint("you multiplied the logits by the temperature; divide them: "
                               "a low temperature must sharpen the distribution")
                if torch.allclose(g, torch.softmax(z, dim=-1) ** (1 / tau)) and tau != 1.0:
                    raise Hint("raising the probabilities to 1/τ is right, but then renormalise "
                               "them to sum to 1")
            compare(f"probs at temperature {tau}", got, want, atol=1e-8, rtol=1e-6,
                    hint="probs = softmax(logits / temperature)")
        # very low temperatures must not overflow
        got = attempt(fn, torch.tensor([1000.0, 999.0, 0.0], dtype=torch.float64), 0.01,
                      what="your function (temperature 0.01)")
        if (isinstance(got, torch.Tensor) and got.device.type != "meta"
                and not torch.isfinite(got.detach().cpu()).all()):
            raise Hint("at temperature 0.01 your probabilities contain nan or inf: exp(z/τ) "
                       "overflows; "
                       "subtract the largest logit first, or use torch.softmax")
        got = readable("your answer at temperature 0.01", got)
        compare("probs at temperature 0.01", got,
                torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), atol=1e-6)

    return run_checker("temperature_probs", body)


__all__ = ["check_bits_per_char", "check_temperature_probs"]
