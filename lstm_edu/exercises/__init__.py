"""Checkers for the book's code exercises: a wrong attempt gets a hint, never a traceback.

Each chapter's checkers live in ``lstm_edu.exercises.chNN``. A checker takes the reader's function
(or module), runs it on small inputs inside :func:`attempt`, compares with the reference answer
with :func:`compare`, and prints either a success line or a hint. It returns ``True``/``False`` so
the book can show the result of checking the reference solution.

    from lstm_edu.exercises import ch02
    ch02.check_forget_gradient(my_function)
"""

from __future__ import annotations

import os
import traceback
from typing import Any, Callable, Optional

import torch


class Hint(Exception):
    """Raised inside a checker to stop with a hint for the reader."""


def _is_library(filename: str) -> bool:
    return "site-packages" in filename or filename.startswith(os.path.dirname(torch.__file__))


def attempt(fn: Callable[..., Any], *args: Any, what: str = "your function", **kwargs: Any) -> Any:
    """Call the reader's ``fn``; turn any exception into a :class:`Hint` naming where it failed."""
    if not callable(fn):
        raise Hint(f"expected a function, got {type(fn).__name__}: pass the function itself, "
                   "without calling it")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise Hint(f"{what} still raises NotImplementedError: replace the placeholder with your "
                   "code") from None
    except Exception as e:  # the reader's bug, reported, not re-raised
        frames = traceback.extract_tb(e.__traceback__)
        if len(frames) == 1 and isinstance(e, TypeError):
            # it failed at the call itself: the reader's function takes other arguments
            n = len(args) + len(kwargs)
            raise Hint(f"{what} could not be called with {n} argument(s): {e}") from None
        # the deepest frame in the reader's code, not inside torch or another library
        frame = next((f for f in reversed(frames) if not _is_library(f.filename)), frames[-1])
        raise Hint(f"{what} raised {type(e).__name__}: {e} "
                   f"(line {frame.lineno}: {frame.line!r})") from None


def compare(name: str, got: Any, want: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-4,
            hint: Optional[str] = None) -> None:
    """``got`` must be a tensor with ``want``'s shape and values (within tolerance)."""
    if not isinstance(got, torch.Tensor):
        raise Hint(f"{name} should be a torch.Tensor, got {type(got).__name__}")
    if got.shape != want.shape:
        raise Hint(f"{name} should have shape {list(want.shape)}, got {list(got.shape)}")
    got = got.detach().to(want.dtype).cpu()
    want = want.detach().cpu()
    if not torch.allclose(got, want, atol=atol, rtol=rtol):
        diff = (got - want).abs().max().item()
        msg = f"{name} has the right shape but wrong values (largest difference {diff:.3g})"
        raise Hint(msg + (f". Hint: {hint}" if hint else ""))


def readable(name: str, got: object) -> object:
    """A tensor answer detached and on the CPU, or a :class:`Hint` if it is meta, complex, nan or
    inf.

    Anything that is not a tensor is returned as it came (:func:`compare` names its type).
    """
    if not isinstance(got, torch.Tensor):
        return got
    if got.device.type == "meta":
        raise Hint(f"{name} is a meta tensor with no values: compute it from the inputs")
    got = got.detach().cpu()
    if got.is_complex():
        raise Hint(f"{name} is complex ({got.dtype}): the answer is real numbers")
    if got.is_floating_point() and not torch.isfinite(got).all():
        raise Hint(f"{name} contains nan or inf: look for a division by zero or a log of 0")
    return got


def run_checker(title: str, body: Callable[[], None]) -> bool:
    """Run ``body``; print ``✅ title`` on success or ``❌ title: hint``. Returns whether it passed.

    An error that is not a :class:`Hint` (an answer of a kind the checks did not foresee) is
    reported as a hint too: a checker never crashes.
    """
    try:
        body()
    except Hint as h:
        print(f"❌ {title}: {h}")
        return False
    except Exception as e:
        print(f"❌ {title}: could not check your answer ({type(e).__name__}: {e}); "
              "return what the exercise describes (usually a real-valued torch.Tensor)")
        return False
    print(f"✅ {title}: correct")
    return True


__all__ = ["Hint", "attempt", "compare", "readable", "run_checker"]
