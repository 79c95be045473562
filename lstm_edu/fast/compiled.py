"""The compiled time loops: a small C++ extension, built on first use, else the Python loops.

The loops over time of :class:`~lstm_edu.fast.LSTMLayerFunction` and
:class:`~lstm_edu.fast.HyperLayerFunction` exist twice, with the same arguments and results:
in Python (``lstm_steps.py``, ``hyper_steps.py``: a few PyTorch calls per step, each costing
microseconds of overhead) and in C++ (``csrc/``: the whole loop in one call, each step's
elementwise work fused into one vectorised pass). The C++ version is compiled with
``torch.utils.cpp_extension.load`` the first time a fast model runs on the CPU (once: the build
is kept in :func:`cache_dir`). Where no compiler is available the build fails, one line says so,
and the Python loops run instead: the same results, more slowly. ``LSTM_EDU_COMPILED=0`` (or
:func:`use_compiled` ``(False)``) selects the Python loops.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Optional

import torch

CSRC = Path(__file__).resolve().parent / "csrc"
SOURCES = [CSRC / name for name in ("bindings.cpp", "lstm_steps.cpp", "hyper_steps.cpp")]
HEADERS = [CSRC / name for name in ("cell_math.h", "panels.h")]  # included by the sources
# The vector width PyTorch's own CPU kernels use on this machine, and the compiler flags for it.
_ISA_FLAGS = {
    "AVX512": ["-DCPU_CAPABILITY_AVX512", "-mavx512f", "-mavx512bw", "-mavx512vl",
               "-mavx512dq", "-mfma"],
    "AVX2": ["-DCPU_CAPABILITY_AVX2", "-mavx2", "-mfma"],
}


# -ffp-contract=off: a * b + c rounds twice, as in PyTorch's own kernels (no fused multiply-add
# unless the code asks for one), so the loops round as the reference modules do.
_FLAGS = ["-O3", "-ffp-contract=off"]


class _Loops:
    """What this process knows about the compiled loops (one instance, ``_loops``)."""

    def __init__(self):
        self.enabled = os.environ.get("LSTM_EDU_COMPILED", "1") != "0"
        self.module: Optional[ModuleType] = None
        self.tried = False
        self.seconds: Optional[float] = None  # time of the build (or of loading a cached build)
        self.error: Optional[str] = None
        self.lock = threading.Lock()


_loops = _Loops()


def cache_dir() -> Path:
    """Where the build goes: ``compiled/`` in the package's cache folder (``$LSTM_EDU_CACHE``,
    else the user's cache folder, e.g. ``~/.cache/lstm_edu``; the run cache's ``off`` does not
    apply to it), one folder per vector width, torch version and Python version."""
    root = os.environ.get("LSTM_EDU_CACHE", "").strip()
    if not root or root.lower() == "off":
        try:
            import platformdirs

            root = platformdirs.user_cache_dir("lstm_edu", appauthor=False)
        except ImportError:  # a bare machine with torch only
            root = os.path.join(os.path.expanduser("~"), ".cache", "lstm_edu")
    tag = f"{_isa().lower()}_torch{torch.__version__}_py{sys.version_info[0]}{sys.version_info[1]}"
    return Path(root).expanduser() / "compiled" / tag.replace("+", "_")


def _isa() -> str:
    try:
        isa = torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # torch < 2.1
        isa = "DEFAULT"
    return isa if isa in _ISA_FLAGS else "DEFAULT"


def _openmp() -> list:
    """``-fopenmp`` where PyTorch's CPU threads are OpenMP's (Linux builds), so the loops'
    elementwise work can share them (``at::parallel_for``); elsewhere it runs on one thread."""
    linux_openmp = sys.platform.startswith("linux") and torch.backends.openmp.is_available()
    return ["-fopenmp"] if linux_openmp else []


@contextlib.contextmanager
def _only_builder(folder: Path):
    """Hold an exclusive lock on ``folder`` (``fcntl.flock``, which the operating system
    releases when the process ends, however it ends) while loading or building there. PyTorch's
    own lock is a file (``lock``) that a build removes when it finishes; a build that was killed
    (a kernel restarted mid-build, say) leaves it behind, and every later build in the folder
    would wait for it forever. Holding our lock, no other build of ours is running, so such a
    file is stale: it is removed, with a notice. (Where ``fcntl`` is missing, on Windows, a
    ``lock`` file older than an hour is taken as stale.)"""
    torch_lock = folder / "lock"
    try:
        import fcntl
    except ImportError:
        fcntl = None
    with open(folder / "lstm_edu.lock", "a+") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)  # waits while another process builds here
        try:
            stale = torch_lock.exists() and (
                fcntl is not None or time.time() - torch_lock.stat().st_mtime > 3600)
            if stale:
                print(f"lstm_edu.fast: removing {torch_lock}, left by a build that did not "
                      "finish", file=sys.stderr, flush=True)
                torch_lock.unlink()
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def build() -> Optional[ModuleType]:
    """The compiled module, built (or loaded from the cache) on the first call; ``None`` with a
    one-line notice on stderr where that fails."""
    with _loops.lock:
        if _loops.tried:
            return _loops.module
        _loops.tried = True
        folder = cache_dir()
        t0 = time.perf_counter()
        try:
            from torch.utils.cpp_extension import load

            folder.mkdir(parents=True, exist_ok=True)
            with _only_builder(folder):
                if not any(folder.glob("*.so")):
                    print(f"lstm_edu.fast: compiling the C++ time loops once, into {folder}",
                          file=sys.stderr, flush=True)
                _loops.module = load(name=f"lstm_edu_loops_{_isa().lower()}",
                                     sources=[str(s) for s in SOURCES],
                                     build_directory=str(folder),
                                     extra_cflags=_FLAGS + _ISA_FLAGS.get(_isa(), []) + _openmp(),
                                     extra_ldflags=_openmp())
        except Exception as e:  # no compiler, no ninja, no headers, a failed build ...
            first_line = (str(e).strip().splitlines() or [""])[0]
            _loops.error = f"{type(e).__name__}: {first_line[:80]}"
            print(f"lstm_edu.fast: could not build the compiled loops ({_loops.error}); using the "
                  "pure-PyTorch loops (same results, slower)", file=sys.stderr, flush=True)
        _loops.seconds = time.perf_counter() - t0
        return _loops.module


def loops_for(x: torch.Tensor) -> Optional[ModuleType]:
    """The compiled loops for tensors like ``x``, or ``None`` for the Python loops (on a GPU,
    when disabled, or when the build failed)."""
    if x.device.type != "cpu" or not _loops.enabled:
        return None
    return _loops.module if _loops.tried else build()


def use_compiled(enable: bool = True) -> None:
    """Run the CPU's fast layers with the compiled loops (the default) or the Python loops."""
    _loops.enabled = enable


def describe() -> str:
    """Which loops the CPU runs, in words (builds the compiled loops first if enabled)."""
    if not _loops.enabled:
        return "Python loops (compiled loops switched off)"
    module = build()
    if module is None:
        return f"Python loops (the compiled loops did not build: {_loops.error})"
    return f"compiled C++ loops ({_isa()}), built or loaded in {_loops.seconds:.1f} s, once"


def build_seconds() -> Optional[float]:
    """Seconds the first :func:`build` took in this process (``None`` before it ran)."""
    return _loops.seconds
