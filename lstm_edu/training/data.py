"""Data for the book's experiments: real corpora and time series that need no download, and toy
tasks.

Everything here returns plain tensors in the book's time-major convention (``[n_steps, batch,
...]``, like :class:`lstm_edu.LSTM`), so any recurrent network with the ``rnn(x, state) -> (out,
state)`` interface can consume it.

- :func:`python_docs_text`: Python's own documentation (``pydoc_data.topics``), shipped with every
  CPython: about 465,000 characters of English prose and code.
- :class:`CharVocab`, :func:`train_val_split`, :func:`char_batches`: character-level language
  modelling with truncated backpropagation through time.
- :func:`membrane_potential`, :func:`stock_prices`: real time series from matplotlib's sample data.
- :func:`sequence_windows`: a series cut into (window, value ``horizon`` steps later) pairs.
- :func:`adding_problem`: the long-range toy task of Hochreiter & Schmidhuber (1997).
- :func:`sha256_of`: a file's checksum. Larger corpora (Python's standard library, Tiny
  Shakespeare, downloads checked and cached) are in :mod:`lstm_edu.training.corpora`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch

# ---------------------------------------------------------------------------------------------
# A corpus that ships with Python
# ---------------------------------------------------------------------------------------------


def python_docs_text() -> str:
    """Python's documentation topics (the text ``help('for')`` shows), joined into one string.

    ``pydoc_data.topics.topics`` is a dict ``{topic: text}`` that ships with CPython; topics are
    joined in sorted order, separated by a blank line, so the text is the same on every run.
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k].strip("\n") for k in sorted(topics)) + "\n"


# ---------------------------------------------------------------------------------------------
# Characters <-> integers
# ---------------------------------------------------------------------------------------------


class CharVocab:
    """A character vocabulary: every distinct character of a text, numbered in sorted order.

    ``vocab = CharVocab.from_text(text)``; ``vocab.encode("def")`` gives a ``LongTensor [3]``;
    ``vocab.decode(ids)`` gives the string back. ``vocab.chars`` (a ``str``) is all it stores, so a
    checkpoint can keep it as a plain string and rebuild it with ``CharVocab(chars)``.
    """

    def __init__(self, chars: str):
        if not isinstance(chars, str) or not chars:
            raise ValueError("CharVocab needs a non-empty string of distinct characters")
        if len(set(chars)) != len(chars):
            raise ValueError("CharVocab: the characters must be distinct")
        self.chars = chars
        self.stoi = {ch: i for i, ch in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharVocab":
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters)"

    def encode(self, text: str) -> torch.Tensor:
        """``text`` (length ``N``) -> ``LongTensor [N]``. Unknown characters raise a
        ``ValueError``."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)  # one code point each
        table = np.full(max(max(map(ord, self.chars)), int(codes.max(initial=0))) + 1, -1,
                        dtype=np.int64)
        table[[ord(ch) for ch in self.chars]] = np.arange(len(self.chars))
        ids = table[codes]
        if not (ids >= 0).all():
            unknown = sorted({ch for ch in text if ch not in self.stoi})
            raise ValueError(f"characters not in the vocabulary: {unknown!r}")
        return torch.from_numpy(ids)

    def decode(self, ids: Union[torch.Tensor, Sequence[int]]) -> str:
        """Integer ids (any 1-d sequence or tensor) -> string."""
        if isinstance(ids, torch.Tensor):
            ids = ids.reshape(-1).tolist()
        return "".join(self.chars[i] for i in ids)


def train_val_split(ids: torch.Tensor,
                    val_fraction: float = 0.1) -> Tuple[torch.Tensor, torch.Tensor]:
    """Split a 1-d sequence into a training part and the last ``val_fraction`` as validation.

    The split is contiguous (not shuffled): validation text is text the model has never seen,
    not characters sampled from the middle of its training windows.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    n_val = max(1, int(len(ids) * val_fraction))
    return ids[:-n_val], ids[-n_val:]


def char_streams(ids: torch.Tensor, batch_size: int, offset: int = 0) -> torch.Tensor:
    """Cut ``ids [N]`` (from ``offset`` on) into ``batch_size`` contiguous streams: ``[L,
    batch_size]``.

    Column ``b`` is the ``b``-th piece of the text, so row ``t + 1`` continues row ``t`` in every
    column: that is what lets a training loop carry the recurrent state from one batch to the next.
    """
    ids = ids[offset:]
    length = len(ids) // batch_size
    if length < 2:
        raise ValueError(f"{len(ids)} ids are too few for {batch_size} streams")
    return ids[: length * batch_size].view(batch_size, length).t()  # [L, batch_size]


def char_batches(ids: torch.Tensor, batch_size: int, n_steps: int,
                 generator: Optional[torch.Generator] = None
                 ) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """One pass over ``ids`` for truncated backpropagation through time.

    Yields ``(x, y)``, each ``LongTensor [n_steps, batch_size]`` (the last batch may be shorter in
    time), with ``y[t] = `` the character after ``x[t]``. Consecutive batches continue each other
    column by column (see :func:`char_streams`), so the final state of one batch is the right
    initial state of the next. With a ``generator``, the streams start at a random offset in
    ``[0, n_steps)``, so the window boundaries move from one epoch to the next.
    """
    if n_steps < 1 or batch_size < 1:
        raise ValueError("batch_size and n_steps must be at least 1")
    offset = 0
    if generator is not None:
        offset = int(torch.randint(0, n_steps, (1,), generator=generator))
    streams = char_streams(ids, batch_size, offset)  # [L, batch_size]
    for t in range(0, streams.shape[0] - 1, n_steps):
        n = min(n_steps, streams.shape[0] - 1 - t)
        yield streams[t: t + n], streams[t + 1: t + 1 + n]


# ---------------------------------------------------------------------------------------------
# Real time series from matplotlib's sample data (no download)
# ---------------------------------------------------------------------------------------------


def membrane_potential() -> Tuple[torch.Tensor, torch.Tensor]:
    """A neuron's membrane potential, recorded every 0.5 ms for 6 s (matplotlib's ``membrane.dat``).

    Returns ``(t, v)``, each ``float32 [12000]``: time in seconds and potential in millivolts
    (the file holds volts/10; matplotlib's own example converts with ``1000 * 0.1``). A current step
    from about 0.5 s to 5.5 s makes the neuron fire 57 spikes (upward crossings of -20 mV, the first
    at 0.74 s, the last at 5.46 s).
    """
    from matplotlib import cbook

    with cbook.get_sample_data("membrane.dat") as f:
        raw = np.frombuffer(f.read(), dtype="<f4")
    v = torch.from_numpy(1000 * 0.1 * raw.astype(np.float32))
    t = 0.0005 * torch.arange(len(v), dtype=torch.float32)
    return t, v


def stock_prices() -> Tuple[np.ndarray, torch.Tensor]:
    """Google's daily adjusted closing price, Aug 2004 to Oct 2008 (matplotlib's ``goog.npz``).

    Returns ``(dates, price)``: ``numpy datetime64[D] [1047]`` and ``float32 [1047]`` in US dollars.
    """
    from matplotlib import cbook

    with cbook.get_sample_data("goog.npz") as data:
        r = data["price_data"]
    return r["date"].copy(), torch.tensor(r["adj_close"], dtype=torch.float32)


def sequence_windows(series: torch.Tensor, n_steps: int, horizon: int = 1,
                     stride: int = 1) -> Tuple[torch.Tensor, torch.Tensor]:
    """Every window of ``n_steps`` values and the value ``horizon`` steps after its end.

    ``series [N]`` -> ``x [n_steps, n_windows, 1]`` (time-major, one feature) and
    ``y [n_windows, 1]`` with ``y[k] = series[k*stride + n_steps - 1 + horizon]``.
    """
    if series.dim() != 1:
        raise ValueError(f"series must be 1-d, got shape {list(series.shape)}")
    if n_steps < 1 or horizon < 1 or stride < 1:
        raise ValueError("n_steps, horizon and stride must be at least 1")
    n_windows = (len(series) - n_steps - horizon) // stride + 1
    if n_windows < 1:
        raise ValueError(f"a series of {len(series)} values is too short for n_steps={n_steps}, "
                         f"horizon={horizon}")
    starts = torch.arange(n_windows) * stride
    idx = starts[None, :] + torch.arange(n_steps)[:, None]  # [n_steps, n_windows]
    x = series[idx].unsqueeze(-1)
    y = series[starts + n_steps - 1 + horizon].unsqueeze(-1)
    return x, y


# ---------------------------------------------------------------------------------------------
# The adding problem
# ---------------------------------------------------------------------------------------------


def adding_problem(n_steps: int, batch_size: int,
                   generator: Optional[torch.Generator] = None
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
    """The adding problem: remember two marked numbers across ``n_steps`` steps and add them.

    Returns ``x [n_steps, batch_size, 2]`` and ``y [batch_size, 1]``. Feature 0 is a random number
    uniform in ``[0, 1)`` at every step; feature 1 is a marker, 1 at exactly two steps (one in the
    first half of the sequence, one in the second) and 0 elsewhere. The target is the sum of the two
    marked numbers. Predicting the mean, 1, scores a mean squared error of 1/6 ≈ 0.167; a model
    beats that only by carrying the first marked number across at least ``n_steps / 2`` steps.

    This is the variant most papers use since Le et al. (2015); Hochreiter & Schmidhuber (1997)
    drew values from ``[-1, 1]``, put the first marker in the first ten steps and scaled the target.
    """
    if n_steps < 2:
        raise ValueError(f"the adding problem needs n_steps >= 2, got {n_steps}")
    values = torch.rand(n_steps, batch_size, generator=generator)
    half = n_steps // 2
    first = torch.randint(0, half, (batch_size,), generator=generator)
    second = torch.randint(half, n_steps, (batch_size,), generator=generator)
    markers = torch.zeros(n_steps, batch_size)
    cols = torch.arange(batch_size)
    markers[first, cols] = 1.0
    markers[second, cols] = 1.0
    x = torch.stack([values, markers], dim=-1)  # [n_steps, batch_size, 2]
    y = (values[first, cols] + values[second, cols]).unsqueeze(-1)  # [batch_size, 1]
    return x, y


# ---------------------------------------------------------------------------------------------
# Checksums
# ---------------------------------------------------------------------------------------------


def sha256_of(path: Union[str, Path]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


__all__ = [
    "python_docs_text", "CharVocab", "train_val_split", "char_streams", "char_batches",
    "membrane_potential", "stock_prices", "sequence_windows", "adding_problem",
    "sha256_of",
]
