"""A character-level language model and what the chapters do with one.

- :class:`CharLM`: embedding → RNN → linear head over the vocabulary.
- :func:`bits_per_char`, :func:`sample`, :func:`top_next_chars`: each runs the model in eval mode
  (:func:`~lstm_edu.training.common.evaluating`) and leaves it in the mode it found.

The loop that trains it, :func:`lstm_edu.training.train.train_char_lm`, is in
:mod:`lstm_edu.training.train`.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .common import LN2, State, _hidden_size, _model_device, evaluating
from .data import CharVocab, char_batches


class CharLM(nn.Module):
    """A character language model: embedding → recurrent network → linear head.

    Args:
        rnn: any recurrent network with the package interface whose ``input_size`` is
        ``embed_size``. vocab_size: number of characters ``V``. embed_size: size ``E`` of each
        character's learned vector. hidden_size: the RNN's output size; read from
        ``rnn.hidden_size`` when not given.

    Shapes: ``forward(ids [T, B], state=None) -> (logits [T, B, V], state)``. ``logits[t]`` scores
    the character that follows ``ids[t]``; ``state`` is the RNN's (e.g. ``(h, c)``, each
    ``[n_layers, B, H]``), to be fed back in with the next chunk of the same texts.
    """

    def __init__(self, rnn: nn.Module, vocab_size: int, embed_size: int,
                 hidden_size: Optional[int] = None):
        super().__init__()
        rnn_in = getattr(rnn, "input_size", embed_size)
        if rnn_in != embed_size:
            raise ValueError(f"the rnn reads {rnn_in} features but embed_size is {embed_size}: "
                             "they must match")
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.rnn = rnn
        self.head = nn.Linear(_hidden_size(rnn, hidden_size), vocab_size)

    def forward(self, ids: torch.Tensor,
                state: Optional[Sequence[torch.Tensor]] = None) -> Tuple[torch.Tensor, State]:
        if ids.dim() != 2:
            raise ValueError(f"ids must be [n_steps, batch_size], got shape {list(ids.shape)}")
        x = self.embed(ids)  # [T, B, E]
        out, state = self.rnn(x, state)  # out [T, B, H]
        return self.head(out), state  # [T, B, V]


@torch.no_grad()
def bits_per_char(model: CharLM, ids: torch.Tensor, batch_size: int = 16, n_steps: int = 100,
                  max_chars: Optional[int] = None) -> float:
    """Average cross-entropy of ``model`` on the text ``ids [N]``, in bits per character.

    The text is cut into ``batch_size`` contiguous streams read in chunks of ``n_steps`` with the
    state carried, so every character after the first of each stream is predicted with all of its
    stream's preceding context. ``max_chars`` evaluates only the first ``max_chars`` characters
    (quicker). Uniform guessing over ``V`` characters scores ``log2(V)``.
    """
    device = _model_device(model)
    if max_chars is not None:
        ids = ids[:max_chars]
    total, count, state = 0.0, 0, None
    with evaluating(model):
        for x, y in char_batches(ids, batch_size, n_steps):
            logits, state = model(x.to(device), state)
            total += F.cross_entropy(logits.flatten(0, 1), y.to(device).flatten(),
                                     reduction="sum").item()
            count += y.numel()
    return total / count / LN2


@torch.no_grad()
def sample(model: CharLM, vocab: CharVocab, prompt: str = "\n", length: int = 200,
           temperature: float = 1.0,
           generator: Optional[torch.Generator] = None) -> str:
    """Generate ``length`` characters after ``prompt``; returns only the generated characters.

    Each character is drawn from ``softmax(logits / temperature)``: temperature 1 samples the
    model's own distribution, lower is more conservative, higher more random, and
    ``temperature=0`` always takes the most likely character. ``generator`` (a CPU
    ``torch.Generator``) makes the draw reproducible.
    """
    if not prompt:
        raise ValueError("sample needs a non-empty prompt (e.g. '\\n') to start from")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    device = _model_device(model)
    out = []
    with evaluating(model):
        logits, state = model(vocab.encode(prompt).to(device).unsqueeze(1))  # [T, 1, V]
        last = logits[-1, 0]
        for _ in range(length):
            if temperature == 0:
                nxt = int(last.argmax())
            else:
                probs = torch.softmax(last.float().cpu() / temperature, dim=-1)
                nxt = int(torch.multinomial(probs, 1, generator=generator))
            out.append(nxt)
            logits, state = model(torch.tensor([[nxt]], device=device), state)
            last = logits[-1, 0]
    return vocab.decode(out)


@torch.no_grad()
def top_next_chars(model: CharLM, vocab: CharVocab, text: str,
                   k: int = 5) -> Tuple[torch.Tensor, torch.Tensor]:
    """For every position of ``text``, the ``k`` most likely next characters and their
    probabilities.

    Returns ``(ids [len(text), k], probs [len(text), k])`` on the CPU.
    """
    with evaluating(model):
        logits, _ = model(vocab.encode(text).to(_model_device(model)).unsqueeze(1))  # [T, 1, V]
    probs = torch.softmax(logits[:, 0].float(), dim=-1).cpu()  # [T, V]
    p, i = probs.topk(k, dim=-1)
    return i, p




__all__ = ["CharLM", "bits_per_char", "sample", "top_next_chars"]
