"""Training-step benchmark: ``python -m lstm_edu.bench`` (``--help`` for the options).

One run times a training step (forward + backward of ``out.sum()``) of ``torch.nn.LSTM``, the
reference :class:`lstm_edu.LSTM` and :class:`lstm_edu.HyperLSTM`, and :class:`lstm_edu.fast.FastLSTM`
and :class:`lstm_edu.fast.FastHyperLSTM`, on the CPU and, when one is present, on the GPU, and prints
them side by side with the ratios the project targets (issue 2 and 6):

- FastLSTM / torch.nn.LSTM (CPU: at most 1.3; GPU, where nn.LSTM is cuDNN: at most 1.5);
- LSTM (reference) / torch.nn.LSTM (reported);
- FastHyperLSTM / HyperLSTM (reference) (at most 0.25);
- FastHyperLSTM / torch.nn.LSTM (CPU: aim at 2 or less; GPU: at most 3);

and the peak memory of one training step at ``T = 2000``. On the CPU that is the growth of the
process's resident set (its high-water mark during the step minus the RSS just before it), measured
in a fresh subprocess per model so that one model's freed memory does not hide another's (the
high-water mark is reset just before the step through ``/proc/self/clear_refs``); on a GPU
it is ``torch.cuda.max_memory_allocated`` minus the memory allocated before the step.

Timings are interleaved (one step of each model in turn, ``--repeats`` rounds after a warm-up
round) so slow drift of a shared machine hits every model alike; the table gives the median and
the spread ``(max - min) / median``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable, Dict, List, Optional, Tuple

import torch

from ..fast import FastHyperLSTM, FastLSTM
from ..models.hyper_lstm import HyperLSTM
from ..models.lstm import LSTM

MODELS = ("torch.nn.LSTM", "LSTM", "FastLSTM", "HyperLSTM", "FastHyperLSTM")
LABELS = {"torch.nn.LSTM": "torch.nn.LSTM", "LSTM": "LSTM (reference)", "FastLSTM": "FastLSTM",
          "HyperLSTM": "HyperLSTM (reference)", "FastHyperLSTM": "FastHyperLSTM"}
# (numerator, denominator, target on cpu, target on cuda); None: reported, no target
RATIOS = (
    ("FastLSTM", "torch.nn.LSTM", 1.3, 1.5),
    ("LSTM", "torch.nn.LSTM", None, None),
    ("FastHyperLSTM", "HyperLSTM", 0.25, 0.25),
    ("FastHyperLSTM", "torch.nn.LSTM", 2.0, 3.0),
)


@dataclass
class Sizes:
    """The benchmark's sizes (issue 2's CPU sizes by default)."""

    n_steps: int = 100
    batch_size: int = 32
    input_size: int = 128
    hidden_size: int = 256
    n_layers: int = 2
    hyper_size: int = 64
    n_z: int = 16


CPU_SIZES = Sizes()
GPU_SIZES = Sizes(batch_size=64, hidden_size=512, hyper_size=128)  # issue 6's GPU sizes
QUICK_SIZES = Sizes(n_steps=8, batch_size=4, input_size=8, hidden_size=16, n_layers=2, hyper_size=8, n_z=4)


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


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_step(model: torch.nn.Module, x: torch.Tensor) -> None:
    """Forward over ``x [T, B, I]`` and backward of ``out.sum()``; gradients are then dropped."""
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
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            if r >= warmup:
                times[name].append(time.perf_counter() - t0)
    return times


def summarize(seconds: List[float]) -> Dict[str, float]:
    """Median time in ms and spread ``(max - min) / median``."""
    med = statistics.median(seconds)
    return {"ms": 1e3 * med, "spread": (max(seconds) - min(seconds)) / med, "n": len(seconds)}


def time_models(s: Sizes, device: torch.device, repeats: int, models=MODELS) -> Dict[str, Dict[str, float]]:
    """Training-step time of each model at sizes ``s``: ``{name: {"ms", "spread", "n"}}``."""
    torch.manual_seed(0)
    x = torch.randn(s.n_steps, s.batch_size, s.input_size, device=device)
    built = {name: build(name, s, device) for name in models}
    steps = {name: (lambda m=m: training_step(m, x)) for name, m in built.items()}
    return {name: summarize(t) for name, t in time_steps(steps, repeats, device).items()}


# The operators counted as matrix multiplies by split_profile, the in-place forms (``addmm_``, which
# the fast versions' loops use) included.
MATMULS = frozenset({"aten::mm", "aten::addmm", "aten::addmm_", "aten::bmm", "aten::baddbmm",
                     "aten::baddbmm_", "aten::mkldnn_rnn_layer", "aten::mkldnn_rnn_layer_backward",
                     "aten::_cudnn_rnn", "aten::_cudnn_rnn_backward"})


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (the profiler's C++ layer logs "profiler_start/stop" lines there)."""
    try:
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):
        yield
        return
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def profile_step(step: Callable[[], None], device: torch.device):
    """Profile one call of ``step`` (after one warm-up call) with ``torch.profiler``; returns its
    ``key_averages()`` (a table of operators: calls, self time, ...)."""
    from torch.profiler import ProfilerActivity, profile

    step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with _quiet_stderr(), profile(activities=activities) as prof:
        step()
        _sync(device)
    return prof.key_averages()


# Operators that only make a view or allocate (no arithmetic, no copy): not counted as "calls".
VIEWS = frozenset("aten::" + name for name in (
    "select", "slice", "view", "t", "transpose", "as_strided", "chunk", "split", "split_with_sizes",
    "unbind", "narrow", "expand", "reshape", "_reshape_alias", "unsqueeze", "squeeze", "permute",
    "detach", "alias", "view_as", "_unsafe_view", "lift_fresh", "empty", "empty_like", "empty_strided",
    "resize_", "numpy_T", "matrix_H", "adjoint"))


def split_profile(averages) -> Tuple[float, float, int]:
    """``(ms in matrix multiplies, ms in everything else, number of operator calls)`` of a
    :func:`profile_step` result (self CPU time; on a GPU this is the time spent issuing work).
    The calls counted are ``aten`` operators that compute or copy (views and allocations are not
    counted)."""
    ops = [e for e in averages if e.key.startswith("aten::")]
    mat = sum(e.self_cpu_time_total for e in ops if e.key in MATMULS) / 1e3
    rest = sum(e.self_cpu_time_total for e in averages) / 1e3 - mat
    return mat, rest, sum(e.count for e in ops if e.key not in VIEWS)


def _rss_bytes() -> int:
    """The process's resident set size now (Linux ``/proc``; elsewhere 0)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark of the resident set (Linux: ``/proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_bytes() -> int:
    """The resident set's high-water mark: ``VmHWM`` (Linux), else ``ru_maxrss`` (the process's life)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def peak_memory_here(name: str, s: Sizes, device: torch.device) -> float:
    """Peak memory (MiB) that one training step of ``name`` adds, measured in this process.

    CPU: the resident set's high-water mark during the step (reset just before it through
    ``/proc/self/clear_refs``) minus the resident set before it; run in a fresh process
    (:func:`peak_memory`) so that memory freed by earlier work does not hide the step's own.
    CUDA: the allocator's peak minus what was allocated before the step.
    """
    torch.manual_seed(0)
    model = build(name, s, device)
    x = torch.randn(s.n_steps, s.batch_size, s.input_size, device=device)
    if device.type == "cuda":
        training_step(build(name, replace(s, n_steps=2), device), x[:2])  # load kernels first
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        training_step(model, x)
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    gc.collect()
    _reset_peak_rss()  # so that the peak is the step's, not the imports'
    before = _rss_bytes()
    training_step(model, x)
    return (_peak_rss_bytes() - before) / 2**20


def peak_memory(name: str, s: Sizes, device: torch.device, threads: Optional[int] = None) -> float:
    """:func:`peak_memory_here` in a fresh subprocess (``python -m lstm_edu.bench --memory-child``)."""
    cmd = [sys.executable, "-m", "lstm_edu.bench", "--memory-child", name, "--device", str(device),
           "--sizes-json", json.dumps(asdict(s))]
    if threads:
        cmd += ["--threads", str(threads)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(res.stdout.strip().splitlines()[-1])


def devices(which: str) -> List[torch.device]:
    """``"cpu"``, ``"cuda"`` or ``"all"`` (the CPU, and the GPU when one is present)."""
    out = []
    if which in ("cpu", "all"):
        out.append(torch.device("cpu"))
    if which in ("cuda", "all") and torch.cuda.is_available():
        out.append(torch.device("cuda"))
    return out


def run(args: argparse.Namespace) -> Dict[str, dict]:
    """Measure everything the options ask for; returns ``{device: {"sizes", "times", "memory"}}``."""
    results = {}
    for dev in devices(args.device):
        s = QUICK_SIZES if args.quick else (GPU_SIZES if dev.type == "cuda" else CPU_SIZES)
        s = replace(s, **{k: v for k, v in (("n_steps", args.steps), ("batch_size", args.batch),
                                            ("hidden_size", args.hidden)) if v is not None})
        times = time_models(s, dev, args.repeats)
        memory = {}
        if args.mem_steps > 0:
            ms = replace(s, n_steps=args.mem_steps)
            for name in args.mem_models.split(","):
                memory[name] = peak_memory(name, ms, dev, args.threads)
        results[dev.type] = {"sizes": asdict(s), "times": times, "memory": memory, "mem_steps": args.mem_steps,
                             "targets_apply": s in (CPU_SIZES, GPU_SIZES)}
        if args.profile:
            results[dev.type]["matmul_ms"] = matmul_times(s, dev)
    return results


def matmul_times(s: Sizes, device: torch.device, models=MODELS) -> Dict[str, float]:
    """Milliseconds that one training step of each model spends inside matrix multiplies
    (``split_profile`` of a ``profile_step``): the part of its time that no reorganisation of the
    other work can remove, short of faster matrix multiplies. ``{name: ms}``."""
    torch.manual_seed(0)
    x = torch.randn(s.n_steps, s.batch_size, s.input_size, device=device)
    out = {}
    for name in models:
        model = build(name, s, device)
        out[name] = split_profile(profile_step(lambda: training_step(model, x), device))[0]
    return out


def format_table(results: Dict[str, dict]) -> str:
    """The side-by-side table that ``python -m lstm_edu.bench`` prints."""
    devs = ["cpu", "cuda"]
    w0, w = 42, 28
    lines = []

    def row(label, cells):
        lines.append(label.ljust(w0) + "".join(str(c).rjust(w) for c in cells))

    row("device", [d + ("" if d in results else " (none)") for d in devs])
    for key in ("n_steps", "batch_size", "input_size", "hidden_size", "n_layers", "hyper_size", "n_z"):
        row(f"  {key}", [results[d]["sizes"][key] if d in results else "-" for d in devs])
    lines.append("training step (forward + backward), median ms (spread)")
    for name in MODELS:
        row(f"  {LABELS[name]}", [f"{results[d]['times'][name]['ms']:.1f} ({results[d]['times'][name]['spread']:.0%})"
                                  if d in results else "-" for d in devs])
    lines.append("ratios (target); on cuda torch.nn.LSTM is cuDNN's LSTM")
    for num, den, t_cpu, t_gpu in RATIOS:
        cells = []
        for d, target in zip(devs, (t_cpu, t_gpu)):
            if d not in results:
                cells.append("-")
                continue
            r = results[d]["times"][num]["ms"] / results[d]["times"][den]["ms"]
            if target is None:
                verdict = ""
            elif not results[d].get("targets_apply", True):
                verdict = f" (<={target:g} at full size)"
            else:
                verdict = f" (<={target:g} ok)" if r <= target else f" (<={target:g} MISSED)"
            cells.append(f"{r:.2f}{verdict}")
        row(f"  {LABELS[num]} / {LABELS[den]}", cells)
    if any("matmul_ms" in results[d] for d in devs if d in results):
        lines.append("of which inside matrix multiplies (profiled once), ms")
        for name in MODELS:
            row(f"  {LABELS[name]}", [f"{results[d]['matmul_ms'][name]:.1f}" if d in results and "matmul_ms" in results[d]
                                      else "-" for d in devs])
        lines.append("floor: the fast version's matrix multiplies alone / the other's whole step")
        for num, den in (("FastLSTM", "torch.nn.LSTM"), ("FastHyperLSTM", "HyperLSTM")):
            row(f"  {LABELS[num]} / {LABELS[den]}",
                [f"{results[d]['matmul_ms'][num] / results[d]['times'][den]['ms']:.2f}"
                 if d in results and "matmul_ms" in results[d] else "-" for d in devs])
    mem_dev = [d for d in devs if d in results and results[d]["memory"]]
    if mem_dev:
        names = list(dict.fromkeys(n for d in mem_dev for n in results[d]["memory"]))
        steps = {results[d]["mem_steps"] for d in mem_dev}
        lines.append(f"peak memory of a training step, T={'/'.join(map(str, sorted(steps)))}, MiB "
                     "(cpu: max RSS growth, fresh process; cuda: allocator peak)")
        for name in names:
            row(f"  {LABELS.get(name, name)}", [f"{results[d]['memory'][name]:.0f}" if d in mem_dev and name in results[d]["memory"]
                                                 else "-" for d in devs])
    return "\n".join(lines)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m lstm_edu.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes, 2 repeats and 1 CPU thread unless --threads says otherwise: runs in seconds (for tests)")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds per model (default 5; quick 2)")
    p.add_argument("--steps", type=int, default=None, help="sequence length T (default 100)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default 32 on cpu, 64 on cuda)")
    p.add_argument("--hidden", type=int, default=None, help="hidden size (default 256 on cpu, 512 on cuda)")
    p.add_argument("--mem-steps", type=int, default=None,
                   help="sequence length of the peak-memory step (default 2000; quick 50; 0 skips it)")
    p.add_argument("--mem-models", default="torch.nn.LSTM,LSTM,FastLSTM,FastHyperLSTM",
                   help="comma-separated models whose peak memory is measured (the reference HyperLSTM "
                        "is left out by default: at T=2000 it takes minutes on a CPU)")
    p.add_argument("--device", choices=("all", "cpu", "cuda"), default="all", help="where to run (default: all present)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads for the CPU runs")
    p.add_argument("--no-profile", dest="profile", action="store_false",
                   help="skip the profiled step that measures each model's time inside matrix multiplies")
    p.add_argument("--json", action="store_true", help="print the results as JSON after the table")
    p.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--sizes-json", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    if args.mem_steps is None:
        args.mem_steps = 50 if args.quick else 2000
    if args.quick and args.threads is None:
        args.threads = 1  # tiny tensors: a second thread only adds waiting, badly so on a busy machine
    return args


def main(argv: Optional[List[str]] = None) -> Dict[str, dict]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        dev = torch.device(args.device if args.device != "all" else "cpu")
        print(peak_memory_here(args.memory_child, Sizes(**json.loads(args.sizes_json)), dev))
        return {}
    print(f"lstm_edu.bench: torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"{args.repeats} timed repeats (+1 warm-up), interleaved; spread = (max - min) / median")
    results = run(args)
    print(format_table(results))
    if args.json:
        print(json.dumps(results))
    return results
