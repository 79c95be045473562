"""Training recurrent networks: a linear head on any recurrent network, the loops that train it,
and checkpoints that load safely.

Everything here works with any recurrent network ``rnn`` that follows the package's interface

    ``rnn(x [n_steps, batch, input_size], state or None) -> (out [n_steps, batch, hidden_size],
    state)``

where ``state`` is a tuple of tensors (``lstm_edu.LSTM``, ``lstm_edu.HyperLSTM``, the fast versions
in ``lstm_edu.fast``, and ``torch.nn.LSTM`` itself), and that has a ``hidden_size`` attribute.

- :class:`SequenceRegressor`: a PyTorch sequence model, an RNN whose last output goes through a
  linear head (sequence prediction, the adding problem).
- :func:`fit`: a small generic loop for such models (mean squared error by default).
- :class:`CharLM` (in :mod:`lstm_edu.training.charlm`): embedding → RNN → linear head over the
  vocabulary, a character language model.
- :func:`train_char_lm`: truncated backpropagation through time with the state carried (detached)
  from one batch to the next, validation in bits per character, samples as training goes.
- :func:`bits_per_char`, :func:`sample`, :func:`top_next_chars`: each runs the model in eval mode
  (:func:`evaluating`) and leaves it in the mode it found.
- :func:`save_checkpoint` / :func:`load_checkpoint` (in :mod:`lstm_edu.training.checkpoints`):
  ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .charlm import CharLM, bits_per_char, sample, top_next_chars
from .checkpoints import load_checkpoint, save_checkpoint
from .common import LN2, _device, _hidden_size, detach_state, evaluating
from .data import CharVocab, char_batches

# CharLM and its helpers live in .charlm, the checkpoints in .checkpoints; they are re-exported here
# because the chapters import them from this module.


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite: training stopped. ``history`` holds the run up to the
    last good step, ``step`` the step whose loss was not finite."""

    def __init__(self, step: int, last_good: Optional[float], history: Dict[str, Any]):
        if last_good is not None:
            good = f"the last finite loss was {last_good:.4g} at step {step - 1}"
        else:
            good = "no step had a finite loss"
        super().__init__(f"the loss is not finite (NaN or infinite) at step {step}; training "
                         f"stopped ({good}). "
                         "Try a lower learning rate or gradient clipping; the history so far is in "
                         "this exception's .history")
        self.step, self.last_good, self.history = step, last_good, history


def _check_finite(loss: torch.Tensor, step: int, last_good: Optional[float],
                  hist: Dict[str, Any]) -> float:
    value = loss.item()
    if not math.isfinite(value):
        raise NonFiniteLoss(step, last_good, hist)
    return value


def _interrupted(hist: Dict[str, Any], step: int, bar: Any) -> None:
    hist["stopped_early"] = f"interrupted at step {step}"
    bar.write(f"interrupted at step {step}: returning the history so far")


def last_fifth_improvement(steps: Sequence[float], values: Sequence[float]) -> float:
    """How much a learning curve still improved over the last fifth of training, as a fraction.

    ``(v(0.8 S) - v(S)) / v(0.8 S)`` where ``S`` is the last step and ``v(0.8 S)`` is read off the
    curve by linear interpolation between the evaluations around it. A curve that has reached a
    plateau gives a value near 0 (the book aims for under 0.02); one that is still falling steeply
    gives a large one; a curve that went up gives a negative one.
    """
    if len(steps) != len(values) or len(steps) < 2:
        raise ValueError(f"need at least two (step, value) pairs of equal length, got {len(steps)} "
                         f"and {len(values)}")
    s = torch.tensor([float(x) for x in steps], dtype=torch.float64)
    v = torch.tensor([float(x) for x in values], dtype=torch.float64)
    at = float(s[0] + 0.8 * (s[-1] - s[0]))
    j = int(torch.searchsorted(s, torch.tensor(at, dtype=torch.float64)).clamp(1, len(s) - 1))
    w = (at - s[j - 1]) / (s[j] - s[j - 1])
    v_at = float(v[j - 1] + w * (v[j] - v[j - 1]))
    return (v_at - float(v[-1])) / v_at


def _lr_factor(schedule: str, step: int, steps: int) -> float:
    """Learning-rate multiplier at ``step`` (1-based) of ``steps``: constant, or a cosine from 1 to
    0.1."""
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.1 + 0.45 * (1 + math.cos(math.pi * (step - 1) / max(steps - 1, 1)))
    raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")


# ---------------------------------------------------------------------------------------------
# A recurrent network with a linear head: sequence in, one value out
# ---------------------------------------------------------------------------------------------


class SequenceRegressor(nn.Module):
    """An RNN followed by a linear head on its last output (the usual PyTorch ``LSTMModel``).

    Args:
        rnn: any recurrent network with the package interface (see the module docstring).
        output_size: number of values predicted per sequence ``O``.
        hidden_size: the RNN's output size; read from ``rnn.hidden_size`` when not given.

    Shapes: ``forward(x [n_steps, batch, input_size]) -> y [batch, O]``, ``y = head(out[-1])``.
    Unlike PyTorch's usual examples (``batch_first=True``), the input is time-major like every RNN
    in the book.
    """

    def __init__(self, rnn: nn.Module, output_size: int = 1, hidden_size: Optional[int] = None):
        super().__init__()
        self.rnn = rnn
        self.head = nn.Linear(_hidden_size(rnn, hidden_size), output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x, None)  # out [n_steps, batch, H]
        return self.head(out[-1])  # [batch, O]


def fit(model: nn.Module, make_batch: Callable[[int], Tuple[torch.Tensor, torch.Tensor]], *,
        steps: int,
        lr: float = 1e-3, clip: Optional[float] = 1.0,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.mse_loss,
        eval_batch: Optional[Tuple[torch.Tensor, torch.Tensor]] = None, eval_every: int = 50,
        device: Union[str, torch.device, None] = None,
        optimizer: Optional[torch.optim.Optimizer] = None,
        schedule: str = "constant", progress: bool = True,
        desc: str = "training") -> Dict[str, List[float]]:
    """Train ``model`` with Adam on batches ``make_batch(step) -> (x, y)`` for ``steps`` steps.

    ``model(x)`` must return a tensor shaped like ``y``; the loss is ``loss_fn(model(x), y)``.
    Gradients are clipped to norm ``clip`` (``None``: no clipping); ``schedule="cosine"`` decays the
    learning rate along a cosine to a tenth of its start value over the ``steps``. Every
    ``eval_every`` steps (and at the first and last) the loss on the fixed ``eval_batch`` is
    measured without gradients.

    Returns a history ``{"step", "loss", "eval_step", "eval_loss"}`` of plain lists. A NaN or
    infinite loss stops training with :class:`NonFiniteLoss` (which names the step and the last
    good loss, and holds the history so far); an interrupt (Ctrl-C, the notebook's stop button)
    returns the history so far, marked ``stopped_early``.
    """
    device = _device(device)
    model.to(device)
    opt = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    hist: Dict[str, List[float]] = {"step": [], "loss": [], "eval_step": [], "eval_loss": []}

    def evaluate(step: int) -> None:
        if eval_batch is None:
            return
        with evaluating(model), torch.no_grad():
            x, y = (t.to(device) for t in eval_batch)
            hist["eval_step"].append(step)
            hist["eval_loss"].append(loss_fn(model(x), y).item())

    model.train()
    evaluate(0)
    base_lrs = [group["lr"] for group in opt.param_groups]
    _lr_factor(schedule, 1, steps)  # a wrong schedule name fails here, before any work
    bar = tqdm(range(1, steps + 1), desc=desc, disable=not progress, mininterval=1.0)
    step = 0
    try:
        for step in bar:
            for group, base_lr in zip(opt.param_groups, base_lrs):
                group["lr"] = base_lr * _lr_factor(schedule, step, steps)
            x, y = (t.to(device) for t in make_batch(step))
            loss = loss_fn(model(x), y)
            value = _check_finite(loss, step, hist["loss"][-1] if hist["loss"] else None, hist)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            hist["step"].append(step)
            hist["loss"].append(value)
            if step % eval_every == 0 or step == steps:
                evaluate(step)
                if hist["eval_loss"]:
                    bar.set_postfix(loss=f"{hist['loss'][-1]:.4f}",
                                    eval=f"{hist['eval_loss'][-1]:.4f}")
    except KeyboardInterrupt:
        _interrupted(hist, step, bar)
    finally:
        bar.close()
    model.eval()
    return hist


def train_char_lm(model: CharLM, train_ids: torch.Tensor, val_ids: Optional[torch.Tensor] = None, *,
                  steps: int, batch_size: int = 32, n_steps: int = 100, lr: float = 2e-3,
                  clip: Optional[float] = 1.0, device: Union[str, torch.device, None] = None,
                  eval_every: int = 100, val_max_chars: Optional[int] = None,
                  val_batch_size: int = 16,
                  sample_every: Optional[int] = None, vocab: Optional[CharVocab] = None,
                  sample_prompt: Optional[str] = None, sample_length: int = 200,
                  sample_temperature: float = 0.8,
                  print_samples: bool = True, seed: int = 0,
                  optimizer: Optional[torch.optim.Optimizer] = None, schedule: str = "constant",
                  progress: bool = True, desc: str = "char LM") -> Dict[str, Any]:
    """Train a :class:`CharLM` with truncated backpropagation through time.

    The training text ``train_ids [N]`` is cut into ``batch_size`` contiguous streams
    (:func:`lstm_edu.training.data.char_batches`), read ``n_steps`` characters at a time. The RNN
    state at the end of one batch starts the next one, **detached**: the model sees context from
    earlier batches, but gradients flow back at most ``n_steps`` steps. At the end of each pass over
    the text the state is reset and the window boundaries move by a random offset.

    Adam with learning rate ``lr`` (``schedule="cosine"``: decayed along a cosine from ``lr`` to
    ``lr / 10`` over the ``steps``); gradients clipped to norm ``clip``. Every ``eval_every`` steps
    (and at step 0 and the last step) the validation text is scored with :func:`bits_per_char`
    (its first ``val_max_chars`` characters). Every ``sample_every`` steps (needs ``vocab``) a
    sample of ``sample_length`` characters at ``sample_temperature`` is taken after
    ``sample_prompt`` (default: a newline if the vocabulary has one, else the text's first
    character) and, with ``print_samples``, printed under the progress bar.

    Returns a history dict of plain Python values (it can go into a checkpoint):
    ``step``, ``train_bpc`` (per step), ``grad_norm`` (per step, before clipping), ``val_step``,
    ``val_bpc``, ``samples`` (list of ``[step, text]``), ``seconds`` (training time, evaluation
    excluded) and ``chars_per_second``. A NaN or infinite loss stops training with
    :class:`NonFiniteLoss` (naming the step and the last good loss; the history so far is its
    ``.history``); an interrupt returns the history so far, marked ``stopped_early``.
    """
    device = _device(device)
    model.to(device)
    opt = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    sample_gen = torch.Generator().manual_seed(seed + 1)
    hist: Dict[str, Any] = {"step": [], "train_bpc": [], "grad_norm": [], "val_step": [],
                            "val_bpc": [],
                            "samples": [], "seconds": 0.0, "chars_per_second": 0.0}
    if sample_every is not None and vocab is None:
        raise ValueError("sample_every needs vocab=... to decode the samples")

    def evaluate(step: int) -> None:
        if val_ids is not None:
            hist["val_step"].append(step)
            hist["val_bpc"].append(bits_per_char(model, val_ids, val_batch_size, n_steps,
                                                 val_max_chars))

    if sample_prompt is None and vocab is not None:
        sample_prompt = "\n" if "\n" in vocab.stoi else vocab.decode(train_ids[:1])

    def take_sample(step: int, bar: Any) -> None:
        text = sample(model, vocab, sample_prompt, sample_length, sample_temperature, sample_gen)
        hist["samples"].append([step, text])
        if print_samples:
            bar.write(f"--- sample after {step} steps (temperature {sample_temperature}) "
                      f"---\n{text}")

    model.train()
    evaluate(0)
    batches = char_batches(train_ids, batch_size, n_steps, gen)
    state, chars, step = None, 0, 0
    base_lrs = [group["lr"] for group in opt.param_groups]
    _lr_factor(schedule, 1, steps)  # a wrong schedule name fails here, before any work
    bar = tqdm(range(1, steps + 1), desc=desc, disable=not progress, mininterval=1.0)
    try:
        for step in bar:
            t0 = time.perf_counter()
            try:
                x, y = next(batches)
            except StopIteration:  # a new pass over the text: new offsets, fresh state
                batches = char_batches(train_ids, batch_size, n_steps, gen)
                x, y = next(batches)
                state = None
            x, y = x.to(device), y.to(device)
            for group, base_lr in zip(opt.param_groups, base_lrs):
                group["lr"] = base_lr * _lr_factor(schedule, step, steps)
            logits, state = model(x, state)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
            last_good = hist["train_bpc"][-1] * LN2 if hist["train_bpc"] else None  # nats
            value = _check_finite(loss, step, last_good, hist)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norm = nn.utils.clip_grad_norm_(model.parameters(), clip if clip is not None
                                            else float("inf"))
            opt.step()
            state = detach_state(state)
            hist["step"].append(step)
            hist["train_bpc"].append(value / LN2)
            hist["grad_norm"].append(float(norm))
            hist["seconds"] += time.perf_counter() - t0
            chars += y.numel()
            if step % eval_every == 0 or step == steps:
                evaluate(step)
                if hist["val_bpc"]:
                    bar.set_postfix(train_bpc=f"{hist['train_bpc'][-1]:.3f}",
                                    val_bpc=f"{hist['val_bpc'][-1]:.3f}")
            if sample_every is not None and (step % sample_every == 0 or step == steps):
                take_sample(step, bar)
    except KeyboardInterrupt:
        _interrupted(hist, step, bar)
    finally:
        bar.close()
    hist["chars_per_second"] = chars / max(hist["seconds"], 1e-9)
    model.eval()
    return hist


__all__ = [
    "SequenceRegressor", "fit", "NonFiniteLoss", "last_fifth_improvement", "CharLM", "detach_state",
    "evaluating", "bits_per_char", "sample", "top_next_chars", "train_char_lm", "save_checkpoint",
    "load_checkpoint",
]
