"""The GPU check: the package's fast-vs-reference tests on CUDA and the benchmark's CUDA rows,
written to one report file. ``make gpu-check`` runs it.

    python3 tools/gpu_check.py --out DIR           # on a machine with a GPU: about 3 minutes
    python3 tools/gpu_check.py --out DIR --tiny    # tiny sizes, on the CPU without a GPU (CI)

Needs python3 with torch (and triton, for the compiled pointwise step on CUDA) and pytest; no
Jupyter, no network, no installed package (the repository's own ``lstm_edu`` is imported).
Each part runs even when an earlier one failed; the report (``DIR/gpu_check.md``) says what
passed, what failed and how long each part took, and the exit status is 1 when a part failed.
Parts: the environment; ``tests/test_fast.py`` with torch's default device set to the GPU (every
model and tensor of the tests is then built there: outputs, final states and every gradient of
the fast versions against the references, ``FastLSTM.compile_pointwise`` included); the compiled
pointwise step timed on its own, compile time apart; the training-step times of
``torch.nn.LSTM`` (cuDNN), ``FastLSTM`` and ``FastHyperLSTM`` at T=100, B=64, N_h=512, N_ĥ=128,
N_z=16, and their ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from lstm_edu import bench  # noqa: E402
from lstm_edu.fast import FastLSTM, compiled  # noqa: E402

BENCH_MODELS = ("torch.nn.LSTM", "FastLSTM", "FastHyperLSTM")
# The tests of the tiny (CI) mode: a sample of tests/test_fast.py
TINY_TESTS = "(test_fast_equals_reference and dtype0) or compile_pointwise or gradcheck"


class Report:
    """The report's parts, each with its status, its time and its lines of Markdown."""

    def __init__(self):
        self.parts, self.t0 = [], time.perf_counter()

    def run(self, title, fn):
        t0 = time.perf_counter()
        try:
            lines, ok = fn()
        except Exception:
            lines, ok = ["```", traceback.format_exc().rstrip(), "```"], False
        self.parts.append((title, ok, time.perf_counter() - t0, lines))
        print(f"gpu_check: {title}: {'ok' if ok else 'FAILED'} ({time.perf_counter() - t0:.0f} s)",
              flush=True)

    def markdown(self, args) -> str:
        ok = all(part[1] for part in self.parts)
        head = [f"# GPU check: {'all parts passed' if ok else 'SOME PARTS FAILED'}", "",
                f"{time.strftime('%Y-%m-%d %H:%M:%S')}, "
                f"{time.perf_counter() - self.t0:.0f} s in all, "
                f"mode {'tiny' if args.tiny else 'full'}, device {args.device}", ""]
        head += ["| part | result | seconds |", "|---|---|---|"]
        head += [f"| {t} | {'ok' if k else 'FAILED'} | {s:.0f} |" for t, k, s, _ in self.parts]
        body = []
        for title, _, _, lines in self.parts:
            body += ["", f"## {title}", ""] + lines
        return "\n".join(head + body) + "\n"


def environment(device):
    lines = [f"- python {platform.python_version()}, torch {torch.__version__}, "
             f"{torch.get_num_threads()} CPU threads"]
    if device.type == "cuda":
        lines.append(f"- GPU: {torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}, "
                     f"cuDNN {torch.backends.cudnn.version()}")
    try:
        import triton

        lines.append(f"- triton {triton.__version__}")
    except ImportError:
        lines.append("- triton: not installed (no compiled pointwise step on CUDA)")
    if device.type == "cpu":  # (on a GPU machine the CPU's compiled loops are not needed)
        lines.append(f"- CPU time loops: {compiled.describe()}")
    return lines, True


def tests(device, tiny, timeout):
    env = dict(os.environ, LSTM_EDU_TEST_DEVICE=device.type,
               PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tools"),
                                           os.environ.get("PYTHONPATH", "")]))
    # (the exercise checkers make CPU tensors with their own generators: not a device test)
    select = TINY_TESTS if tiny else "not checker"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "pytest_device", "-p", "no:cacheprovider",
           "tests/test_fast.py", "-k", select]
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    out = (res.stdout + res.stderr).strip().splitlines()
    lines = [f"`{' '.join(cmd[1:])}` with `LSTM_EDU_TEST_DEVICE={device.type}`, exit status "
             f"{res.returncode}:", "", "```"] + out[-40:] + ["```"]
    return lines, res.returncode == 0


def compiled_pointwise(device, sizes):
    """FastLSTM with the per-step elementwise function compiled (torch.compile; CUDA only)."""
    if device.type != "cuda":
        return ["No GPU: `FastLSTM.compile_pointwise()` does nothing here (CUDA only)."], True
    torch.manual_seed(0)
    model = bench.build("FastLSTM", sizes, device)
    x = torch.randn(sizes.n_steps, sizes.batch_size, sizes.input_size, device=device)
    with torch.no_grad():
        want = model(x)[0]
    if not FastLSTM.compile_pointwise():
        return ["`FastLSTM.compile_pointwise()` returned False (no triton?)"], False
    try:
        t0 = time.perf_counter()
        with torch.no_grad():
            got = model(x)[0]  # the first call compiles
        torch.cuda.synchronize(device)
        first = time.perf_counter() - t0
        diff = (got - want).abs().max().item()
        times = bench.time_steps({"compiled": lambda: bench.training_step(model, x)}, 5, device)
    finally:
        FastLSTM.compile_pointwise(False)
    ms = bench.summarize(times["compiled"])["ms"]
    lines = [f"- first call (compiles): {first:.1f} s",
             f"- largest |output - eager output|: {diff:.1e}",
             f"- training step with the compiled pointwise step: {ms:.1f} ms (median of 5)"]
    return lines, diff < 1e-4


def benchmark(device, sizes, repeats, results):
    pairs = [(name, "torch.nn.LSTM") for name in BENCH_MODELS[1:]]
    times, ratios = bench.time_pairs(sizes, device, repeats, pairs)  # as the benchmark's
    results[device.type] = {"sizes": bench.asdict(sizes), "times": times, "ratios": ratios,
                            "memory": {}, "mem_steps": 0,
                            "targets_apply": sizes == bench.GPU_SIZES}
    table = bench.format_table(results)
    lines = ["```", table, "```", ""]
    lines += [f"- {name} / torch.nn.LSTM ({'cuDNN' if device.type == 'cuda' else 'oneDNN'}): "
              f"**{ratios[name + '/torch.nn.LSTM']['ratio']:.2f}** (median of interleaved pairs)"
              for name in BENCH_MODELS[1:]]
    lines += ["", "```json", json.dumps({"times": times, "ratios": ratios}), "```"]
    return lines, True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder for the report (gpu_check.md)")
    p.add_argument("--tiny", action="store_true", help="tiny sizes and a sample of the tests (CI)")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                   help="auto: cuda when present, else cpu")
    args = p.parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: torch finds no GPU here")
    if args.device == "cpu" and not args.tiny:
        p.error("no GPU here: the full check is for a GPU machine; --tiny runs its small CPU "
                "version")
    device = torch.device(args.device)
    if device.type == "cpu" and args.tiny:
        torch.set_num_threads(1)
    sizes = bench.QUICK_SIZES if args.tiny else bench.GPU_SIZES
    report, results = Report(), {}
    report.run("Environment", lambda: environment(device))
    report.run("Tests on " + device.type, lambda: tests(device, args.tiny, 150))
    report.run("Compiled pointwise step", lambda: compiled_pointwise(device, sizes))
    report.run("Benchmark rows", lambda: benchmark(device, sizes, 2 if args.tiny else 5, results))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.md").write_text(report.markdown(args))
    print(f"gpu_check: report written to {out / 'gpu_check.md'}")
    return 0 if all(part[1] for part in report.parts) else 1


if __name__ == "__main__":
    sys.exit(main())
