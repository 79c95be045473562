"""Input validation shared by every module: errors that name what was expected and what came.

A recurrent network that is handed a tensor of the wrong shape usually fails many lines later
inside a matrix multiply ("mat1 and mat2 shapes cannot be multiplied (7x32 and 10x40)"), or worse,
broadcasts silently. These helpers check at the door instead and say, in the user's own terms,
which argument was wrong, what shape it should have had and what it had.
"""

from __future__ import annotations

from typing import Sequence

import torch


def shape_str(shape: Sequence[int]) -> str:
    """``torch.Size([32, 7])`` -> ``"[32, 7]"``."""
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


def check_size(name: str, value: object) -> int:
    """A constructor size argument must be a positive ``int`` (``bool`` is rejected too)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int (at least 1), got {value}")
    return value


def check_forget_bias(value: object) -> float:
    """``forget_bias`` must be a finite real number (an ``int`` or ``float``, not a ``bool``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"forget_bias must be a number, got {type(value).__name__} {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"forget_bias must be finite, got {value}")
    return float(value)


def check_tensor(name: str, value: object, like: torch.Tensor) -> torch.Tensor:
    """``value`` must be a floating-point tensor with the dtype and device of ``like``."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {value.dtype}; "
            f"convert it with {name}.float()"
        )
    if value.dtype != like.dtype:
        raise TypeError(
            f"{name} has dtype {value.dtype} but the module's parameters are {like.dtype}; "
            f"convert one of them (module.to({value.dtype}) or {name}.to({like.dtype}))"
        )
    if value.device != like.device:
        raise ValueError(
            f"{name} is on {value.device} but the module's parameters are on {like.device}; "
            f"move one of them (module.to({name}.device) or {name}.to(device))"
        )
    return value


def check_shape(name: str, value: torch.Tensor,
                expected: Sequence[tuple[str, int | None]]) -> None:
    """Check ``value.shape`` against named dimensions; ``None`` means "any size".

    ``expected`` is a list of ``(label, size)`` pairs, e.g.
    ``[("batch_size", 32), ("input_size", 10)]``.
    The message reads ``x must have shape [batch_size=32, input_size=10], got [32, 7]``.
    """
    want = "[" + ", ".join(label if size is None else f"{label}={size}"
                           for label, size in expected) + "]"
    ok = value.dim() == len(expected) and all(
        size is None or value.shape[k] == size for k, (_, size) in enumerate(expected)
    )
    if not ok:
        raise ValueError(f"{name} must have shape {want}, got {shape_str(value.shape)}")
