"""``python -m lstm_edu.bench``: measure, then print one table with a column per device."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace
from typing import Dict, List, Optional

import torch

from ..fast import compiled
from .memory import peak_memory, peak_memory_here
from .profiling import matmul_times
from .timing import (
    CPU_SIZES,
    GPU_SIZES,
    LABELS,
    MODELS,
    QUICK_SIZES,
    Sizes,
    time_models,
    time_pair_here,
    time_pairs,
)

# (numerator, denominator, bound on cpu, bound on cuda): the ratio this package aims to stay
# under at the full sizes; None: reported only.
RATIOS = (
    ("FastLSTM", "torch.nn.LSTM", 1.15, 1.5),
    ("LSTM", "torch.nn.LSTM", None, None),
    ("FastHyperLSTM", "HyperLSTM", 0.4, None),
    ("FastHyperLSTM", "torch.nn.LSTM", 2.2, 3.0),
)


def devices(which: str) -> List[torch.device]:
    """``"cpu"``, ``"cuda"`` or ``"all"`` (the CPU, and the GPU when one is present)."""
    out = []
    if which in ("cpu", "all"):
        out.append(torch.device("cpu"))
    if which in ("cuda", "all") and torch.cuda.is_available():
        out.append(torch.device("cuda"))
    return out


def loops_used(device: torch.device) -> str:
    """Which time loops the fast layers run on ``device``, in words."""
    if device.type != "cpu":
        return "Python loops (the compiled loops are for the CPU)"
    return compiled.describe()


def run(args: argparse.Namespace) -> Dict[str, dict]:
    """Measure everything the options ask for; returns ``{device: {"sizes", "times", ...}}``."""
    results = {}
    models = args.models.split(",")
    for dev in devices(args.device):
        s = QUICK_SIZES if args.quick else (GPU_SIZES if dev.type == "cuda" else CPU_SIZES)
        s = replace(s, **{k: v for k, v in (("n_steps", args.steps), ("batch_size", args.batch),
                                            ("hidden_size", args.hidden)) if v is not None})
        loops = loops_used(dev)  # on the CPU this builds the compiled loops, before any timing
        # each ratio from its own interleaved pair; a model in no pair is timed on its own
        pairs = [(num, den) for num, den, *_ in RATIOS if num in models and den in models]
        times, ratios = time_pairs(s, dev, args.repeats, pairs, fresh=True,
                                   threads=args.threads)
        alone = [n for n in models if n not in times]
        if alone:
            times.update(time_models(s, dev, args.repeats, alone))
        memory = {}
        if args.mem_steps > 0:
            ms = replace(s, n_steps=args.mem_steps)
            for name in args.mem_models.split(","):
                memory[name] = peak_memory(name, ms, dev, args.threads)
        results[dev.type] = {"sizes": asdict(s), "times": times, "ratios": ratios,
                             "memory": memory,
                             "mem_steps": args.mem_steps, "loops": loops,
                             "targets_apply": s in (CPU_SIZES, GPU_SIZES)}
        if dev.type == "cpu":
            results[dev.type]["build_seconds"] = compiled.build_seconds()
        if args.profile:
            results[dev.type]["matmul_ms"] = matmul_times(s, dev, models)
    return results


def format_table(results: Dict[str, dict]) -> str:
    """The side-by-side table that ``python -m lstm_edu.bench`` prints."""
    devs = ["cpu", "cuda"]
    w0, w = 42, 28
    lines = []

    def row(label, cells):
        lines.append(label.ljust(w0) + "".join(str(c).rjust(w) for c in cells))

    def has(d, name):
        return d in results and name in results[d]["times"]

    row("device", [d + ("" if d in results else " (none)") for d in devs])
    for key in ("n_steps", "batch_size", "input_size", "hidden_size", "n_layers", "hyper_size",
                "n_z"):
        row(f"  {key}", [results[d]["sizes"][key] if d in results else "-" for d in devs])
    names = [n for n in MODELS if any(has(d, n) for d in devs)]
    lines.append("training step (forward + backward), median ms over its pairs (spread)")
    for name in names:
        row(f"  {LABELS[name]}", [f"{results[d]['times'][name]['ms']:.1f} "
                                  f"({results[d]['times'][name]['spread']:.0%})"
                                  if has(d, name) else "-" for d in devs])
    lines.append("ratios, median over interleaved pairs (the bound this package aims for); "
                 "on cuda torch.nn.LSTM is cuDNN's LSTM")
    for num, den, b_cpu, b_gpu in RATIOS:
        if not any(has(d, num) and has(d, den) for d in devs):
            continue
        cells = []
        for d, bound in zip(devs, (b_cpu, b_gpu)):
            if not (has(d, num) and has(d, den)):
                cells.append("-")
                continue
            pair = results[d].get("ratios", {}).get(f"{num}/{den}")
            r = pair["ratio"] if pair else (results[d]["times"][num]["ms"]
                                            / results[d]["times"][den]["ms"])
            if bound is None:
                verdict = ""
            elif not results[d].get("targets_apply", True):
                verdict = f" (<={bound:g} at full size)"
            else:
                verdict = f" (<={bound:g} ok)" if r <= bound else f" (<={bound:g} MISSED)"
            cells.append(f"{r:.2f}{verdict}")
        row(f"  {LABELS[num]} / {LABELS[den]}", cells)
    if any("matmul_ms" in results[d] for d in devs if d in results):
        lines.append("of which inside matrix multiplies (profiled once), ms")
        for name in names:
            row(f"  {LABELS[name]}", [f"{results[d]['matmul_ms'][name]:.1f}"
                                      if has(d, name) and "matmul_ms" in results[d]
                                      else "-" for d in devs])
        lines.append("floor: the fast version's matrix multiplies alone / the other's whole step")
        for num, den in (("FastLSTM", "torch.nn.LSTM"), ("FastHyperLSTM", "HyperLSTM")):
            if not any(has(d, num) and has(d, den) for d in devs):
                continue
            row(f"  {LABELS[num]} / {LABELS[den]}",
                [f"{results[d]['matmul_ms'][num] / results[d]['times'][den]['ms']:.2f}"
                 if has(d, num) and has(d, den) and "matmul_ms" in results[d] else "-"
                 for d in devs])
    mem_dev = [d for d in devs if d in results and results[d]["memory"]]
    if mem_dev:
        mem_names = list(dict.fromkeys(n for d in mem_dev for n in results[d]["memory"]))
        steps = {results[d]["mem_steps"] for d in mem_dev}
        lines.append(f"peak memory of a training step, T={'/'.join(map(str, sorted(steps)))}, MiB "
                     "(cpu: max RSS growth, fresh process; cuda: allocator peak)")
        for name in mem_names:
            row(f"  {LABELS.get(name, name)}", [f"{results[d]['memory'][name]:.0f}"
                                                 if d in mem_dev and name in results[d]["memory"]
                                                 else "-" for d in devs])
    return "\n".join(lines)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from . import __doc__ as doc

    p = argparse.ArgumentParser(prog="python -m lstm_edu.bench", description=doc.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes, 2 repeats and 1 CPU thread unless --threads says otherwise: "
                        "runs in seconds (for tests)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed rounds per model (default 5; quick 2)")
    p.add_argument("--steps", type=int, default=None, help="sequence length T (default 100)")
    p.add_argument("--batch", type=int, default=None,
                   help="batch size (default 32 on cpu, 64 on cuda)")
    p.add_argument("--hidden", type=int, default=None,
                   help="hidden size (default 256 on cpu, 512 on cuda)")
    p.add_argument("--models", default=",".join(MODELS),
                   help=f"comma-separated models to time (default: all of {','.join(MODELS)})")
    p.add_argument("--mem-steps", type=int, default=None,
                   help="sequence length of the peak-memory step (default 2000; quick 50; "
                        "0 skips it)")
    p.add_argument("--mem-models", default="torch.nn.LSTM,LSTM,FastLSTM,FastHyperLSTM",
                   help="comma-separated models whose peak memory is measured (the reference "
                        "HyperLSTM is left out by default: at T=2000 it takes minutes on a CPU)")
    p.add_argument("--device", choices=("all", "cpu", "cuda"), default="all",
                   help="where to run (default: all present)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads for the CPU runs")
    p.add_argument("--no-profile", dest="profile", action="store_false",
                   help="skip the profiled step that measures each model's time inside matrix "
                        "multiplies")
    p.add_argument("--json", action="store_true", help="print the results as JSON after the table")
    p.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--pair-child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--sizes-json", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    unknown = [m for m in args.models.split(",") if m not in MODELS]
    if unknown:
        p.error(f"--models: unknown {', '.join(unknown)}; expected some of {', '.join(MODELS)}")
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    if args.mem_steps is None:
        args.mem_steps = 50 if args.quick else 2000
    if args.quick and args.threads is None:
        args.threads = 1  # tiny tensors: a second thread only adds waiting (badly so when busy)
    return args


def main(argv: Optional[List[str]] = None) -> Dict[str, dict]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.pair_child:  # one pair, timed in this fresh process: JSON on the last line
        dev = torch.device(args.device if args.device != "all" else "cpu")
        a, b = args.pair_child.split(",")
        print(json.dumps(time_pair_here(a, b, Sizes(**json.loads(args.sizes_json)), dev,
                                        args.repeats)))
        return {}
    if args.memory_child:
        dev = torch.device(args.device if args.device != "all" else "cpu")
        print(peak_memory_here(args.memory_child, Sizes(**json.loads(args.sizes_json)), dev))
        return {}
    print(f"lstm_edu.bench: torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"{args.repeats} timed repeats (+1 warm-up), interleaved; spread = (max - min) / median",
          flush=True)
    results = run(args)
    for d, res in results.items():
        line = f"fast layers' time loops on {d}: {res['loops']}"
        if res.get("build_seconds") is not None and "compiled" in res["loops"]:
            line += " (not in the step times)"
        print(line)
    print(format_table(results))
    if args.json:
        print(json.dumps(results))
    return results
