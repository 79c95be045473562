"""Peak memory of one training step, each model measured in a fresh process."""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
from dataclasses import asdict, replace
from typing import Optional

import torch

from ..fast import compiled
from .timing import Sizes, build, training_step


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
    """The resident set's high-water mark: ``VmHWM`` (Linux), else ``ru_maxrss`` (over the
    process's life)."""
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
    if name.startswith("Fast"):
        compiled.build()  # the compiled loops are loaded before the step, not during it
    gc.collect()
    _reset_peak_rss()  # so that the peak is the step's, not the imports'
    before = _rss_bytes()
    training_step(model, x)
    return (_peak_rss_bytes() - before) / 2**20


def peak_memory(name: str, s: Sizes, device: torch.device, threads: Optional[int] = None) -> float:
    """:func:`peak_memory_here` in a fresh subprocess
    (``python -m lstm_edu.bench --memory-child``)."""
    cmd = [sys.executable, "-m", "lstm_edu.bench", "--memory-child", name, "--device", str(device),
           "--sizes-json", json.dumps(asdict(s))]
    if threads:
        cmd += ["--threads", str(threads)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(res.stdout.strip().splitlines()[-1])
