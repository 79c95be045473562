"""Where a training step's time goes: one profiled step, split into matrix multiplies and the
rest."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Callable, Dict, Sequence, Tuple

import torch

from .timing import MODELS, Sizes, build, sync, training_step

# The operators counted as matrix multiplies by split_profile, the in-place forms (``addmm_``,
# which the fast versions' loops use), oneDNN's inner product and the compiled loops' panel_mm
# (lstm_edu.fast.matmul) included.
MATMULS = frozenset({"aten::mm", "aten::addmm", "aten::addmm_", "aten::bmm", "aten::baddbmm",
                     "aten::baddbmm_", "aten::mkldnn_rnn_layer", "aten::mkldnn_rnn_layer_backward",
                     "aten::_cudnn_rnn", "aten::_cudnn_rnn_backward",
                     "mkldnn::_linear_pointwise", "lstm_edu::panel_mm"})

# Operators that only make a view or allocate, or do nothing for real numbers (no arithmetic, no
# copy): not counted as "calls".
VIEWS = frozenset("aten::" + name for name in (
    "select", "slice", "view", "t", "transpose", "as_strided", "chunk", "split",
    "split_with_sizes", "unbind", "narrow", "expand", "reshape", "_reshape_alias", "unsqueeze",
    "squeeze", "permute", "detach", "alias", "view_as", "_unsafe_view", "lift_fresh", "empty",
    "empty_like", "empty_strided", "new_empty", "resize_", "numpy_T", "matrix_H", "adjoint",
    "resolve_conj", "resolve_neg"))


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (the profiler's C++ layer logs "profiler_start/stop" lines
    there)."""
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
        sync(device)
    return prof.key_averages()


def split_profile(averages) -> Tuple[float, float, int]:
    """``(ms in matrix multiplies, ms in everything else, number of operator calls)`` of a
    :func:`profile_step` result (self CPU time; on a GPU this is the time spent issuing work).
    The calls counted are ``aten`` and ``mkldnn`` (oneDNN) operators that compute or copy (views
    and allocations are not counted), and the compiled loops' ``lstm_edu::panel_mm``. The
    compiled loops' own elementwise work is charged to the autograd function that calls them
    (``LSTMLayerFunction``, ...): "everything else"."""
    ops = [e for e in averages if e.key.startswith(("aten::", "mkldnn::", "lstm_edu::"))]
    mat = sum(e.self_cpu_time_total for e in ops if e.key in MATMULS) / 1e3
    rest = sum(e.self_cpu_time_total for e in averages) / 1e3 - mat
    return mat, rest, sum(e.count for e in ops if e.key not in VIEWS)


def matmul_times(s: Sizes, device: torch.device,
                 models: Sequence[str] = MODELS) -> Dict[str, float]:
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
