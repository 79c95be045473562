"""The one setting every chapter reads: how big to run, and on which device.

``LSTM_EDU_SIZE`` (environment variable) chooses the size of every experiment in the book:

- ``quick``: small models and short training, a chapter runs in about a minute on a laptop CPU.
  This is what the tests use.
- ``full``: the sizes the book was written for; meant for a GPU.

If ``LSTM_EDU_SIZE`` is not set, the book runs ``full`` when a CUDA GPU is present and ``quick``
otherwise. ``LSTM_EDU_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ...) overrides the device choice.

In a notebook::

    from lstm_edu import settings
    settings.SIZE, settings.QUICK, settings.DEVICE
    n_steps = settings.pick(quick=200, full=20_000)
"""

from __future__ import annotations

import os
import random
from typing import TypeVar

import torch

T = TypeVar("T")

SIZES = ("quick", "full")


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
DEVICE: torch.device = _device()


def pick(quick: T, full: T) -> T:
    """The value for the current size: ``pick(quick=200, full=20_000)``."""
    return quick if QUICK else full


def seed_everything(seed: int = 0) -> None:
    """Seed Python's and torch's generators (CPU and every GPU) so a chapter reproduces on one device."""
    random.seed(seed)
    torch.manual_seed(seed)


def describe() -> str:
    """One line for the top of a chapter: size, device, torch version."""
    dev = DEVICE
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    return f"size={SIZE} (LSTM_EDU_SIZE), device={dev} ({name}), torch {torch.__version__}"
