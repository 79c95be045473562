r"""A character n-gram model with interpolated Kneser–Ney smoothing: the strong non-neural baseline.

An n-gram model predicts the next character from the ``order - 1`` characters before it, by
counting. Counts alone give zero probability to anything not seen in training, so the estimate of
every order is *interpolated* with the next lower order (Chen & Goodman, 1999, "An empirical study
of smoothing techniques for language modeling", the interpolated Kneser–Ney of their section 3).
With a context :math:`h` of :math:`k-1` characters, :math:`h'` the same context without its first
character, and a discount :math:`0 < D_k < 1` per order:

.. math::

    P_k(w \mid h) = \frac{\max(c_k(hw) - D_k, 0)}{\sum_v c_k(hv)}
                  + \frac{D_k \, N_{1+}(h\,\cdot)}{\sum_v c_k(hv)} \, P_{k-1}(w \mid h'),
    \qquad P_0(w) = \frac{1}{V},

where :math:`N_{1+}(h\,\cdot)` is the number of distinct characters seen after :math:`h`. When
:math:`h` was never seen, :math:`P_k(w \mid h) = P_{k-1}(w \mid h')`. The highest order counts
occurrences, :math:`c_n(hw) = \#(hw)`; every lower order counts *continuations*,
:math:`c_k(hw) = N_{1+}(\cdot\, hw)`, the number of distinct characters seen before :math:`hw` — the
Kneser–Ney idea: a lower order is only consulted for contexts the higher order knows little about,
so what matters there is in how many contexts a string occurs, not how often. The discounts are
:math:`D_k = n_1 / (n_1 + 2 n_2)` with :math:`n_1, n_2` the numbers of k-grams whose count is 1
and 2
(Ney, Essen & Kneser, 1994).

Everything is counted with numpy: a k-gram is one integer in base ``V``, so ``np.unique`` counts all
k-grams of a 10-million-character text in about a second per order.
"""

from __future__ import annotations

from typing import Dict, List, Tuple, Union

import numpy as np
import torch

Ids = Union[torch.Tensor, np.ndarray]


def _as_array(ids: Ids) -> np.ndarray:
    arr = ids.detach().cpu().numpy() if isinstance(ids, torch.Tensor) else np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"ids must be 1-d, got shape {list(arr.shape)}")
    return arr.astype(np.int64, copy=False)


def _kgram_ids(a: np.ndarray, k: int, vocab_size: int) -> np.ndarray:
    """``g[t] = sum_j a[t-k+1+j] V^(k-1-j)`` for ``t >= k-1``: the k-gram ending at ``t``, as
    one integer."""
    g = a[k - 1 :].copy()
    for j in range(1, k):
        g += a[k - 1 - j : len(a) - j] * vocab_size**j
    return g


class _Table:
    """Counts of one order: sorted k-gram keys and their counts, and per context the sum of the
    counts and the number of distinct next characters."""

    def __init__(self, keys: np.ndarray, counts: np.ndarray, vocab_size: int):
        self.keys, self.counts = keys, counts.astype(np.float64)
        contexts, start = np.unique(keys // vocab_size, return_index=True)  # keys are sorted
        self.contexts = contexts
        self.context_total = np.add.reduceat(self.counts, start) if len(keys) else np.zeros(0)
        self.context_types = np.diff(np.append(start, len(keys))).astype(np.float64)
        n1, n2 = int((counts == 1).sum()), int((counts == 2).sum())
        self.discount = n1 / (n1 + 2 * n2) if n1 + 2 * n2 > 0 else 0.5
        self.discount = min(max(self.discount, 1e-3), 0.999)

    @staticmethod
    def _lookup(sorted_keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
        if len(sorted_keys) == 0:
            return np.zeros(len(query))
        j = np.searchsorted(sorted_keys, query).clip(0, len(sorted_keys) - 1)
        return np.where(sorted_keys[j] == query, values[j], 0.0)

    def count(self, keys: np.ndarray) -> np.ndarray:
        return self._lookup(self.keys, self.counts, keys)

    def context(self, contexts: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        return (
            self._lookup(self.contexts, self.context_total, contexts),
            self._lookup(self.contexts, self.context_types, contexts),
        )


class KneserNeyLM:
    """An interpolated Kneser–Ney character model of ``order`` (the number of characters of an
    n-gram, context included: ``order=5`` predicts from the 4 characters before).

    ``model = KneserNeyLM(order, vocab_size).fit(train_ids)``; then :meth:`bits_per_char` on other
    text and :meth:`next_char_probs` for one context. Ids are integers in ``[0, vocab_size)``.
    """

    def __init__(self, order: int, vocab_size: int):
        if order < 1:
            raise ValueError(f"order must be at least 1, got {order}")
        if vocab_size < 1 or float(vocab_size) ** order >= 2.0**63:
            raise ValueError(
                "vocab_size ** order must fit in 63 bits, "
                f"got vocab_size={vocab_size}, order={order}"
            )
        self.order, self.vocab_size = order, vocab_size
        self.tables: List[_Table] = []

    def fit(self, ids: Ids) -> "KneserNeyLM":
        """Count every k-gram of ``ids`` for k = 1 … order."""
        a = _as_array(ids)
        if len(a) < self.order:
            raise ValueError(
                f"need at least {self.order} ids to count {self.order}-grams, got {len(a)}"
            )
        if a.min() < 0 or a.max() >= self.vocab_size:
            raise ValueError(f"ids must lie in [0, {self.vocab_size}), got [{a.min()}, {a.max()}]")
        V, n = self.vocab_size, self.order
        uniques = [np.unique(_kgram_ids(a, k, V), return_counts=True) for k in range(1, n + 1)]
        tables = []
        for k in range(1, n + 1):
            if k == n:
                keys, counts = uniques[k - 1]  # occurrences
            else:  # continuations: N1+(. h w)
                keys, counts = np.unique(uniques[k][0] % V**k, return_counts=True)
            tables.append(_Table(keys, counts, V))
        self.tables = tables
        return self

    @property
    def discounts(self) -> List[float]:
        return [t.discount for t in self.tables]

    def _check_fitted(self) -> None:
        if not self.tables:
            raise RuntimeError("KneserNeyLM: call fit(train_ids) first")

    def _probs(self, windows: np.ndarray) -> np.ndarray:
        """``windows [N, order]``: each row the ``order - 1`` context ids (``-1`` where there is no
        character, at the start of a text) and the predicted id last. Returns ``P(w | h) [N]``."""
        V, n = self.vocab_size, self.order
        p = np.full(len(windows), 1.0 / V)
        for k in range(1, n + 1):
            cols = windows[:, n - k :]  # the last k ids: context + w
            valid = (cols >= 0).all(axis=1)
            key = np.zeros(len(windows), dtype=np.int64)
            for j in range(k):
                key = key * V + np.where(valid, cols[:, j], 0)
            table = self.tables[k - 1]
            total, types = table.context(key // V)
            c = table.count(key)
            seen = valid & (total > 0)
            safe = np.where(seen, total, 1.0)
            d = table.discount
            p = np.where(seen, np.maximum(c - d, 0.0) / safe + d * types / safe * p, p)
        return p

    def _windows(self, ids: np.ndarray, context: np.ndarray) -> np.ndarray:
        n = self.order
        before = context[-(n - 1) :] if n > 1 else context[:0]
        pad = np.concatenate([np.full(n - 1 - len(before), -1, dtype=np.int64), before, ids])
        return np.lib.stride_tricks.sliding_window_view(pad, n)  # [len(ids), n]

    def bits_per_char(self, ids: Ids, context: Ids = ()) -> float:
        """Mean of ``-log2 P(ids[t] | the order-1 ids before it)`` over ``ids``; ``context``
        holds the text just before ``ids`` (e.g. the end of the training text), used for the
        first positions."""
        self._check_fitted()
        a, ctx = _as_array(ids), _as_array(context) if len(context) else np.zeros(0, dtype=np.int64)
        total = 0.0
        for start in range(0, len(a), 1_000_000):  # bounded memory on long texts
            piece = a[start : start + 1_000_000]
            before = ctx if start == 0 else a[max(0, start - self.order + 1) : start]
            total += -np.log2(self._probs(self._windows(piece, before))).sum()
        return float(total / len(a))

    def next_char_probs(self, context: Ids) -> torch.Tensor:
        """``P(w | context)`` for every character ``w``: a ``float64 [V]`` tensor that sums to 1."""
        self._check_fitted()
        ctx = _as_array(context)
        rows = np.tile(self._windows(np.zeros(1, dtype=np.int64), ctx), (self.vocab_size, 1))
        rows[:, -1] = np.arange(self.vocab_size)
        return torch.from_numpy(self._probs(rows))

    def summary(self) -> Dict[str, object]:
        """Per order: the number of distinct k-grams stored and the discount."""
        return {
            f"order {k + 1}": {"k-grams": len(t.keys), "discount": round(t.discount, 3)}
            for k, t in enumerate(self.tables)
        }


def unigram_bits_per_char(train_ids: Ids, ids: Ids, vocab_size: int) -> float:
    """Bits per character of the character frequencies of ``train_ids`` (add-one smoothed)
    on ``ids``."""
    counts = np.bincount(_as_array(train_ids), minlength=vocab_size).astype(np.float64) + 1.0
    return float(-np.log2(counts / counts.sum())[_as_array(ids)].mean())


__all__ = ["KneserNeyLM", "unigram_bits_per_char"]
