"""The one setting every chapter reads: how big to run, and on which device.

``LSTM_EDU_SIZE`` (environment variable) chooses the size of every experiment in the book:

- ``quick``: small models and short training; a chapter runs in well under a minute on a laptop
  CPU. This is what the tests use.
- ``medium``: every experiment trained until its validation loss stops improving much, on a
  2-core CPU in at most about 30 minutes per chapter. The stored book comes from this size when no
  GPU was used.
- ``full``: the sizes the book was written for; meant for a GPU.

If ``LSTM_EDU_SIZE`` is not set, the book runs ``full`` when a CUDA GPU is present and ``quick``
otherwise. ``LSTM_EDU_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ...) overrides the device choice.

In a notebook::

    from lstm_edu import settings
    settings.SIZE, settings.QUICK, settings.DEVICE
    n_steps = settings.pick(quick=200, medium=3_000, full=20_000)
    ...
    print(settings.closing_line())   # the chapter's last cell
"""

from __future__ import annotations

import os
import random
import sys
import time
from typing import Optional, TypeVar

import torch

T = TypeVar("T")

SIZES = ("quick", "medium", "full")


def _size() -> str:
    size = os.environ.get("LSTM_EDU_SIZE", "").strip().lower()
    if not size:
        return "full" if torch.cuda.is_available() else "quick"
    if size not in SIZES:
        raise ValueError(f"LSTM_EDU_SIZE must be one of {SIZES}, got {size!r}")
    return size


def _device() -> torch.device:
    name = os.environ.get("LSTM_EDU_DEVICE", "").strip()
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


SIZE: str = _size()
QUICK: bool = SIZE == "quick"
MEDIUM: bool = SIZE == "medium"
DEVICE: torch.device = _device()

_started = time.perf_counter()  # reset by describe(), which every chapter's settings cell calls


def pick(quick: T, full: T, medium: Optional[T] = None) -> T:
    """The value for the current size: ``pick(quick=200, medium=3_000, full=20_000)``.

    ``medium`` may be left out where the full value is cheap enough for a CPU: then ``medium``
    takes the ``full`` value.
    """
    if SIZE == "quick":
        return quick
    if SIZE == "medium" and medium is not None:
        return medium
    return full


def seed_everything(seed: int = 0) -> None:
    """Seed Python's and torch's generators (CPU and every GPU) so a chapter reproduces on one
    device."""
    random.seed(seed)
    torch.manual_seed(seed)


def device_name(device: Optional[torch.device] = None) -> str:
    """``"CPU"`` or the GPU's name, e.g. ``"NVIDIA H100 80GB HBM3"``."""
    dev = DEVICE if device is None else torch.device(device)
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"


def describe() -> str:
    """One line for the top of a chapter: size, device, torch version. Starts the chapter's
    clock."""
    global _started
    _started = time.perf_counter()
    cache = sys.modules.get("lstm_edu.training.runcache")
    if cache is not None:
        cache.SECONDS.update(trained=0.0, loaded=0.0)
    return (f"size={SIZE} (LSTM_EDU_SIZE), device={DEVICE} ({device_name()}), "
            f"torch {torch.__version__}")


def elapsed() -> float:
    """Seconds since the settings cell (the last call of :func:`describe`)."""
    return time.perf_counter() - _started


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


def closing_line() -> str:
    """The chapter's last line: size, device and its name, torch version, and the wall time since
    the settings cell; when trained runs were loaded from the run cache, also how long they had
    taken to train (so the line tells what the chapter costs without the cache)."""
    line = (f"This chapter ran at size={SIZE} on device={DEVICE} ({device_name()}) with torch "
            f"{torch.__version__} in {_duration(elapsed())} of wall time")
    cache = sys.modules.get("lstm_edu.training.runcache")
    if cache is not None and cache.SECONDS["loaded"] > 0:
        line += (f"; it loaded trained runs from the run cache that had taken "
                 f"{_duration(cache.SECONDS['loaded'])} to train")
    return line + "."


class _Text:
    """A string whose repr is itself, so that ``{glue:text}`` shows it without quotes."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def glue(name: str, value: object) -> object:
    """Hand ``value`` to the book's prose as ``{glue:text}`name``` (myst-nb's ``glue``, not shown in
    the cell's output), and return it. Outside the book build (no myst-nb, e.g. Colab) it only
    returns the value: the printed outputs carry the same numbers."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return value
    myst_glue(name, _Text(value) if isinstance(value, str) else value, display=False)
    return value
