"""The book's character language model, built and trained the same way wherever it is used.

Chapter 4 trains it; chapter 5 opens the same trained model. Both call :func:`char_lm`, so both ask
the run cache (:mod:`lstm_edu.training.runcache`) for exactly the same run: chapter 5 loads the
weights chapter 4 stored, or trains them itself when it runs alone (a fresh machine, Colab).

:data:`CHAR_LM` holds the sizes per ``LSTM_EDU_SIZE``: ``quick`` for tests, ``medium`` trained to a
plateau on a 2-core CPU, ``full`` for a GPU.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch
from torch import nn

from .. import settings
from . import runcache
from .charlm import CharLM
from .data import CharVocab
from .train import train_char_lm

CHAR_LM: Dict[str, Dict[str, Any]] = {
    "quick": dict(embed=32, hidden=64, layers=2, batch_size=32, n_steps=32, steps=120, lr=1e-2,
                  schedule="cosine", eval_every=30, val_chars=8_000, sample_every=60),
    "medium": dict(embed=64, hidden=256, layers=2, batch_size=64, n_steps=64, steps=4000,
                   lr=4e-3, schedule="cosine", eval_every=200, val_chars=100_000,
                   sample_every=1000),
    "full": dict(embed=64, hidden=512, layers=2, batch_size=128, n_steps=100, steps=20_000,
                 lr=2e-3, schedule="cosine", eval_every=500, val_chars=None, sample_every=5000),
}


# Characters of the standard library's source a size trains on (None: all of it).
CORPUS_CHARS: Dict[str, Optional[int]] = {"quick": 1_000_000, "medium": None, "full": None}


def stdlib_data(size: Optional[str] = None) -> Tuple[Any, CharVocab, torch.Tensor, torch.Tensor]:
    """Chapter 4's data: ``(corpus, vocab, train_ids, val_ids)``. The vocabulary holds every
    character of the standard library's source; the text is its first ``CORPUS_CHARS[size]``
    characters, of which the last 10 % are the validation text."""
    from .corpora import python_stdlib_source
    from .data import train_val_split

    corpus = python_stdlib_source()
    n = CORPUS_CHARS[size or settings.SIZE]
    vocab = CharVocab.from_text(corpus.text)
    train_ids, val_ids = train_val_split(
        vocab.encode(corpus.text if n is None else corpus.text[:n]), 0.1
    )
    return corpus, vocab, train_ids, val_ids


def set_forget_bias(lstm: nn.Module, value: float = 1.0) -> nn.Module:
    """Set the forget gate's bias of every :class:`lstm_edu.LSTMCell` in ``lstm`` to ``value``.

    The cell's one bias sits in ``lin_h.bias [4 N_h]``, gates in the order i, f, g, o, so the forget
    gate's part is ``[N_h, 2 N_h)``. With a bias of 1, σ(f) starts near σ(1) ≈ 0.73 instead of 0.5:
    the cell keeps most of its memory from the first step on (Gers, Schmidhuber & Cummins, 2000;
    Jozefowicz, Zaremba & Sutskever, 2015).
    """
    cells = [m for m in lstm.modules() if hasattr(m, "lin_h") and hasattr(m, "hidden_size")]
    if not cells:
        raise TypeError(
            f"{type(lstm).__name__} holds no LSTM cell (a module with lin_h and hidden_size)"
        )
    with torch.no_grad():
        for cell in cells:
            n_h = cell.hidden_size
            cell.lin_h.bias[n_h : 2 * n_h] = value
    return lstm


def build_char_lm(
    vocab_size: int, sizes: Dict[str, Any], seed: int = 0, forget_bias: float = 1.0
) -> CharLM:
    """Embedding → a ``layers``-layer :class:`lstm_edu.fast.FastLSTM` → linear head, its initial
    weights drawn with ``seed`` and its forget-gate bias set to ``forget_bias``.

    ``FastLSTM`` has the parameters of :class:`lstm_edu.LSTM` and computes the same numbers, faster
    (chapter 9 builds it); its ``state_dict`` loads into an ``LSTM`` of the same sizes.
    """
    from ..fast import FastLSTM

    torch.manual_seed(seed)
    model = CharLM(
        FastLSTM(sizes["embed"], sizes["hidden"], sizes["layers"]), vocab_size, sizes["embed"]
    )
    set_forget_bias(model.rnn, forget_bias)
    return model


def char_lm(
    vocab: CharVocab,
    train_ids: torch.Tensor,
    val_ids: torch.Tensor,
    size: Optional[str] = None,
    seed: int = 0,
    device: Optional[torch.device] = None,
    print_samples: bool = False,
    desc: str = "char LM",
    sizes: Optional[Dict[str, Any]] = None,
) -> Tuple[CharLM, Dict[str, Any], Dict[str, Any]]:
    """The character model of :data:`CHAR_LM` (``size`` default: ``settings.SIZE``; or ``sizes``, a
    dict with the same keys) trained on ``train_ids`` and scored on ``val_ids`` (its first
    ``val_chars`` characters during training), or loaded from the run cache. Returns
    ``(model, history, sizes)``; the model is on ``device``. The samples taken during training are
    in ``history["samples"]`` either way."""
    sizes = dict(sizes) if sizes is not None else CHAR_LM[size or settings.SIZE]
    device = torch.device(device) if device is not None else settings.DEVICE
    model = build_char_lm(len(vocab), sizes, seed).to(device)
    hist = runcache.run(
        train_char_lm,
        model,
        train_ids,
        val_ids,
        steps=sizes["steps"],
        batch_size=sizes["batch_size"],
        n_steps=sizes["n_steps"],
        lr=sizes["lr"],
        schedule=sizes["schedule"],
        clip=1.0,
        device=device,
        eval_every=sizes["eval_every"],
        val_max_chars=sizes["val_chars"],
        sample_every=sizes["sample_every"],
        vocab=vocab,
        seed=seed,
        print_samples=print_samples,
        desc=desc,
    )
    return model, hist, sizes


__all__ = ["CHAR_LM", "CORPUS_CHARS", "stdlib_data", "set_forget_bias", "build_char_lm", "char_lm"]
