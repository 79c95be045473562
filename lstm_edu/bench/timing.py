"""Timing a training step: the models, their sizes, and interleaved timing with medians."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from ..fast import FastHyperLSTM, FastLSTM
from ..models.hyper_lstm import HyperLSTM
from ..models.lstm import LSTM

MODELS = ("torch.nn.LSTM", "LSTM", "FastLSTM", "HyperLSTM", "FastHyperLSTM")
LABELS = {"torch.nn.LSTM": "torch.nn.LSTM", "LSTM": "LSTM (reference)", "FastLSTM": "FastLSTM",
          "HyperLSTM": "HyperLSTM (reference)", "FastHyperLSTM": "FastHyperLSTM"}


@dataclass
class Sizes:
    """The benchmark's sizes (the CPU sizes by default)."""

    n_steps: int = 100  # T
    batch_size: int = 32  # B
    input_size: int = 128  # N_x
    hidden_size: int = 256  # N_h
    n_layers: int = 2  # L
    hyper_size: int = 64  # N_ĥ
    n_z: int = 16  # N_z


CPU_SIZES = Sizes()
GPU_SIZES = Sizes(batch_size=64, hidden_size=512, hyper_size=128)
QUICK_SIZES = Sizes(n_steps=8, batch_size=4, input_size=8, hidden_size=16, n_layers=2,
                    hyper_size=8, n_z=4)


def build(name: str, s: Sizes, device: torch.device, seed: int = 0) -> torch.nn.Module:
    """One of ``MODELS`` at sizes ``s`` on ``device``."""
    torch.manual_seed(seed)
    if name == "torch.nn.LSTM":
        m = torch.nn.LSTM(s.input_size, s.hidden_size, s.n_layers)
    elif name in ("LSTM", "FastLSTM"):
        m = (LSTM if name == "LSTM" else FastLSTM)(s.input_size, s.hidden_size, s.n_layers)
    elif name in ("HyperLSTM", "FastHyperLSTM"):
        cls = HyperLSTM if name == "HyperLSTM" else FastHyperLSTM
        m = cls(s.input_size, s.hidden_size, s.hyper_size, s.n_z, s.n_layers)
    else:
        raise ValueError(f"unknown model {name!r}; expected one of {MODELS}")
    return m.to(device)


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (a GPU runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_step(model: torch.nn.Module, x: torch.Tensor) -> None:
    """Forward over ``x [T, B, N_x]`` and backward of ``out.sum()``; gradients are then dropped."""
    out, _ = model(x)
    out.sum().backward()
    for p in model.parameters():
        p.grad = None


def time_steps(steps: Dict[str, Callable[[], None]], repeats: int, device: torch.device,
               warmup: int = 1, settle: int = 1) -> Dict[str, List[float]]:
    """Seconds per call of each function in ``steps``, interleaved: ``warmup`` untimed rounds, then
    ``repeats`` rounds of one timed call of each, each right after ``settle`` untimed calls of the
    same function. Returns ``{name: [seconds, ...]}``.

    Why ``settle``: a training step allocates and frees large buffers, and how fast the next step
    gets fresh memory (reused, or new pages that fault on first touch) depends on what the previous
    step freed. Timed right after another model, a step pays for that model's memory pattern; in
    training it follows a step of its own model. (Measured: a HyperLSTM step 15 % slower right
    after a step of a version that keeps every intermediate tensor.)"""
    times: Dict[str, List[float]] = {name: [] for name in steps}
    for r in range(warmup + repeats):
        for name, fn in steps.items():
            for _ in range(settle if r >= warmup else 0):
                fn()
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            if r >= warmup:
                times[name].append(time.perf_counter() - t0)
    return times


def summarize(seconds: List[float]) -> Dict[str, float]:
    """Median time in ms and spread ``(max - min) / median``."""
    med = statistics.median(seconds)
    return {"ms": 1e3 * med, "spread": (max(seconds) - min(seconds)) / med, "n": len(seconds)}


def time_models(s: Sizes, device: torch.device, repeats: int,
                models: Sequence[str] = MODELS) -> Dict[str, Dict[str, float]]:
    """Training-step time of each model at sizes ``s``: ``{name: {"ms", "spread", "n"}}``."""
    torch.manual_seed(0)
    x = torch.randn(s.n_steps, s.batch_size, s.input_size, device=device)
    built = {name: build(name, s, device) for name in models}
    steps = {name: (lambda m=m: training_step(m, x)) for name, m in built.items()}
    return {name: summarize(t) for name, t in time_steps(steps, repeats, device).items()}


def time_pair_here(a: str, b: str, s: Sizes, device: torch.device,
                   repeats: int) -> Dict[str, List[float]]:
    """Models ``a`` and ``b`` timed interleaved in this process (:func:`time_steps`): seconds per
    step, ``{a: [...], b: [...]}``, one of each per round."""
    torch.manual_seed(0)
    x = torch.randn(s.n_steps, s.batch_size, s.input_size, device=device)
    built = {n: build(n, s, device) for n in (a, b)}
    return time_steps({n: (lambda m=built[n]: training_step(m, x)) for n in (a, b)}, repeats,
                      device)


def time_pair_fresh(a: str, b: str, s: Sizes, device: torch.device, repeats: int,
                    threads: Optional[int] = None) -> Dict[str, List[float]]:
    """:func:`time_pair_here` in a fresh Python process (``python -m lstm_edu.bench
    --pair-child a,b``), with ``threads`` CPU threads."""
    cmd = [sys.executable, "-m", "lstm_edu.bench", "--pair-child", f"{a},{b}", "--device",
           str(device), "--sizes-json", json.dumps(asdict(s)), "--repeats", str(repeats)]
    if threads:
        cmd += ["--threads", str(threads)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"timing {a} against {b} in a fresh process failed:\n"
                           f"{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def time_pairs(s: Sizes, device: torch.device, repeats: int, pairs: Sequence[Tuple[str, str]],
               fresh: bool = False, threads: Optional[int] = None
               ) -> Tuple[Dict[str, Dict[str, float]], Dict[str, Dict[str, float]]]:
    """Each pair ``(a, b)`` of models timed on its own, interleaved (:func:`time_steps`): a
    timed step of ``a`` and one of ``b`` in every round, each right after a step of its own, and
    no other model in between; with ``fresh``, each pair in a fresh process
    (:func:`time_pair_fresh`, with ``threads`` CPU threads), where no other model ever ran.
    Returns ``(times, ratios)``: ``times[name]`` summarises every step of ``name`` over all its
    pairs (:func:`summarize`); ``ratios["a/b"]`` holds ``"ratio"``, the median over the rounds
    of ``t_a / t_b`` (the median of interleaved pairs), and ``"spread"``, that of the per-round
    ratios.

    Why pairs, and fresh processes: timed in one rotation of all models, a fast version's step
    followed, for one, the reference HyperLSTM's (over a second of small allocations), and we
    measured a FastLSTM step 15-25 % slower there than after steps of its own, while
    ``torch.nn.LSTM`` was not slowed; timed in pairs but in one process, FastHyperLSTM against
    ``torch.nn.LSTM`` came out 2.2-2.5 after the pair with the reference HyperLSTM and 2.0-2.1
    in a process of its own. In training, a process runs one model. A ratio of two times of the
    same round also cancels what the rest of the machine does from one round to the next."""
    names = list(dict.fromkeys(n for pair in pairs for n in pair))
    seconds: Dict[str, List[float]] = {name: [] for name in names}
    ratios = {}
    for a, b in pairs:
        t = (time_pair_fresh(a, b, s, device, repeats, threads) if fresh
             else time_pair_here(a, b, s, device, repeats))
        seconds[a] += t[a]
        seconds[b] += t[b]
        per_round = [ta / tb for ta, tb in zip(t[a], t[b])]
        med = statistics.median(per_round)
        ratios[f"{a}/{b}"] = {"ratio": med, "spread": (max(per_round) - min(per_round)) / med,
                              "n": len(per_round)}
    return {name: summarize(t) for name, t in seconds.items()}, ratios
