"""`python -m lstm_edu.bench --quick` runs and prints the table (its format, not its timings)."""

import re
import subprocess
import sys

import pytest

from lstm_edu import bench


def test_quick_benchmark_prints_the_table():
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "lstm_edu.bench",
            "--quick",
            "--threads",
            "1",
            "--device",
            "cpu",
            "--mem-models",
            "torch.nn.LSTM,FastLSTM",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.startswith("lstm_edu.bench:")
    header = next(line for line in out.splitlines() if line.startswith("device"))
    assert "cpu" in header and "cuda" in header  # side by side, cuda "(none)" without a GPU
    for name in bench.MODELS:
        line = next(
            line for line in out.splitlines() if line.strip().startswith(bench.LABELS[name] + " ")
        )
        assert re.search(r"\d+\.\d \(\d+%\)", line), line
    for num, den, *_ in bench.RATIOS:
        label = f"{bench.LABELS[num]} / {bench.LABELS[den]}"
        line = next(line for line in out.splitlines() if line.strip().startswith(label))
        assert re.search(r"\d+\.\d\d", line), line
    profiled = out.split("inside matrix multiplies")[1].split("floor:")[0].splitlines()[1:]
    assert all(re.fullmatch(r"\d+\.\d", line.split()[-2]) for line in profiled), profiled
    assert len(profiled) == len(bench.MODELS)
    floor = out.split("floor:")[1].splitlines()[1:3]
    assert floor[0].strip().startswith("FastLSTM / torch.nn.LSTM"), floor
    assert floor[1].strip().startswith("FastHyperLSTM / HyperLSTM (reference)"), floor
    assert all(re.fullmatch(r"\d+\.\d\d", line.split()[-2]) for line in floor), floor
    assert "peak memory of a training step, T=50" in out
    mem = out.split("peak memory")[1].splitlines()[1:]
    assert [m.split()[0] for m in mem] == ["torch.nn.LSTM", "FastLSTM"]
    assert all(re.fullmatch(r"-?\d+", m.split()[1]) for m in mem)


def test_table_shows_gpu_column_side_by_side():
    """The GPU column is formatted like the CPU one (checked without a GPU, on made-up numbers)."""
    times = {name: {"ms": 10.0 + k, "spread": 0.05, "n": 3} for k, name in enumerate(bench.MODELS)}
    sizes = bench.asdict(bench.QUICK_SIZES)
    results = {
        d: {"sizes": sizes, "times": times, "memory": {"FastLSTM": 12.0}, "mem_steps": 50}
        for d in ("cpu", "cuda")
    }
    table = bench.format_table(results)
    line = next(
        line for line in table.splitlines() if line.strip().startswith("FastLSTM / torch.nn.LSTM")
    )
    assert line.count("1.20 (<=") == 2  # 12 ms / 10 ms on both devices
    assert "(none)" not in table


def test_parse_args_quick_defaults():
    args = bench.parse_args(["--quick"])
    assert args.repeats == 2 and args.mem_steps == 50 and args.threads == 1
    args = bench.parse_args([])
    assert args.repeats == 5 and args.mem_steps == 2000


def test_profile_helpers():
    import torch

    s = bench.QUICK_SIZES
    model = bench.build("FastLSTM", s, torch.device("cpu"))
    x = torch.randn(s.n_steps, s.batch_size, s.input_size)
    averages = bench.profile_step(lambda: bench.training_step(model, x), torch.device("cpu"))
    mat, rest, calls = bench.split_profile(averages)
    assert mat > 0 and rest >= 0 and calls > 0


@pytest.mark.parametrize("steps", [0, 17])
def test_split_profile_counts_the_fast_loops_matmuls(steps):
    """FastLSTM's loops multiply once per step forward and once back (the compiled loops'
    ``panel_mm``, or ``torch.mm``), and add its weight gradients in place (``addmm_``): all of it
    is matmul time. At the quick sizes, and for a few steps at the benchmark's (``steps``),
    where the compiled loops use ``panel_mm`` on a machine with MKL."""
    import dataclasses

    import torch

    s = (bench.QUICK_SIZES if steps == 0
         else dataclasses.replace(bench.CPU_SIZES, n_steps=steps))
    model = bench.build("FastLSTM", s, torch.device("cpu"))
    x = torch.randn(s.n_steps, s.batch_size, s.input_size)
    averages = bench.profile_step(lambda: bench.training_step(model, x), torch.device("cpu"))
    per_step = [e for e in averages if e.key in ("lstm_edu::panel_mm", "aten::mm")]
    in_place = [e for e in averages if e.key == "aten::addmm_"]
    assert sum(e.count for e in per_step) >= 2 * s.n_layers * s.n_steps
    assert in_place and in_place[0].count >= s.n_layers
    mat, _, _ = bench.split_profile(averages)
    assert mat * 1e3 >= (sum(e.self_cpu_time_total for e in per_step)
                         + in_place[0].self_cpu_time_total)


def test_a_ratio_is_the_median_of_its_rounds_ratios(monkeypatch):
    """``time_pairs`` times each pair on its own and takes the median over the rounds of the
    two times' ratio (here 1.5), not the ratio of the two medians (here 2)."""
    import torch

    from lstm_edu.bench import timing

    def fake_time_steps(steps, repeats, device, warmup=1, settle=1):
        a, b = steps
        return {a: [1.0, 2.0, 3.0], b: [1.0, 1.0, 2.0]}

    monkeypatch.setattr(timing, "time_steps", fake_time_steps)
    times, ratios = timing.time_pairs(bench.QUICK_SIZES, torch.device("cpu"), 3,
                                      [("FastLSTM", "torch.nn.LSTM")])
    assert ratios["FastLSTM/torch.nn.LSTM"]["ratio"] == 1.5
    assert times["FastLSTM"]["ms"] == 2000.0 and times["torch.nn.LSTM"]["ms"] == 1000.0


def test_the_table_prints_the_pairs_ratio():
    results = bench.run(bench.parse_args(["--quick", "--mem-steps", "0", "--no-profile",
                                          "--models", "torch.nn.LSTM,FastLSTM",
                                          "--device", "cpu"]))
    r = results["cpu"]["ratios"]["FastLSTM/torch.nn.LSTM"]["ratio"]
    assert f"{r:.2f}" in bench.format_table(results).split("FastLSTM / torch.nn.LSTM")[1]
